"""pandas and xarray views of a run: every table has named columns and one time unit, said
in the column names (``time_ms`` or ``time_s``, ``latency_ms``, ``rate_hz``).

``Run.to_pandas(what)`` and ``Run.to_xarray()`` call these (``pip install 'neurosim[io]'``).
"""
from __future__ import annotations

import numpy as np

from . import need

WHATS = ("spikes", "series", "trials", "nodes")
TIME_UNITS = {"ms": 1.0, "s": 1000.0}


def _unit(time_unit):
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit={time_unit!r}: choose 'ms' or 's'")
    return TIME_UNITS[time_unit]


def spikes_frame(run, population: str = "all", time_unit: str = "ms"):
    """One row per spike, in time order: ``time_<unit>``, ``population``, ``node_id``
    (population-local) and, with a stored node table, ``excitatory``."""
    pd = need("pandas", "Run.to_pandas()")
    per = _unit(time_unit)
    pops = run.populations if population == "all" else [population]
    frames = []
    for p in pops:
        s = run.spikes(p)
        cols = {f"time_{time_unit}": s.t / per, "population": p, "node_id": s.i}
        if p in run.node_populations:
            cols["excitatory"] = run.nodes(p)["excitatory"][s.i]
        frames.append(pd.DataFrame(cols))
    if not frames:
        return pd.DataFrame({f"time_{time_unit}": [], "population": [], "node_id": []})
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(f"time_{time_unit}", kind="stable", ignore_index=True)


def _column_label(name, column, units):
    label = column if column.startswith(name) else f"{name}_{column}"
    label = label.replace("[", "_").replace("]", "")
    return f"{label}_{units.lower()}" if units else label


def _series_names(run, names):
    """``names`` (default: every series of the run), each checked to exist; never empty."""
    names = list(run.series_names if names is None else names)
    for n in names:
        run._need(n, run.series_names, "series")
    if not names:
        raise ValueError(f"run {run.id!r} records no series")
    return names


def series_frame(run, names=None, time_unit: str = "ms"):
    """Per-step series side by side, indexed by ``time_<unit>``.

    Columns ``<series>_<column>`` (``z0_when``, ``z0_what_A``, ``target_when``, ``gate``)
    and, for series with units, the unit as a suffix (``rate_hz``). Every series shown must
    share one decimation (a ValueError names those that differ).
    """
    pd = need("pandas", "Run.to_pandas()")
    per = _unit(time_unit)
    names = _series_names(run, names)
    decs = {n: run.series_decimation(n) for n in names}
    if len(set(decs.values())) > 1:
        raise ValueError(f"series of different decimations cannot share a table: {decs}; "
                         "pass names= of one decimation")
    cols, length = {}, None
    for n in names:
        values = run.series(n)
        values = values.reshape(values.shape[0], -1)
        length = values.shape[0] if length is None else min(length, values.shape[0])
        units = run.series_units(n)
        for k, c in enumerate(run.series_columns(n)):
            cols[_column_label(n, c, units)] = values[:, k]
    times = run.series_times(names[0])
    frame = pd.DataFrame({k: v[:length] for k, v in cols.items()},
                         index=pd.Index(times[:length] / per, name=f"time_{time_unit}"))
    return frame


def series_dataset(run, names=None, time_unit: str = "ms"):
    """The per-step series as an ``xarray.Dataset``: one variable per series, dims
    ``(time_<unit>, <series>_column)`` with the column names as labels (``when``, ``what_A``)
    and the series' unit in ``attrs["units"]``; series may have different decimations (each
    gets its own time coordinate ``time_<unit>_<series>`` when they differ)."""
    xr = need("xarray", "Run.to_xarray()")
    per = _unit(time_unit)
    names = _series_names(run, names)
    decs = {n: run.series_decimation(n) for n in names}
    shared = len(set(decs.values())) == 1
    variables, coords = {}, {}
    for n in names:
        values = run.series(n)
        values = values.reshape(values.shape[0], -1)
        tdim = f"time_{time_unit}" if shared else f"time_{time_unit}_{n}"
        times = run.series_times(n)[:values.shape[0]] / per
        cdim = f"{n}_column"
        coords[tdim] = times
        coords[cdim] = list(run.series_columns(n))
        variables[n] = xr.DataArray(values[:times.shape[0]], dims=(tdim, cdim),
                                    attrs={"units": run.series_units(n) or "1"})
    return xr.Dataset(variables, coords=coords, attrs={"run": run.id})


def trials_frame(run, time_unit: str = "ms"):
    """The trial table with every time in ``time_unit`` (``Run.trial_table``): ``cue_ms``,
    ``stim_ms`` (within the trial; NaN without a stimulus), ``start_ms``, ``duration_ms``,
    ``latency_ms``, ... and the other columns as stored."""
    pd = need("pandas", "Run.to_pandas()")
    return pd.DataFrame(run.trial_table(time_unit))


def nodes_frame(run, population=None):
    """The node table, one row per neuron (index ``node_id``): ``excitatory``, ``a``, ``b``,
    ``c`` (mV), ``d``, ``bias``, ``noise_sigma``."""
    pd = need("pandas", "Run.to_pandas()")
    table = run.nodes(population)
    n = len(next(iter(table.values()))) if table else 0
    return pd.DataFrame(table, index=pd.Index(np.arange(n), name="node_id"))


def to_pandas(run, what: str = "spikes", **options):
    """``what``: one of :data:`WHATS`; ``options`` go to the frame's function."""
    if what not in WHATS:
        raise ValueError(f"to_pandas(what={what!r}): choose one of {', '.join(WHATS)}")
    return {"spikes": spikes_frame, "series": series_frame, "trials": trials_frame,
            "nodes": nodes_frame}[what](run, **options)
