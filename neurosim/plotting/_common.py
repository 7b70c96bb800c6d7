"""Shared helpers of neurosim.plotting: lazy matplotlib import and run resolution."""
from __future__ import annotations

import os
import sys


def pyplot():
    """Import matplotlib.pyplot on first use, choosing Agg when there is no display."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("neurosim.plotting needs matplotlib; install it with: "
                          "pip install 'neurosim[plot]'") from None
    headless = (sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
                and not os.environ.get("WAYLAND_DISPLAY"))
    if headless and "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def as_run(run):
    """Accept a Run, a Results (its latest run) or a path to a results file (its latest run)."""
    from neurosim.results import Results, Run, load
    if isinstance(run, Run):
        return run
    if isinstance(run, Results):
        return run.latest
    if isinstance(run, (str, os.PathLike)):
        return load(run).latest
    raise TypeError(f"expected a neurosim.results Run, Results or path, not {type(run).__name__}")


def new_axes(ax, **subplots_kw):
    """Return ``(figure, ax)``: the given Axes and its figure, or a new single-panel figure."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = pyplot().subplots(**subplots_kw)
    return fig, ax
