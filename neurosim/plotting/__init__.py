"""Figures from neurosim results (matplotlib is imported only when a function runs).

Every function takes a ``Run`` (or ``Results``/path: its latest run) and ``ax=None``; it
returns the Axes it drew on, or a Figure for multi-panel plots. ``plot_file`` is what
``neurosim plot FILE --run ID --kind K --out F`` calls.
"""
from __future__ import annotations

from pathlib import Path

from ._common import pyplot
from .panels import accuracy_matrix, metrics, metrics_table, weights
from .readouts import readouts
from .spikes import raster, raster_with_rate, rate

#: plot_file kinds -> function(run, **options); multi-panel ones return a Figure.
KINDS = {"raster": raster_with_rate, "raster-only": raster, "rate": rate,
         "readouts": readouts, "weights": weights, "metrics": metrics}


def plot_file(path, run_id=None, kind="raster", out="fig.png", dpi=120, **options):
    """Draw one kind of figure for one run of a results file and save it.

    Parameters
    ----------
    path : results file
    run_id : run to plot (default: the latest)
    kind : one of ``KINDS`` (raster, raster-only, rate, readouts, weights, metrics)
    out : output image; the format follows its suffix (.png, .pdf, .svg)
    options : passed to the plotting function (e.g. ``name=`` for weights)

    Returns the output path.
    """
    from neurosim.results import load
    if kind not in KINDS:
        raise ValueError(f"unknown plot kind {kind!r}; choose one of: {', '.join(KINDS)}")
    results = load(path)
    run = results.latest if run_id is None else results[run_id]
    drawn = KINDS[kind](run, **options)
    from matplotlib.figure import Figure
    fig = drawn if isinstance(drawn, Figure) else drawn.figure
    out = Path(out)
    fig.savefig(out, dpi=dpi)
    pyplot().close(fig)
    return out


__all__ = ["raster", "rate", "raster_with_rate", "readouts", "weights", "metrics",
           "metrics_table", "accuracy_matrix", "plot_file", "KINDS"]
