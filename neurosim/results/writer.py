"""Write neurosim results to HDF5, chunk by chunk (layout: FORMAT.md).

The writer keeps no data in Python: every ``append_*`` call extends a chunked, compressed,
resizable dataset on disk, and the caller flushes once per simulation chunk, so a crash
loses at most the chunk in flight and leaves a run whose ``complete`` attribute is False.
"""
from __future__ import annotations

import datetime
import json
import math
from pathlib import Path

import h5py
import numpy as np

from . import live
from . import schema as S
from .schema import ResultsError, ResultsKeyError, _attr_value, to_json


def _package_version() -> str:
    # Imported at call time: neurosim/__init__ may import this module before it is complete.
    try:
        import neurosim
        return str(neurosim.__version__)
    except (ImportError, AttributeError):
        return "unknown"


def _chunk_shape(row_shape, itemsize):
    row_bytes = max(1, itemsize * math.prod(row_shape))
    if row_bytes > S.CHUNK_BYTES:  # big rows (weight matrices): let h5py tile the row
        return True
    return (max(1, S.CHUNK_BYTES // row_bytes),) + tuple(row_shape)


def _append(group: h5py.Group, name: str, values: np.ndarray, dtype=None) -> h5py.Dataset:
    """Append ``values`` (n, ...) as rows of ``group[name]``, creating it on first use."""
    if name not in group:
        dtype = np.dtype(dtype if dtype is not None else values.dtype)
        if dtype.kind == "U":  # numpy unicode -> HDF5 variable-length UTF-8
            dtype = h5py.string_dtype()
        row_shape = values.shape[1:]
        filters = dict(S.COMPRESSION)
        if h5py.check_string_dtype(dtype):   # HDF5 checksums fixed-size data only
            filters.pop("fletcher32")
        group.create_dataset(name, shape=(0,) + row_shape, maxshape=(None,) + row_shape,
                             dtype=dtype, chunks=_chunk_shape(row_shape, dtype.itemsize),
                             **filters)
    ds = group[name]
    if values.shape[1:] != ds.shape[1:]:
        raise ValueError(f"{ds.name}: rows of shape {values.shape[1:]} cannot be appended "
                         f"to rows of shape {ds.shape[1:]}")
    n0, n = ds.shape[0], values.shape[0]
    if n:
        ds.resize(n0 + n, axis=0)
        ds[n0:] = values.astype(object) if h5py.check_string_dtype(ds.dtype) else values
    return ds


def _shrink(ds: h5py.Dataset, n: int) -> None:
    if ds.shape[0] > n:
        ds.resize(n, axis=0)


def _first_index_at_or_after(ds: h5py.Dataset, cutoff: float) -> int:
    """Binary search in a sorted 1-D dataset without reading it all into memory."""
    lo, hi = 0, ds.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if ds[mid] < cutoff:
            lo = mid + 1
        else:
            hi = mid
    return lo


def column_units(name: str) -> str:
    """Unit of a trial-table column from its name: ``*_ms`` ms, ``*_step``/``n_steps`` step."""
    if name.endswith("_ms"):
        return "ms"
    if name.endswith("_step") or name == "n_steps":
        return "step"
    return ""


class RunWriter:
    """Appends the results of one run to its group ``/runs/<run_id>``.

    Obtain one from :meth:`ResultsWriter.create_run` or :meth:`ResultsWriter.open_run`.
    Call the ``append_*`` methods once per simulation chunk, then :meth:`flush`.
    """

    def __init__(self, file: h5py.File, group: h5py.Group):
        self._file = file
        self.group = group
        self.run_id = group.name.rsplit("/", 1)[-1]

    @property
    def dt_ms(self) -> float:
        """Simulation time step (ms)."""
        return float(self.group.attrs["dt_ms"])

    def _sub(self, *names: str) -> h5py.Group:
        g = self.group
        for name in names:  # track_order keeps columns/populations in the order written
            g = g[name] if name in g else g.create_group(name, track_order=True)
        return g

    def append_spikes(self, population: str, times_ms, node_ids, n_nodes: int | None = None):
        """Append one chunk of spikes of ``population``.

        Parameters
        ----------
        times_ms : array (n_spikes,)
            Spike times in ms; a spike emitted during step ``s`` has time ``s * dt_ms``.
        node_ids : array (n_spikes,)
            Population-local neuron indices (>= 0), stored as uint32.
        n_nodes : int, optional
            Population size, stored so that readers count silent neurons; by default the
            ``n_nodes`` of the population's node table (:meth:`write_nodes`), if written.

        Chunks must come in time order; spikes within a chunk are sorted here (stable).
        """
        t = np.asarray(times_ms, dtype=np.float64).reshape(-1)
        ids = np.asarray(node_ids).reshape(-1)
        if t.shape != ids.shape:
            raise ValueError(f"times_ms has {t.size} spikes but node_ids has {ids.size}")
        if ids.size and (ids.min() < 0 or ids.max() >= 2**32):
            raise ValueError("node_ids must lie in [0, 2**32)")
        order = np.argsort(t, kind="stable")
        t, ids = t[order], ids[order].astype(np.uint32)
        g = self._sub(S.SPIKES, population)
        g.attrs["sorting"] = "time"
        if n_nodes is None:   # the population's node table, when written, knows its size
            nodes = self.group.get(S.NODES, {}).get(population)
            n_nodes = None if nodes is None else nodes.attrs.get("n_nodes")
        if n_nodes is not None:
            if ids.size and ids.max() >= n_nodes:
                raise ValueError(f"spikes of {population!r}: node id {int(ids.max())} >= "
                                 f"n_nodes = {int(n_nodes)}")
            g.attrs["n_nodes"] = int(n_nodes)
        if "timestamps" in g and g["timestamps"].shape[0] and t.size and t[0] < g["timestamps"][-1]:
            raise ValueError(f"spikes of {population!r} start at {t[0]} ms, before the last "
                             f"stored spike ({g['timestamps'][-1]} ms): append chunks in time "
                             "order, and call truncate_to() before resuming")
        _append(g, "timestamps", t)
        _append(g, "node_ids", ids)

    def append_series(self, name: str, values, decimation: int = 1, units: str | None = None,
                      columns=None):
        """Append rows of a per-step series (readout ``z``, ``z0``, ``target``, ``gate``, ...).

        Parameters
        ----------
        values : array (n_rows, ...)
            Already decimated: row ``r`` of the whole series holds step ``r * decimation``,
            i.e. time ``r * decimation * dt_ms`` ms. A 0-d or 1-d ``values`` is one value per row.
        decimation : int
            Record every k-th step; fixed by the first append.
        units : str, optional
            Unit of the values (e.g. ``"Hz"`` for the population rate), stored as attr ``units``.
        columns : list of str, optional
            Names of the columns of a 2-d series (e.g. ``["when", "what_A", "what_B"]``),
            stored as attr ``columns`` (JSON); the length must match the row width.
        """
        values = np.asarray(values)
        if values.ndim == 0:
            values = values.reshape(1)
        g = self._sub(S.SERIES)
        if name in g and int(g[name].attrs["decimation"]) != decimation:
            raise ValueError(f"series {name!r} was started with decimation "
                             f"{int(g[name].attrs['decimation'])}, not {decimation}")
        if columns is not None:
            columns = [str(c) for c in columns]
            width = values.shape[1] if values.ndim == 2 else None
            if width != len(columns):
                raise ValueError(f"series {name!r}: {len(columns)} column names {columns} for "
                                 f"rows of shape {values.shape[1:]}")
        if name in g and units is not None and g[name].attrs.get("units", units) != units \
                or name in g and units is not None and "units" not in g[name].attrs:
            raise ResultsError(
                f"series {name!r} of run {self.run_id!r} is stored in "
                f"{g[name].attrs.get('units', 'counts per step (format version 1)')}, not "
                f"{units}: a run written by an older neurosim cannot be continued by this one")
        ds = _append(g, name, values)
        ds.attrs["decimation"] = int(decimation)
        ds.attrs["dt_ms"] = self.dt_ms
        if units is not None:
            ds.attrs["units"] = str(units)
        if columns is not None:
            ds.attrs["columns"] = json.dumps(columns)

    def append_trace(self, name: str, values, node_ids, times_ms):
        """Append state traces of selected neurons (e.g. membrane potential ``v``).

        Parameters
        ----------
        values : array (n_rows, n_ids)
        node_ids : array (n_ids,)  -- written by the first call, checked afterwards
        times_ms : array (n_rows,)  -- time of each row (ms)
        """
        values = np.atleast_2d(np.asarray(values))
        ids = np.asarray(node_ids, dtype=np.int64).reshape(-1)
        t = np.asarray(times_ms, dtype=np.float64).reshape(-1)
        if values.shape != (t.size, ids.size):
            raise ValueError(f"trace {name!r}: values {values.shape} must be "
                             f"(len(times_ms)={t.size}, len(node_ids)={ids.size})")
        g = self._sub(S.TRACES, name)
        if "node_ids" not in g:
            g.create_dataset("node_ids", data=ids)
        elif not np.array_equal(g["node_ids"][()], ids):
            raise ValueError(f"trace {name!r}: node_ids differ from the first chunk")
        _append(g, "data", values)
        _append(g, "times_ms", t)

    def append_trials(self, rows: dict, units: dict | None = None):
        """Append rows of the trial table: ``{column: array (n_new_trials,)}``.

        Every call must give the same columns, all of equal length. String columns are
        stored as UTF-8. Each column gets an attr ``units``: ``units[column]`` when given,
        else ``"ms"`` for names ending in ``_ms``, ``"step"`` for names ending in ``_step``
        or ``n_steps`` (steps of ``dt_ms``, stored on the group), else ``""``.
        """
        cols = {k: np.asarray(v).reshape(-1) for k, v in rows.items()}
        lengths = {k: v.size for k, v in cols.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"trial columns differ in length: {lengths}")
        g = self._sub(S.TRIALS)
        if len(g) and set(g) != set(cols):
            raise ValueError(f"trial columns {sorted(cols)} differ from the stored {sorted(g)}")
        g.attrs["dt_ms"] = self.dt_ms
        for k, v in cols.items():
            ds = _append(g, k, v)
            if "units" not in ds.attrs or (units and k in units):
                ds.attrs["units"] = str((units or {}).get(k, column_units(k)))

    def append_weights(self, name: str, snapshot, trial: int):
        """Append a snapshot of weight array ``name`` (any shape).

        ``trial`` is the number of trials completed when the snapshot was taken
        (0 = the initial weights); :meth:`truncate_to` keeps snapshots with ``trial <= n_trials``.
        """
        snap = np.asarray(snapshot)
        g = self._sub(S.WEIGHTS, name)
        _append(g, "data", snap[np.newaxis])
        _append(g, "trial", np.array([trial], dtype=np.int64))

    def write_nodes(self, population: str, table: dict, **attrs):
        """Store the node table of ``population``: ``{column: array (n_nodes,)}``.

        ``table`` is what :func:`neurosim.results.nodes.node_table` returns (``excitatory``
        bool, Izhikevich ``a, b, c, d``, ``bias``, ``noise_sigma``); every column must have
        the same length, the population size, stored as attr ``n_nodes`` here and on the
        spike population. ``attrs`` (e.g. ``model="izhikevich2003"``) are stored on the group.
        Written once per run; a second call replaces the table.
        """
        cols = {k: np.asarray(v).reshape(-1) for k, v in table.items()}
        sizes = {v.size for v in cols.values()}
        if len(sizes) != 1:
            raise ValueError(f"node table of {population!r}: columns differ in length: "
                             f"{ {k: v.size for k, v in cols.items()} }")
        n = sizes.pop()
        g = self._sub(S.NODES)
        if population in g:
            del g[population]
        g = g.create_group(population, track_order=True)
        for k, v in cols.items():
            g.create_dataset(k, data=v, **({} if v.size == 0 else dict(fletcher32=True)))
        g.attrs["n_nodes"] = int(n)
        for k, v in attrs.items():
            g.attrs[k] = _attr_value(k, v)
        spikes = self.group.get(S.SPIKES, {}).get(population)
        if spikes is not None:
            spikes.attrs["n_nodes"] = int(n)

    def write_metrics(self, scalars: dict | None = None, tables: dict | None = None,
                      summary: dict | None = None):
        """Write (or overwrite) metrics: scalars as attributes of ``metrics``, tables as
        datasets ``metrics/<name>`` (e.g. ``accuracy_matrix``), ``summary`` as JSON text."""
        g = self._sub(S.METRICS)
        for k, v in (scalars or {}).items():
            g.attrs[k] = _attr_value(k, v)
        items = dict(tables or {})
        if summary is not None:
            items[S.SUMMARY_JSON] = to_json(summary)
        for k, v in items.items():
            if k in g:
                del g[k]
            g.create_dataset(k, data=v)

    def save_checkpoint(self, arrays: dict, meta: dict):
        """Replace the run's checkpoint by ``arrays`` plus JSON-serialisable ``meta``.

        ``meta`` should hold ``step`` (steps simulated), ``n_trials`` (trials completed),
        ``chunk_index`` and the RNG states (e.g. ``Generator.bit_generator.state``).
        The new checkpoint is written to ``checkpoint_tmp``, flushed, and only then moved
        over ``checkpoint``: a crash leaves one complete checkpoint (see load_checkpoint).
        """
        meta_json = to_json(meta)
        if S.CHECKPOINT_TMP in self.group:
            del self.group[S.CHECKPOINT_TMP]
        tmp = self.group.create_group(S.CHECKPOINT_TMP)
        for k, v in arrays.items():
            tmp.create_dataset(k, data=np.asarray(v))
        for k in ("step", "chunk_index", "n_trials"):
            if k in meta:
                tmp.attrs[k] = int(meta[k])
        tmp.attrs["meta_json"] = meta_json
        tmp.attrs["written"] = True  # last: marks the temporary copy as whole
        self._file.flush()
        if S.CHECKPOINT in self.group:
            del self.group[S.CHECKPOINT]
        self.group.move(S.CHECKPOINT_TMP, S.CHECKPOINT)
        self._file.flush()

    def load_checkpoint(self) -> tuple[dict, dict]:
        """Return ``(arrays, meta)`` of the latest complete checkpoint.

        Raises ResultsError when the run has none.
        """
        g = self.group.get(S.CHECKPOINT)
        tmp = self.group.get(S.CHECKPOINT_TMP)
        if g is None and tmp is not None and tmp.attrs.get("written", False):
            g = tmp  # crashed between deleting the old checkpoint and the move
        if g is None:
            raise ResultsError(f"run {self.run_id!r} in {self._file.filename} has no checkpoint")
        return {k: g[k][()] for k in g}, json.loads(g.attrs["meta_json"])

    def truncate_to(self, step: int, n_trials: int):
        """Drop everything recorded after a checkpoint, so that a resumed run appends cleanly.

        Removes spikes with ``t >= step * dt_ms`` (half a step of tolerance), trace rows
        likewise, series rows ``r`` with ``r * decimation >= step``, trial rows beyond
        ``n_trials`` and weight snapshots with ``trial > n_trials``. Sets ``duration_ms``
        to ``step * dt_ms`` and ``complete`` to False.
        """
        cutoff = (step - 0.5) * self.dt_ms
        for pop in self.group.get(S.SPIKES, {}).values():
            n = _first_index_at_or_after(pop["timestamps"], cutoff)
            _shrink(pop["timestamps"], n)
            _shrink(pop["node_ids"], n)
        for trace in self.group.get(S.TRACES, {}).values():
            n = int(np.count_nonzero(trace["times_ms"][()] < cutoff))
            _shrink(trace["times_ms"], n)
            _shrink(trace["data"], n)
        for ds in self.group.get(S.SERIES, {}).values():
            _shrink(ds, -(-step // int(ds.attrs["decimation"])))
        for ds in self.group.get(S.TRIALS, {}).values():
            _shrink(ds, n_trials)
        for w in self.group.get(S.WEIGHTS, {}).values():
            n = int(np.count_nonzero(w["trial"][()] <= n_trials))
            _shrink(w["trial"], n)
            _shrink(w["data"], n)
        self.set_attrs(duration_ms=step * self.dt_ms, complete=False)
        self._file.flush()

    def set_attrs(self, **attrs):
        """Set run attributes (e.g. ``duration_ms`` after each chunk, ``n_neurons``)."""
        for k, v in attrs.items():
            self.group.attrs[k] = _attr_value(k, v)

    def flush(self):
        """Push everything written so far to disk; call once per simulation chunk."""
        self._file.flush()

    def finish(self, wall_time_s: float, duration_ms: float):
        """Mark the run complete, with its wall-clock time (s) and simulated time (ms)."""
        self.set_attrs(wall_time_s=float(wall_time_s), duration_ms=float(duration_ms),
                       complete=True)
        self._file.flush()


class ResultsWriter:
    """Open (or create) a results file for writing; use as a context manager.

    Parameters
    ----------
    path : str or Path
    mode : {"a", "w"}
        "a" appends runs to an existing results file (created if absent);
        "w" truncates any existing file.
    """

    def __init__(self, path, mode: str = "a"):
        if mode not in ("a", "w"):
            raise ValueError(f"mode must be 'a' or 'w', not {mode!r}")
        self.path = Path(path)
        exists = self.path.exists() and self.path.stat().st_size > 0
        if mode == "a" and exists:
            from .reader import check_file  # the reader owns format validation
            check_file(self.path)
            self._file = self._open_h5("a")
            # runs appended now are written in this version's layout (rate in Hz, ...);
            # the older runs stay readable, the reader tells them apart by their attributes
            self._file.attrs["format_version"] = S.FORMAT_VERSION
        else:
            # fs_persist lets later sessions reuse the space of replaced checkpoints.
            self._file = self._open_h5("w", fs_strategy="fsm", fs_persist=True, track_order=True)
            self._file.attrs["format"] = S.FORMAT_NAME
            self._file.attrs["format_version"] = S.FORMAT_VERSION
            self._file.attrs["neurosim_version"] = _package_version()
            self._file.create_group(S.RUNS, track_order=True)
        self._file.attrs[live.WRITER_ATTR] = live.writer_mark()   # readers retry while set
        self._file.flush()

    def _open_h5(self, mode, **kw):
        try:
            return h5py.File(self.path, mode, **kw)
        except OSError as err:  # typically the lock held by another writer
            raise ResultsError(f"{self.path}: cannot open for writing ({err}); "
                               "is another process writing this file?") from None

    def create_run(self, run_id: str, kind: str, attrs: dict, config) -> RunWriter:
        """Create ``/runs/<run_id>`` with its attributes and resolved config.

        ``attrs`` must hold ``seed``, ``backend``, ``dtype`` and ``dt_ms``; ``entropy`` defaults
        to ``SeedSequence(seed).entropy``; any further scalar/str attrs (e.g. ``n_neurons``)
        are stored as given, dicts and lists as JSON text.
        """
        if not run_id or "/" in run_id or run_id in (".", ".."):
            raise ValueError(f"invalid run id {run_id!r} (non-empty, no '/')")
        runs = self._file[S.RUNS]
        if run_id in runs:
            raise ValueError(f"run {run_id!r} already exists in {self.path}; use open_run() "
                             "to resume it or choose another id")
        missing = [k for k in S.REQUIRED_RUN_ATTRS if k not in attrs]
        if missing:
            raise ValueError(f"create_run({run_id!r}) needs attrs {missing}")
        attrs = dict(attrs)
        if "entropy" not in attrs:
            attrs["entropy"] = np.random.SeedSequence(attrs["seed"]).entropy
        attrs["entropy"] = str(attrs["entropy"])
        g = runs.create_group(run_id, track_order=True)
        run = RunWriter(self._file, g)
        run.set_attrs(**attrs)
        run.set_attrs(
            kind=kind, config_json=to_json(config), duration_ms=0.0, wall_time_s=0.0,
            complete=False,
            created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        self._file.flush()
        return run

    def open_run(self, run_id: str) -> RunWriter:
        """Reopen an existing run (e.g. an incomplete one, to resume it)."""
        runs = self._file[S.RUNS]
        if run_id not in runs:
            raise ResultsKeyError(f"no run {run_id!r} in {self.path}; runs: {', '.join(runs) or 'none'}")
        return RunWriter(self._file, runs[run_id])

    def delete_run(self, run_id: str) -> None:
        """Remove ``/runs/<run_id>`` (e.g. a phase cut short, before it is run again)."""
        runs = self._file[S.RUNS]
        if run_id not in runs:
            raise ResultsKeyError(f"no run {run_id!r} in {self.path}")
        del runs[run_id]
        self._file.flush()

    @property
    def run_ids(self) -> list[str]:
        return list(self._file[S.RUNS])

    def flush(self):
        self._file.flush()

    def close(self):
        if self._file.id.valid:
            if live.WRITER_ATTR in self._file.attrs:
                del self._file.attrs[live.WRITER_ATTR]
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
