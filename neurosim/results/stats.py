"""Spike-train statistics of a run, in NumPy: firing rates, CV of inter-spike intervals, PSTHs.

These are neurosim's own numbers (plots and summaries use them); ``tests/test_io_neo.py``
checks each against Elephant on the same spikes.
"""
from __future__ import annotations

import numpy as np


def _window(spikes, t_start_ms, t_stop_ms):
    keep = (spikes.t >= t_start_ms) & (spikes.t < t_stop_ms)
    return spikes.i[keep], spikes.t[keep]


def firing_rates_hz(spikes, t_start_ms: float, t_stop_ms: float) -> np.ndarray:
    """Mean firing rate of every neuron (Hz) over ``[t_start_ms, t_stop_ms)``.

    ``spikes``: a spike record (``.i``, ``.t`` in ms, ``.n_neurons``). Returns (n_neurons,).
    """
    if not t_stop_ms > t_start_ms:
        raise ValueError(f"t_stop_ms = {t_stop_ms} must exceed t_start_ms = {t_start_ms}")
    i, _ = _window(spikes, t_start_ms, t_stop_ms)
    return np.bincount(i, minlength=spikes.n_neurons) / ((t_stop_ms - t_start_ms) / 1000.0)


def isi_ms(spikes) -> dict:
    """Inter-spike intervals (ms) of every neuron: ``{neuron: array (n_spikes - 1,)}``."""
    return {k: np.diff(t) for k, t in spikes.spike_trains().items()}


def cv_isi(spikes, min_intervals: int = 2) -> np.ndarray:
    """Coefficient of variation of the inter-spike intervals of every neuron, (n_neurons,):
    std / mean (population std, ddof = 0, as ``scipy.stats.variation``); NaN for neurons
    with fewer than ``min_intervals`` intervals."""
    out = np.full(spikes.n_neurons, np.nan)
    for k, isi in isi_ms(spikes).items():
        if isi.size >= min_intervals:
            out[k] = isi.std() / isi.mean()
    return out


def psth(spikes, event_times_ms, window_ms=(-200.0, 800.0), bin_ms: float = 20.0,
         neurons=None):
    """Event-aligned peri-stimulus time histogram of a population.

    Parameters
    ----------
    spikes : spike record (``.i``, ``.t`` in ms, ``.n_neurons``)
    event_times_ms : array (n_events,) -- alignment times (e.g. cue onsets), ms
    window_ms : (before, after) -- the window around each event, ms (bins ``[a, b)``)
    bin_ms : bin width, ms
    neurons : optional bool mask (n_neurons,) or index array: the neurons averaged

    Returns ``(edges_ms (n_bins + 1,), rate_hz (n_bins,))``: spikes per neuron per event per
    second in each bin, relative to the event.
    """
    lo, hi = map(float, window_ms)
    if not hi > lo or not bin_ms > 0:
        raise ValueError(f"psth: window_ms = {window_ms} must be (before, after) with after > "
                         f"before, and bin_ms = {bin_ms} > 0")
    n_bins = int(round((hi - lo) / bin_ms))
    edges = lo + bin_ms * np.arange(n_bins + 1)
    events = np.asarray(event_times_ms, dtype=np.float64).reshape(-1)
    sel = np.ones(spikes.n_neurons, bool) if neurons is None else np.zeros(spikes.n_neurons, bool)
    if neurons is not None:
        sel[np.asarray(neurons)] = True
    t = spikes.t[sel[spikes.i]]
    counts = np.zeros(n_bins, dtype=np.int64)
    for e in events:
        a, b = np.searchsorted(t, [e + edges[0], e + edges[-1]])
        counts += np.histogram(t[a:b] - e, edges)[0]
    denom = max(events.size, 1) * max(int(sel.sum()), 1) * bin_ms / 1000.0
    return edges, counts / denom
