"""``run.to_neo()``: one run as a ``neo.Block`` for Elephant and the Neo ecosystem.

The Block has one Segment holding

* one ``SpikeTrain`` per neuron (silent ones included), times in ms, ``t_start = 0``,
  ``t_stop`` = the run's ``duration_ms``, annotated with ``population``, ``node_id`` and,
  where the run stored its node table, ``excitatory`` and ``a, b, c, d, bias, noise_sigma``;
* one ``AnalogSignal`` per recorded series (``rate`` in Hz, readouts ``z``/``z0``/``target``
  dimensionless), ``sampling_period = decimation * dt``, column names in
  ``array_annotations["channel_names"]`` (``when``, ``what_A``, ...);
* the trial table as an ``Epoch`` ``trials`` (start and duration of every trial, every
  column in ``array_annotations``, times in ms) and ``Event``s ``cue`` (labels: cue index)
  and ``stimulus`` (stimulus trials only; labels: identity).
"""
from __future__ import annotations

import numpy as np

from . import need


def _signal_units(pq, units: str):
    if units == "Hz":
        return pq.Hz
    if units == "mV":
        return pq.mV
    return pq.dimensionless


def to_neo(run, spikes: bool = True, series: bool = True, trials: bool = True):
    """A ``neo.Block`` of ``run`` (a ``neurosim.results.Run``); see the module docstring."""
    neo = need("neo", "Run.to_neo()")
    pq = need("quantities", "Run.to_neo()")
    duration = float(run.attrs.get("duration_ms", 0.0))
    block = neo.Block(name=run.id, description=f"neurosim {run.kind} run",
                      kind=run.kind, seed=run.attrs.get("seed"), dt_ms=run.dt_ms,
                      complete=run.complete, file_origin=str(run.path))
    seg = neo.Segment(name=run.id)
    block.segments.append(seg)
    if spikes:
        for p in run.populations:
            s = run.spikes(p)
            stop = max(duration, float(s.t.max(initial=0.0)) + run.dt_ms)
            table = run.nodes(p) if p in run.node_populations else {}
            for node, times in s.spike_trains().items():
                ann = {"population": p, "node_id": int(node)}
                for k, v in table.items():
                    ann[k] = bool(v[node]) if k == "excitatory" else float(v[node])
                seg.spiketrains.append(neo.SpikeTrain(times, units=pq.ms, t_start=0.0 * pq.ms,
                                                      t_stop=stop * pq.ms,
                                                      name=f"{p}:{node}", **ann))
    if series:
        for name in run.series_names:
            values = run.series(name)
            values = values.reshape(values.shape[0], -1)
            step = run.series_decimation(name) * run.dt_ms
            cols = run.series_columns(name)
            seg.analogsignals.append(neo.AnalogSignal(
                values, units=_signal_units(pq, run.series_units(name)),
                sampling_period=step * pq.ms, t_start=0.0 * pq.ms, name=name,
                array_annotations={"channel_names": np.array(cols)}))
    if trials and run.trial_columns:
        table = run.trial_table("ms")
        if "start_ms" in table and "duration_ms" in table:
            start = table["start_ms"]
            ann = {k: np.asarray(v) for k, v in table.items()}
            seg.epochs.append(neo.Epoch(start * pq.ms, durations=table["duration_ms"] * pq.ms,
                                        labels=np.array([f"trial {k}" for k in range(start.size)]),
                                        name="trials", array_annotations=ann))
            if "cue_ms" in table:
                cue = table.get("cue", np.zeros(start.size, int))
                seg.events.append(neo.Event((start + table["cue_ms"]) * pq.ms, name="cue",
                                            labels=np.array([str(c) for c in cue])))
            if "stim_ms" in table:
                on = ~np.isnan(table["stim_ms"])
                ident = table.get("identity", np.zeros(start.size, int))[on]
                seg.events.append(neo.Event((start[on] + table["stim_ms"][on]) * pq.ms,
                                            name="stimulus",
                                            labels=np.array([str(k) for k in ident])))
    return block
