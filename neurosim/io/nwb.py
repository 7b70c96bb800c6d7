"""NWB export: one run as a Neurodata Without Borders file (``pynwb``, the ``io`` extra).

What goes where (all times in seconds, NWB's unit):

* ``units``: one row per neuron, silent ones included, with ``spike_times`` and the node
  table as columns (``excitatory``, ``a``, ``b``, ``c``, ``d``, ``bias``, ``noise_sigma``,
  ``population``, ``node_id``);
* ``trials``: ``start_time``/``stop_time`` from the trial table's steps, the other columns as
  they are, times converted to seconds and named ``*_time`` (cue, stimulus: absolute) or
  ``*_s`` (durations such as ``latency_s``);
* ``processing/readouts``: every recorded series as a ``TimeSeries`` per column, named
  ``<series>_<column>`` (``z0_when``, ``z0_what_A``, ...), sampled at ``1 / (decimation dt)``;
  the population rate as ``rate`` in Hz;
* the resolved config (JSON) in ``notes``; the run id, kind, seed, backend in
  ``session_description`` and ``session_id``.
"""
from __future__ import annotations

import datetime
import json
import uuid
from pathlib import Path

import numpy as np

from . import need, pick_run

#: Trial-table columns given in steps *within a trial*: they become absolute times.
_IN_TRIAL = ("cue", "stim")


def _start_time(run) -> datetime.datetime:
    created = run.attrs.get("created")
    try:
        when = datetime.datetime.fromisoformat(created)
    except (TypeError, ValueError):
        when = datetime.datetime(1970, 1, 1)
    return when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)


def _description(run) -> str:
    return (f"neurosim {run.kind} run {run.id!r}: seed {run.attrs.get('seed')}, backend "
            f"{run.attrs.get('backend')}, dtype {run.attrs.get('dtype')}, dt {run.dt_ms} ms, "
            f"{run.attrs.get('duration_ms')} ms simulated"
            + ("" if run.complete else " (INCOMPLETE run)"))


def _add_units(nwb, run):
    populations = run.populations
    offsets, tables = {}, {}
    total = 0
    for p in populations:
        offsets[p] = total
        total += run.n_nodes(p)
        if p in run.node_populations:
            tables[p] = run.nodes(p)
    columns = [k for k in ("excitatory", "a", "b", "c", "d", "bias", "noise_sigma")
               if tables and all(k in t for t in tables.values())]
    if tables and len(tables) != len(populations):
        columns = []   # some population lacks a node table: the columns would be partial
    descriptions = {
        "excitatory": "True for an excitatory neuron",
        "a": "Izhikevich a (recovery time scale, 1/ms)", "b": "Izhikevich b (sensitivity of u)",
        "c": "Izhikevich c: reset potential (mV)", "d": "Izhikevich d: after-spike jump of u",
        "bias": "tonic input current", "noise_sigma": "std of the per-step noise current"}
    nwb.add_unit_column("population", "neurosim population of the neuron")
    nwb.add_unit_column("node_id", "population-local neuron index (SONATA node id)")
    for k in columns:
        nwb.add_unit_column(k, descriptions[k])
    for p in populations:
        trains = run.spikes(p).spike_trains()
        for node, times_ms in trains.items():
            row = {k: (bool(tables[p][k][node]) if k == "excitatory" else
                       float(tables[p][k][node])) for k in columns}
            nwb.add_unit(spike_times=np.asarray(times_ms) / 1000.0, population=p,
                         node_id=int(node), id=offsets[p] + int(node), **row)


def _add_trials(nwb, run):
    table = run.trial_table("s")
    if "start_s" not in table or "duration_s" not in table:
        return False
    start = table.pop("start_s")
    stop = start + table.pop("duration_s")
    extra = {}
    for k, v in table.items():
        base = k[:-2] if k.endswith("_s") else None
        if base in _IN_TRIAL:      # within-trial time -> absolute time in the session
            extra[f"{base}_time"] = (start + v, f"{base} onset (s from session start; NaN: none)")
        elif k.endswith("_s"):
            extra[k] = (v, f"{k[:-2]} (s)")
        else:
            extra[k] = (v, f"{k} (trial-table column)")
    for k, (v, doc) in extra.items():
        nwb.add_trial_column(k, doc)
    for r in range(start.size):
        row = {}
        for k, (v, _) in extra.items():
            x = v[r]
            row[k] = x.item() if isinstance(x, np.generic) else x
        nwb.add_trial(start_time=float(start[r]), stop_time=float(stop[r]), **row)
    return True


def _add_series(nwb, run, TimeSeries):
    if not run.series_names:
        return
    module = nwb.create_processing_module("readouts", "neurosim per-step series: readout "
                                          "outputs z, z0, targets, gate, population rate")
    for name in run.series_names:
        values = run.series(name)
        times = run.series_times(name)
        step_s = (times[1] - times[0]) / 1000.0 if times.size > 1 else run.dt_ms / 1000.0
        flat = values.reshape(values.shape[0], -1)
        units = run.series_units(name) or "a.u."
        cols = run.series_columns(name)
        for k, col in enumerate(cols):
            label = name if flat.shape[1] == 1 else f"{name}_{col}"
            label = label.replace("[", "_").replace("]", "").replace("/", "_")
            module.add(TimeSeries(name=label, data=flat[:, k], unit=units, rate=1.0 / step_s,
                                  starting_time=0.0,
                                  description=f"series {name!r}, column {col!r} ({units})"))


def to_nwbfile(run):
    """An in-memory ``pynwb.NWBFile`` of ``run`` (see the module docstring for the layout)."""
    pynwb = need("pynwb", "NWB export")
    nwb = pynwb.NWBFile(
        session_description=_description(run),
        identifier=str(uuid.uuid5(uuid.NAMESPACE_URL, f"neurosim:{run.path.resolve()}:{run.id}"
                                  f":{run.attrs.get('created')}")),
        session_start_time=_start_time(run), session_id=run.id,
        notes="neurosim resolved config (JSON): " + json.dumps(run.config, sort_keys=True),
        source_script="neurosim", source_script_file_name=f"neurosim run {run.kind}",
        timestamps_reference_time=_start_time(run))
    _add_units(nwb, run)
    _add_trials(nwb, run)
    _add_series(nwb, run, pynwb.TimeSeries)
    return nwb


def export_nwb(source, out=None, run_id=None) -> Path:
    """Write one run of a results file as an NWB file.

    Parameters
    ----------
    source : path of a results file, a ``Results`` or a ``Run``
    out : output file (default ``<file stem>_<run>.nwb`` beside the results file)
    run_id : run to export (default: the latest)

    Returns the path written.
    """
    pynwb = need("pynwb", "NWB export")
    run = pick_run(source, run_id)
    out = Path(out) if out is not None else run.path.with_name(f"{run.path.stem}_{run.id}.nwb")
    nwb = to_nwbfile(run)
    with pynwb.NWBHDF5IO(str(out), "w") as io:
        io.write(nwb)
    return out
