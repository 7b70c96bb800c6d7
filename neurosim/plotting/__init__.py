"""Figures from neurosim results (matplotlib is imported only when a function runs).

Every function takes a ``Run`` (or ``Results``/path: its latest run) and ``ax=None``; it
returns the Axes it drew on, or a Figure for multi-panel plots. ``plot_file`` is what
``neurosim plot FILE --run ID --kind K --out F`` calls.
"""
from __future__ import annotations

from pathlib import Path

from ._common import pyplot
from .panels import accuracy_matrix, metrics, metrics_table, weight_norms, weights, \
    weights_over_learning
from .readouts import readouts
from .spikes import psth, raster, raster_with_rate, rate, spike_stats
from .summary import experiment_figure, summary

#: plot_file kinds -> function(run, **options); multi-panel ones return a Figure.
KINDS = {"raster": raster_with_rate, "raster-only": raster, "rate": rate, "psth": psth,
         "stats": spike_stats, "readouts": readouts, "weights": weights_over_learning,
         "weights-last": weights, "metrics": metrics, "overview": summary, "summary": summary}


def plot_file(path, run_id=None, kind="raster", out="fig.png", dpi=120, **options):
    """Draw one kind of figure for one run of a results file and save it.

    Parameters
    ----------
    path : results file
    run_id : run to plot (default: the latest; for ``summary``, the run ``main`` when the
        file has one, as the what/when experiment writes it)
    kind : one of ``KINDS``: raster (raster + rate in Hz), raster-only, rate, psth
        (cue-aligned raster + PSTH), stats (ISI, CV, rate histograms), readouts, weights
        (over the snapshots), weights-last, metrics, overview (raster, rate, readouts,
        weights, CV, criteria on one page), summary (the experiment's own summary figure,
        redrawn from the file, where its file holds what it needs, e.g. whatwhen.png;
        otherwise the overview)
    out : output image; the format follows its suffix (.png, .pdf, .svg)
    options : passed to the plotting function (e.g. ``t_range_ms=(0, 2000)``,
        ``bin_ms=10``); an option the kind does not take is a ValueError naming both

    Returns the output path.
    """
    import inspect
    from neurosim.results import load
    if kind not in KINDS:
        raise ValueError(f"unknown plot kind {kind!r}; choose one of: {', '.join(KINDS)}")
    results = load(path)
    if run_id is None and kind in ("summary", "overview") and "main" in results:
        run = results["main"]
    else:
        run = results.latest if run_id is None else results[run_id]
    if kind == "summary" and not options and experiment_figure(run, out):
        return Path(out)
    func = KINDS[kind]
    accepted = inspect.signature(func).parameters
    wrong = [k for k in options if k not in accepted]
    if wrong:
        raise ValueError(f"plot kind {kind!r} takes no option {', '.join(map(repr, wrong))}; "
                         f"its options: {', '.join(p for p in accepted if p != 'run')}")
    drawn = func(run, **options)
    from matplotlib.figure import Figure
    fig = drawn if isinstance(drawn, Figure) else drawn.figure
    out = Path(out)
    fig.savefig(out, dpi=dpi)
    pyplot().close(fig)
    return out


__all__ = ["raster", "rate", "raster_with_rate", "psth", "spike_stats", "readouts", "weights",
           "weights_over_learning", "weight_norms", "metrics", "metrics_table",
           "accuracy_matrix", "summary", "experiment_figure", "plot_file", "KINDS"]
