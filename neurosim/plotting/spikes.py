"""Spike raster, population rate (Hz), trial-aligned raster/PSTH, ISI/CV and rate histograms.

Excitatory neurons are drawn in red and inhibitory ones in blue wherever the run stores its
node table (format version 2). Rates are always spikes per neuron per second (Hz), binned
from the spikes with a bin width that is given or chosen for the window, so that the value
does not depend on N or dt. Long runs are drawn over a window (default: the last
``LAST_MS``), never as a solid block of marks.
"""
from __future__ import annotations

import numpy as np

from ._common import as_run, new_axes, pyplot

E_COLOR, I_COLOR, ALL_COLOR = "tab:red", "tab:blue", "k"
#: Default window of rasters and rate plots: the last 5 s of longer runs.
LAST_MS = 5000.0
#: Bins of an automatic bin width: at most this many over the window.
MAX_BINS = 1000


def excitatory_mask(run, population="all"):
    """E/I flag of every neuron of ``population`` ("all": populations in order), or None when
    a population has no stored node table (files of format version 1)."""
    pops = run.populations if population == "all" else [population]
    if not pops or any(p not in run.node_populations for p in pops):
        return None
    return np.concatenate([run.nodes(p)["excitatory"] for p in pops])


def resolve_window(run, t_range_ms="auto", last_ms: float = LAST_MS):
    """The time window to draw, ``(start_ms, stop_ms)``.

    ``"auto"``: the whole run when it is at most ``last_ms`` long, else its last ``last_ms``;
    ``None`` or ``"all"``: the whole run; a pair: that window (ms).
    """
    end = float(run.attrs.get("duration_ms", 0.0))
    if t_range_ms is None or t_range_ms == "all":
        return 0.0, end
    if isinstance(t_range_ms, str):
        if t_range_ms != "auto":
            raise ValueError(f"window {t_range_ms!r}: give (start_ms, stop_ms), 'auto' or 'all'")
        return (max(0.0, end - last_ms), end) if end > last_ms else (0.0, end)
    lo, hi = map(float, t_range_ms)
    if not hi > lo:
        raise ValueError(f"window ({lo}, {hi}) ms: the stop must exceed the start")
    return lo, hi


def auto_bin_ms(window_ms: float, dt_ms: float) -> float:
    """5 ms, or a coarser multiple of ``dt_ms`` so that the window has at most MAX_BINS bins."""
    width = max(5.0, window_ms / MAX_BINS)
    return float(np.ceil(width / dt_ms) * dt_ms)


def _title_window(lo, hi, end):
    return "" if lo <= 0 and hi >= end else f", {lo / 1000:.3g}-{hi / 1000:.3g} s"


def raster(run, ax=None, population="all", t_range_ms="auto", max_points=200_000,
           markersize=2.0, color=None):
    """Spike raster: one mark per spike at (time in ms, neuron index).

    Parameters
    ----------
    run : Run, Results or path
    population : str -- a population name, or "all" (merged, ids offset per population)
    t_range_ms : (float, float), "auto" (default: the last 5 s of longer runs) or "all"
    max_points : int -- above this many spikes, a seeded random subset is drawn (noted in
        the title)
    color : a colour for every mark; default: E red, I blue (one line each) when the run
        stores its node table, else black
    Returns the Axes.
    """
    run = as_run(run)
    spikes = run.spikes(population)
    lo, hi = resolve_window(run, t_range_ms)
    t, i = spikes.t, spikes.i
    keep = (t >= lo) & (t < hi) if hi > lo else np.ones(t.size, bool)
    t, i = t[keep], i[keep]
    title = f"{run.id}: {t.size} spikes{_title_window(lo, hi, float(run.attrs.get('duration_ms', 0)))}"
    if t.size > max_points:
        pick = np.sort(np.random.default_rng(0).choice(t.size, max_points, replace=False))
        t, i = t[pick], i[pick]
        title += f" ({max_points} shown)"
    fig, ax = new_axes(ax)
    exc = excitatory_mask(run, population) if color is None else None
    # dense rasters: thinner marks, so that a second of 1000 neurons is not a solid block
    style = dict(linestyle="none", marker="|", markersize=markersize,
                 markeredgewidth=1.0 if t.size <= 20_000 else 0.4)
    if exc is None:
        ax.plot(t, i, color=color or ALL_COLOR, **style)
    else:
        for flag, c, label in ((True, E_COLOR, "excitatory"), (False, I_COLOR, "inhibitory")):
            sel = exc[i] == flag
            ax.plot(t[sel], i[sel], color=c, label=label, **style)
        ax.legend(loc="upper right", fontsize="small", markerscale=3)
    ax.set_ylim(-0.5, max(spikes.n_neurons, 1) - 0.5)
    if hi > lo:
        ax.set_xlim(lo, hi)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    ax.set_title(title)
    return ax


def binned_rate(spikes, lo, hi, bin_ms, neurons=None):
    """Population rate in Hz (spikes per neuron per second) in bins of ``bin_ms`` over
    ``[lo, hi)`` ms: ``(left edges (n_bins,), rate (n_bins,))``; ``neurons``: bool mask."""
    n_bins = max(1, int(np.ceil((hi - lo) / bin_ms - 1e-9)))
    edges = lo + bin_ms * np.arange(n_bins + 1)
    t = spikes.t if neurons is None else spikes.t[neurons[spikes.i]]
    n = spikes.n_neurons if neurons is None else int(np.count_nonzero(neurons))
    counts, _ = np.histogram(t, edges)
    return edges[:-1], counts / (max(n, 1) * bin_ms / 1000.0)


def rate(run, ax=None, population="all", bin_ms=None, t_range_ms="auto", by_type=True):
    """Population firing rate in Hz per neuron vs time (ms), binned from the spikes.

    ``bin_ms``: bin width (default: 5 ms, coarser for long windows, at most MAX_BINS bins);
    ``by_type``: E (red) and I (blue) separately when the node table is stored, with the
    whole population in black. Returns the Axes.
    """
    run = as_run(run)
    fig, ax = new_axes(ax)
    spikes = run.spikes(population)
    lo, hi = resolve_window(run, t_range_ms)
    if not hi > lo:
        hi = lo + max(float(spikes.t.max(initial=0.0)) + run.dt_ms, run.dt_ms)
    if bin_ms is None:
        bin_ms = auto_bin_ms(hi - lo, run.dt_ms)
    elif not bin_ms > 0:
        raise ValueError(f"bin_ms = {bin_ms} must be > 0")
    groups = [(None, ALL_COLOR, "all")]
    exc = excitatory_mask(run, population) if by_type else None
    if exc is not None:
        groups = [(exc, E_COLOR, "excitatory"), (~exc, I_COLOR, "inhibitory")] + \
            [(None, ALL_COLOR, "all")]
    for mask, color, label in groups:
        left, hz = binned_rate(spikes, lo, hi, bin_ms, mask)
        ax.plot(left, hz, lw=1 if label != "all" or exc is None else 0.8, color=color,
                drawstyle="steps-post", label=f"{label} ({hz.mean():.2f} Hz)")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"rate (Hz per neuron, {bin_ms:g} ms bins)")
    ax.legend(fontsize="small", loc="upper right")
    return ax


def raster_with_rate(run, population="all", t_range_ms="auto", bin_ms=None, **raster_kw):
    """Two-panel Figure: raster above, population rate (Hz) below, over the same window."""
    run = as_run(run)
    fig, (top, bottom) = pyplot().subplots(2, 1, sharex=True, figsize=(8, 6),
                                            gridspec_kw=dict(height_ratios=(3, 1)))
    raster(run, ax=top, population=population, t_range_ms=t_range_ms, **raster_kw)
    top.set_xlabel("")
    rate(run, ax=bottom, population=population, bin_ms=bin_ms, t_range_ms=t_range_ms)
    fig.tight_layout()
    return fig


def cue_times_ms(run, cue_column=None):
    """Absolute cue onsets (ms) from the trial table, or None without a cue column."""
    from .readouts import cue_steps
    steps = cue_steps(run.trials(), run.dt_ms, cue_column)
    return None if steps is None else steps * run.dt_ms


def psth(run, population="all", window_ms=(-200.0, 1000.0), bin_ms=20.0, cue_column=None,
         max_points=100_000):
    """Trial-aligned raster and PSTH around every cue (time 0): a two-panel Figure.

    Top: the spikes of every trial, each trial a band of rows (neuron index scaled into
    it), E red and I blue; bottom: the PSTH in Hz per neuron (E, I, all), from
    :func:`neurosim.results.stats.psth`.
    """
    from neurosim.results.stats import psth as psth_hz
    run = as_run(run)
    cues = cue_times_ms(run, cue_column)
    if cues is None or cues.size == 0:
        raise ValueError(f"run {run.id!r} has no trials with a cue column (cue_step, cue_ms, "
                         "...): a trial-aligned PSTH needs one; use --kind raster")
    spikes = run.spikes(population)
    lo, hi = map(float, window_ms)
    exc = excitatory_mask(run, population)
    fig, (top, bottom) = pyplot().subplots(2, 1, sharex=True, figsize=(8, 6),
                                            gridspec_kw=dict(height_ratios=(2, 1)))
    rel, row, kind = [], [], []
    for k, c in enumerate(cues):
        a, b = np.searchsorted(spikes.t, [c + lo, c + hi])
        rel.append(spikes.t[a:b] - c)
        row.append(k + spikes.i[a:b] / max(spikes.n_neurons, 1))
        kind.append(spikes.i[a:b])
    rel, row, ids = np.concatenate(rel), np.concatenate(row), np.concatenate(kind)
    if rel.size > max_points:
        pick = np.sort(np.random.default_rng(0).choice(rel.size, max_points, replace=False))
        rel, row, ids = rel[pick], row[pick], ids[pick]
    if exc is None:
        top.plot(rel, row, ls="none", marker=",", color=ALL_COLOR)
    else:
        for flag, c in ((True, E_COLOR), (False, I_COLOR)):
            sel = exc[ids] == flag
            top.plot(rel[sel], row[sel], ls="none", marker=",", color=c)
    top.set_ylabel("trial (neurons within)")
    top.set_ylim(0, cues.size)
    top.set_title(f"{run.id}: {cues.size} trials aligned on the cue")
    groups = [(None, ALL_COLOR, "all")]
    if exc is not None:
        groups = [(exc, E_COLOR, "excitatory"), (~exc, I_COLOR, "inhibitory")] + groups
    for mask, color, label in groups:
        edges, hz = psth_hz(spikes, cues, (lo, hi), bin_ms, neurons=mask)
        bottom.plot(edges[:-1], hz, drawstyle="steps-post", color=color, label=label, lw=1)
    for a in (top, bottom):
        a.axvline(0.0, color="0.5", lw=0.8)
    bottom.set_xlim(lo, hi)
    bottom.set_xlabel("time from cue (ms)")
    bottom.set_ylabel(f"rate (Hz per neuron, {bin_ms:g} ms bins)")
    bottom.legend(fontsize="small")
    fig.tight_layout()
    return fig


def spike_stats(run, population="all", bins=40):
    """Three histograms over neurons (E red, I blue): inter-spike intervals (ms, log
    scale), CV of ISI (neurons with >= 2 intervals) and firing rate (Hz over the run)."""
    from neurosim.results.stats import cv_isi, firing_rates_hz, isi_ms
    run = as_run(run)
    spikes = run.spikes(population)
    end = max(float(run.attrs.get("duration_ms", 0.0)), float(spikes.t.max(initial=0.0)) + run.dt_ms)
    exc = excitatory_mask(run, population)
    groups = [(np.ones(spikes.n_neurons, bool), ALL_COLOR, "all")] if exc is None else \
        [(exc, E_COLOR, "excitatory"), (~exc, I_COLOR, "inhibitory")]
    isis = isi_ms(spikes)
    cv = cv_isi(spikes)
    rates = firing_rates_hz(spikes, 0.0, end)
    fig, axes = pyplot().subplots(1, 3, figsize=(13, 3.8))
    all_isi = np.concatenate([v for v in isis.values()] or [np.zeros(0)])
    positive = all_isi[all_isi > 0]
    isi_edges = (np.geomspace(positive.min(), positive.max() * 1.0001, bins + 1)
                 if positive.size > 1 else bins)
    for mask, color, label in groups:
        idx = np.flatnonzero(mask)
        isi = np.concatenate([isis[k] for k in idx] or [np.zeros(0)])
        axes[0].hist(isi[isi > 0], bins=isi_edges, histtype="step", color=color, label=label)
        c = cv[idx][np.isfinite(cv[idx])]
        axes[1].hist(c, bins=bins, histtype="step", color=color,
                     label=f"{label}: median {np.median(c):.2f}" if c.size else label)
        r = rates[idx]
        axes[2].hist(r, bins=bins, histtype="step", color=color,
                     label=f"{label}: mean {r.mean():.2f} Hz" if r.size else label)
    axes[0].set(xscale="log", xlabel="inter-spike interval (ms)", ylabel="intervals")
    axes[1].set(xlabel="CV of ISI", ylabel="neurons")
    axes[2].set(xlabel=f"firing rate (Hz, over {end / 1000:.3g} s)", ylabel="neurons")
    for a in axes:
        a.legend(fontsize="small")
    fig.suptitle(f"{run.id}: {spikes.n_neurons} neurons, {spikes.num_spikes} spikes")
    fig.tight_layout()
    return fig
