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
    """The units table, built from whole arrays: one ragged ``spike_times`` column (flat
    times in s, grouped by neuron, with its index) and one column per node-table entry.
    Appending unit by unit would make hdmf check millions of Python floats one by one."""
    from hdmf.backends.hdf5 import H5DataIO
    from hdmf.common import ElementIdentifiers, VectorData, VectorIndex
    from pynwb.misc import Units
    populations = run.populations
    tables = {p: run.nodes(p) for p in populations if p in run.node_populations}
    columns = [k for k in ("excitatory", "a", "b", "c", "d", "bias", "noise_sigma")
               if len(tables) == len(populations) and tables
               and all(k in t for t in tables.values())]
    times, ends, pops, nodes, extra = [], [], [], [], {k: [] for k in columns}
    total = 0
    for p in populations:
        s = run.spikes(p)
        order = np.lexsort((s.t, s.i))               # by neuron, then time
        times.append(s.t[order] / 1000.0)
        counts = np.bincount(s.i, minlength=s.n_neurons)
        ends.append(total + np.cumsum(counts))
        total += int(counts.sum())
        pops.extend([p] * s.n_neurons)
        nodes.append(np.arange(s.n_neurons))
        for k in columns:
            extra[k].append(np.asarray(tables[p][k]))
    flat = np.concatenate(times) if times else np.zeros(0)
    n = len(pops)
    spike_times = VectorData(name="spike_times", description="spike times (s) of each unit",
                             data=H5DataIO(flat, compression="gzip") if flat.size else flat)
    index = VectorIndex(name="spike_times_index", target=spike_times,
                        data=np.concatenate(ends).astype(np.int64) if ends else np.zeros(0, np.int64))
    cols = [spike_times, index,
            VectorData(name="population", description="neurosim population of the neuron",
                       data=pops),
            VectorData(name="node_id", description="population-local neuron index "
                       "(SONATA node id)", data=np.concatenate(nodes).astype(np.int64))]
    for k in columns:
        cols.append(VectorData(name=k, description=_UNIT_COLUMNS[k],
                               data=np.concatenate(extra[k])))
    nwb.units = Units(name="units", description="every simulated neuron, silent ones included",
                      id=ElementIdentifiers(name="id", data=np.arange(n)), columns=cols,
                      colnames=[c.name for c in cols if c.name != "spike_times_index"])


_UNIT_COLUMNS = {
    "excitatory": "True for an excitatory neuron",
    "a": "Izhikevich a (recovery time scale, 1/ms)", "b": "Izhikevich b (sensitivity of u)",
    "c": "Izhikevich c: reset potential (mV)", "d": "Izhikevich d: after-spike jump of u",
    "bias": "tonic input current", "noise_sigma": "std of the per-step noise current"}


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
    from hdmf.backends.hdf5 import H5DataIO
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
            data = np.ascontiguousarray(flat[:, k])
            module.add(TimeSeries(name=label, data=H5DataIO(data, compression="gzip"),
                                  unit=units, rate=1.0 / step_s,
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
