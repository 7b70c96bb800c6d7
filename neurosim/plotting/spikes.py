"""Spike raster and population rate."""
from __future__ import annotations

import numpy as np

from ._common import as_run, new_axes, pyplot


def raster(run, ax=None, population="all", t_range_ms=None, max_points=200_000,
           markersize=2.0, color="k"):
    """Spike raster: one mark per spike at (time in ms, neuron index).

    Parameters
    ----------
    run : Run, Results or path
    population : str -- a population name, or "all" (merged, ids offset per population)
    t_range_ms : (float, float), optional -- time window to show (ms)
    max_points : int -- above this many spikes, a seeded random subset is drawn (noted in
        the title) so that rasters of long runs stay quick
    Returns the Axes; its single Line2D holds the spikes drawn.
    """
    run = as_run(run)
    spikes = run.spikes(population)
    t, i = spikes.t, spikes.i
    if t_range_ms is not None:
        keep = (t >= t_range_ms[0]) & (t < t_range_ms[1])
        t, i = t[keep], i[keep]
    title = f"{run.id}: {t.size} spikes"
    if t.size > max_points:
        pick = np.sort(np.random.default_rng(0).choice(t.size, max_points, replace=False))
        t, i = t[pick], i[pick]
        title += f" ({max_points} shown)"
    fig, ax = new_axes(ax)
    ax.plot(t, i, linestyle="none", marker="|", markersize=markersize, color=color)
    ax.set_ylim(-0.5, max(spikes.n_neurons, 1) - 0.5)
    if t_range_ms is not None:
        ax.set_xlim(*t_range_ms)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    ax.set_title(title)
    return ax


def rate(run, ax=None, population="all", bin_ms=5.0):
    """Population firing rate (Hz per neuron) vs time (ms).

    Uses the recorded series ``rate`` when present (and ``population="all"``); otherwise
    bins the spikes in ``bin_ms`` windows. Returns the Axes.
    """
    run = as_run(run)
    fig, ax = new_axes(ax)
    if population == "all" and "rate" in run.series_names:
        values = run.series("rate").reshape(len(run.series_times("rate")), -1)
        for col in values.T:
            ax.plot(run.series_times("rate"), col, lw=1)
    else:
        spikes = run.spikes(population)
        end = max(float(run.attrs.get("duration_ms", 0)), float(spikes.t.max(initial=0)))
        edges = np.arange(max(1, int(np.ceil(end / bin_ms))) + 1) * bin_ms
        counts, _ = np.histogram(spikes.t, edges)
        hz = counts / (max(spikes.n_neurons, 1) * bin_ms * 1e-3)
        ax.plot(edges[:-1], hz, lw=1, color="C0", drawstyle="steps-post")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("rate (Hz)")
    return ax


def raster_with_rate(run, population="all", t_range_ms=None, bin_ms=5.0, **raster_kw):
    """Two-panel Figure: raster above, population rate below (shared time axis)."""
    run = as_run(run)
    fig, (top, bottom) = pyplot().subplots(2, 1, sharex=True, figsize=(8, 6),
                                            gridspec_kw=dict(height_ratios=(3, 1)))
    raster(run, ax=top, population=population, t_range_ms=t_range_ms, **raster_kw)
    top.set_xlabel("")
    rate(run, ax=bottom, population=population, bin_ms=bin_ms)
    if t_range_ms is not None:
        bottom.set_xlim(*t_range_ms)
    fig.tight_layout()
    return fig
