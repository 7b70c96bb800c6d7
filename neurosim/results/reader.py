"""Read neurosim results files (layout: FORMAT.md).

``load(path)`` validates the file and reads the metadata of every run (attributes, config,
names of datasets) at once; arrays are read on demand, each call opening the file briefly,
so no HDF5 handle stays open (a running simulation may still be writing the file) and
every accessor returns plain numpy arrays.
"""
from __future__ import annotations

import contextlib
import json
from collections import namedtuple
from pathlib import Path

import h5py
import numpy as np

from ..monitors import SpikeMonitor
from . import schema as S
from .live import retry_while_written
from .schema import ResultsError, ResultsKeyError

Trace = namedtuple("Trace", "data node_ids times_ms")
Trace.__doc__ = "Recorded state trace: data (n_rows, n_ids), node_ids (n_ids,), times_ms (n_rows,)."
WeightSnapshots = namedtuple("WeightSnapshots", "data trial")
WeightSnapshots.__doc__ = ("Weight snapshots: data (n_snapshots, *shape), trial (n_snapshots,) = "
                           "trials completed when each was taken.")


def _corrupt(path, err) -> ResultsError:
    return ResultsError(f"{path}: truncated or corrupted HDF5 file ({err})")


def check_file(path) -> None:
    """Raise ResultsError unless ``path`` is a readable neurosim results file of a known version."""
    with _open(path):
        pass


@contextlib.contextmanager
def _open(path):
    """Open ``path`` read-only after validating it; h5py errors become ResultsError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {path}")
    if not h5py.is_hdf5(path):
        raise ResultsError(f"{path}: not an HDF5 file (no HDF5 signature); "
                           "is it a neurosim results file?")
    try:
        # No lock: a running simulation holds the file open for writing and flushes it
        # after every chunk; reading it meanwhile is what `neurosim inspect` is for.
        f = h5py.File(path, "r", locking=False)
    except OSError as err:
        if "locking flag" not in str(err):
            raise _corrupt(path, err) from None
        try:  # this process already has the file open (with a lock): share that handle
            f = h5py.File(path, "r")
        except OSError as err2:
            raise _corrupt(path, err2) from None
    try:
        fmt = f.attrs.get("format")
        if fmt is None:
            raise ResultsError(f"{path}: HDF5 file without a 'format' attribute: "
                               "not a neurosim results file")
        if fmt != S.FORMAT_NAME:
            raise ResultsError(f"{path}: format {fmt!r} is not {S.FORMAT_NAME!r}")
        version = f.attrs.get("format_version")
        if not isinstance(version, (int, np.integer)) or version < 1:
            raise ResultsError(f"{path}: invalid format_version {version!r}")
        if version > S.FORMAT_VERSION:
            raise ResultsError(f"{path}: format_version {int(version)} is newer than this "
                               f"neurosim reads ({S.FORMAT_VERSION}); upgrade neurosim")
        if S.RUNS not in f:
            raise ResultsError(f"{path}: no '/{S.RUNS}' group")
        try:
            yield f
        except (OSError, RuntimeError) as err:  # h5py errors while reading data
            raise _corrupt(path, err) from None
    finally:
        f.close()


def _native(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def _rows(*datasets: h5py.Dataset) -> list[np.ndarray]:
    """Datasets whose rows are appended together, cut to their common length: a run that is
    still writing may have appended to one and not yet to the others."""
    n = min(ds.shape[0] for ds in datasets)
    return [ds[:n] for ds in datasets]


def _read(ds: h5py.Dataset) -> np.ndarray:
    if h5py.check_string_dtype(ds.dtype):
        return np.asarray(ds.asstr()[()], dtype=str)
    return ds[()]


#: The spike-record type of files and of memory alike (``Recorder.spikes``): ``i`` int64,
#: ``t`` float64 ms, ``n_neurons``, ``count``, ``spike_trains()``, ``mean_rate()``.
SpikeData = SpikeMonitor


class Run:
    """One run of a results file: metadata in memory, arrays read on demand."""

    def __init__(self, path: Path, run_id: str, group: h5py.Group):
        self.path, self.id = path, run_id
        self.attrs = {k: _native(v) for k, v in group.attrs.items()}
        self.config = json.loads(self.attrs.get("config_json", "{}"))
        spikes, nodes = group.get(S.SPIKES, {}), group.get(S.NODES, {})
        #: spike populations, then populations with a node table but no spike recorded
        self.populations = list(spikes) + [p for p in nodes if p not in spikes]
        #: populations with a stored node table (``nodes()``)
        self.node_populations = list(nodes)
        self._pop_sizes = {p: _native(spikes[p].attrs.get("n_nodes")) if p in spikes else None
                           for p in self.populations}
        for p in nodes:
            if self._pop_sizes.get(p) is None:
                self._pop_sizes[p] = _native(nodes[p].attrs.get("n_nodes"))
        self.format_version = int(group.file.attrs.get("format_version", 1))
        self._series_attrs = {k: {a: _native(v) for a, v in ds.attrs.items()}
                              for k, ds in group.get(S.SERIES, {}).items()}
        self.series_names = list(group.get(S.SERIES, {}))
        self.trace_names = list(group.get(S.TRACES, {}))
        self.weight_names = list(group.get(S.WEIGHTS, {}))
        self.trial_columns = list(group.get(S.TRIALS, {}))
        ck = group.get(S.CHECKPOINT)
        self.checkpoint_step = _native(ck.attrs.get("step")) if ck is not None else None

    kind = property(lambda self: self.attrs.get("kind"))
    complete = property(lambda self: bool(self.attrs.get("complete", False)))
    dt_ms = property(lambda self: float(self.attrs["dt_ms"]))

    def __repr__(self):
        state = "complete" if self.complete else "INCOMPLETE"
        return f"Run({self.id!r}, kind={self.kind!r}, {state})"

    @contextlib.contextmanager
    def _group(self, *names):
        where = "/".join(names)
        try:
            with _open(self.path) as f:
                key = "/".join((S.RUNS, self.id) + names)
                if key not in f:
                    raise ResultsKeyError(f"{self.path}: run {self.id!r} has no '{where}'")
                yield f[key]
        except ResultsError as err:   # name the run and dataset that could not be read
            if isinstance(err, ResultsKeyError) or "corrupted" not in str(err):
                raise
            raise ResultsError(f"{self.path}: run {self.id!r}, '{where}' cannot be read back "
                               f"(damaged: a chunk's checksum or decompression failed; "
                               f"`neurosim inspect --verify` lists every damaged dataset)") \
                from None

    def _need(self, name, available, what):
        if name not in available:
            raise ResultsKeyError(f"run {self.id!r} has no {what} {name!r}; "
                                  f"available: {', '.join(available) or 'none'}")

    @retry_while_written
    def spikes(self, population: str = "all") -> SpikeData:
        """Spikes of ``population``; "all" merges every population (in creation order),
        offsetting node ids by the sizes of the populations before it."""
        if population != "all":
            self._need(population, self.populations, "spike population")
        pops = self.populations if population == "all" else [population]
        i_parts, t_parts, offset = [], [], 0
        with self._group() as g:
            for p in pops:
                pg = g[S.SPIKES][p] if S.SPIKES in g and p in g[S.SPIKES] else {}
                if "node_ids" in pg:
                    ids, times = _rows(pg["node_ids"], pg["timestamps"])
                else:   # a population with a node table and no spike (yet)
                    ids, times = np.zeros(0, np.uint32), np.zeros(0)
                ids = ids.astype(np.int64)
                i_parts.append(ids + offset)
                t_parts.append(times)
                size = self._pop_sizes[p]
                if size is None:
                    size = self.attrs.get("n_neurons") if len(pops) == 1 else None
                offset += int(size) if size is not None else int(ids.max(initial=-1)) + 1
        i = np.concatenate(i_parts) if i_parts else np.zeros(0, np.int64)
        t = np.concatenate(t_parts) if t_parts else np.zeros(0)
        order = np.argsort(t, kind="stable")
        return SpikeData(i[order], t[order], max(offset, int(i.max(initial=-1)) + 1))

    def n_nodes(self, population: str = "all") -> int:
        """Size of ``population`` (or of all together), silent neurons included."""
        if population == "all":
            return self.spikes().n_neurons
        self._need(population, self.populations, "population")
        return self.spikes(population).n_neurons

    @retry_while_written
    def nodes(self, population: str | None = None) -> dict:
        """Node table of ``population`` (default: the only one): ``{column: array (n_nodes,)}``
        with ``excitatory`` (bool), ``a, b, c, d``, ``bias``, ``noise_sigma`` (FORMAT.md).

        Files written before node tables were stored (format version 1) have none: a
        ResultsKeyError says so.
        """
        if population is None:
            if len(self.node_populations) != 1:
                raise ResultsKeyError(
                    f"run {self.id!r} has node tables for {self.node_populations or 'no population'}"
                    + ("; name one" if self.node_populations else
                       " (written before node tables were stored, format version 1)"))
            population = self.node_populations[0]
        self._need(population, self.node_populations, "node table")
        with self._group(S.NODES, population) as g:
            out = {k: g[k][()] for k in g}
        if "excitatory" in out:
            out["excitatory"] = out["excitatory"].astype(bool)
        return out

    def node_attrs(self, population: str | None = None) -> dict:
        """Attributes of a node table (``n_nodes``, ``model``, ``form``, ``constants``)."""
        population = population or (self.node_populations[0] if len(self.node_populations) == 1
                                    else None)
        self._need(population, self.node_populations, "node table")
        with self._group(S.NODES, population) as g:
            return {k: _native(v) for k, v in g.attrs.items()}

    def series_units(self, name: str) -> str:
        """Unit of series ``name`` ("" when none was stored); ``rate`` is always Hz."""
        self._need(name, self.series_names, "series")
        if name == "rate":
            return S.RATE_UNITS
        return str(self._series_attrs[name].get("units", ""))

    def series_columns(self, name: str) -> list[str]:
        """Column names of series ``name``: stored ``columns``, else the run's
        ``readout_names`` for ``z``, ``z0`` and ``target`` when they match the width, else
        ``name[k]``; ``[name]`` for a 1-d series."""
        self._need(name, self.series_names, "series")
        attrs = self._series_attrs[name]
        if "columns" in attrs:
            return list(json.loads(attrs["columns"]))
        shape = self._series_shape(name)
        if len(shape) < 2:
            return [name]
        width = int(np.prod(shape[1:]))
        names = self.attrs.get("readout_names")
        if names is not None and name in ("z", "z0", "target"):
            names = json.loads(names) if isinstance(names, str) else list(names)
            if len(names) == width:
                return [str(n) for n in names]
        return [f"{name}[{k}]" for k in range(width)]

    @retry_while_written
    def _series_shape(self, name):
        with self._group(S.SERIES, name) as ds:
            return ds.shape

    @retry_while_written
    def series(self, name: str) -> np.ndarray:
        """Recorded per-step series ``name``, shape (n_rows, ...).

        ``rate`` is the population rate in Hz (spikes per neuron per second in each step),
        as ``Recorder.rate``; files of format version 1 stored spike counts per step, which
        are converted here with the run's ``n_neurons`` and ``dt_ms``.
        """
        self._need(name, self.series_names, "series")
        with self._group(S.SERIES, name) as ds:
            values = ds[()]
            units = ds.attrs.get("units")
        if name == "rate" and units is None:   # format version 1: counts per step
            n = self.attrs.get("n_neurons") or self.spikes().n_neurons
            values = values / int(n) / (self.dt_ms / 1000.0)
        return values

    @retry_while_written
    def series_times(self, name: str) -> np.ndarray:
        """Time (ms) of each row of series ``name``: ``row * decimation * dt_ms``."""
        self._need(name, self.series_names, "series")
        with self._group(S.SERIES, name) as ds:
            return np.arange(ds.shape[0]) * int(ds.attrs["decimation"]) * float(ds.attrs["dt_ms"])

    @retry_while_written
    def series_decimation(self, name: str) -> int:
        self._need(name, self.series_names, "series")
        with self._group(S.SERIES, name) as ds:
            return int(ds.attrs["decimation"])

    @retry_while_written
    def traces(self, name: str) -> Trace:
        """State trace ``name`` as ``Trace(data, node_ids, times_ms)``."""
        self._need(name, self.trace_names, "trace")
        with self._group(S.TRACES, name) as g:
            data, times = _rows(g["data"], g["times_ms"])
            return Trace(data, g["node_ids"][()], times)

    @retry_while_written
    def trials(self) -> dict:
        """Trial table ``{column: array (n_trials,)}`` (empty when no trials were recorded)."""
        if not self.trial_columns:
            return {}
        with self._group(S.TRIALS) as g:
            n = min(g[k].shape[0] for k in self.trial_columns)
            return {k: _read(g[k])[:n] for k in self.trial_columns}

    def trial_table(self, time_unit: str = "ms") -> dict:
        """The trial table with every time in one unit: ``{column: array (n_trials,)}``.

        Columns in steps (``*_step``, ``n_steps``) become times ``*_<unit>``
        (``n_steps`` -> ``duration_<unit>``; -1, "none", stays NaN), columns in ms are
        converted to ``time_unit`` (``"ms"`` or ``"s"``) and renamed to end in it; other
        columns are unchanged. Step columns within a trial (``cue_step``, ``stim_step``)
        stay within the trial; ``start_step`` (global) becomes ``start_<unit>``.
        """
        if time_unit not in ("ms", "s"):
            raise ValueError(f"trial_table(time_unit={time_unit!r}): choose 'ms' or 's'")
        per = 1.0 if time_unit == "ms" else 1000.0   # ms per unit (divide: 1400 ms -> 1.4 s)
        from .writer import column_units
        out = {}
        for k, v in self.trials().items():
            unit = column_units(k)
            if unit == "step":
                base = "duration" if k == "n_steps" else k[:-len("_step")]
                t = v.astype(np.float64) * self.dt_ms / per
                out[f"{base}_{time_unit}"] = np.where(v < 0, np.nan, t)
            elif unit == "ms":
                out[f"{k[:-len('_ms')]}_{time_unit}"] = v.astype(np.float64) / per
            else:
                out[k] = v
        return out

    @retry_while_written
    def weights(self, name: str) -> WeightSnapshots:
        """Snapshots of weight array ``name`` as ``WeightSnapshots(data, trial)``."""
        self._need(name, self.weight_names, "weights")
        with self._group(S.WEIGHTS, name) as g:
            return WeightSnapshots(*_rows(g["data"], g["trial"]))

    @property
    @retry_while_written
    def metrics(self) -> dict:
        """Scalars and tables of ``metrics`` in one dict; ``summary_json`` parsed as ``summary``."""
        with _open(self.path) as f:
            g = f[S.RUNS][self.id].get(S.METRICS)
            if g is None:
                return {}
            out = {k: _native(v) for k, v in g.attrs.items()}
            for k, ds in g.items():
                if k == S.SUMMARY_JSON:
                    out["summary"] = json.loads(ds.asstr()[()])
                else:
                    out[k] = _native(_read(ds)) if ds.ndim == 0 else _read(ds)
            return out

    def to_neo(self, **parts):
        """This run as a ``neo.Block``: a SpikeTrain per neuron (E/I annotated), the series
        as AnalogSignals, the trials as an Epoch and cue/stimulus Events
        (:mod:`neurosim.io.neo_bridge`; needs ``pip install 'neurosim[io]'``)."""
        from ..io.neo_bridge import to_neo
        return to_neo(self, **parts)

    def to_pandas(self, what: str = "spikes", **options):
        """pandas views with named columns and one time unit each (:mod:`neurosim.io.frames`):

        * ``"spikes"``: ``time_ms``, ``population``, ``node_id``, ``excitatory``;
        * ``"series"``: per-step series indexed by ``time_ms`` (``z0_when``, ``rate_hz``, ...);
        * ``"trials"``: the trial table with every time in ms (``cue_ms``, ``start_ms``, ...);
        * ``"nodes"``: the node table, one row per neuron.

        ``time_unit="s"`` gives seconds instead (not for nodes). Needs pandas
        (``pip install 'neurosim[io]'``).
        """
        from ..io.frames import WHATS, to_pandas
        if what not in WHATS:
            raise ValueError(f"to_pandas(what={what!r}): choose one of {', '.join(WHATS)}")
        return to_pandas(self, what, **options)

    def to_xarray(self, names=None, time_unit: str = "ms"):
        """The series as an ``xarray.Dataset`` (one variable per series, labelled columns,
        units in attrs; :func:`neurosim.io.frames.series_dataset`). Needs xarray
        (``pip install 'neurosim[io]'``)."""
        from ..io.frames import series_dataset
        return series_dataset(self, names, time_unit)


class Results:
    """All runs of one results file: ``results.runs``, ``results[run_id]``, ``results.latest``."""

    def __init__(self, path):
        self.path = Path(path)
        self._read_metadata()

    @retry_while_written
    def _read_metadata(self):
        with _open(self.path) as f:
            self.attrs = {k: _native(v) for k, v in f.attrs.items()}
            self.runs = {rid: Run(self.path, rid, g) for rid, g in f[S.RUNS].items()}

    def __getitem__(self, run_id) -> Run:
        if run_id not in self.runs:
            raise ResultsKeyError(f"no run {run_id!r} in {self.path}; "
                                  f"runs: {', '.join(self.runs) or 'none'}")
        return self.runs[run_id]

    def __contains__(self, run_id):
        return run_id in self.runs

    def __iter__(self):
        return iter(self.runs.values())

    def __len__(self):
        return len(self.runs)

    @property
    def latest(self) -> Run:
        """The most recently created run (by its ``created`` attribute, then file order)."""
        if not self.runs:
            raise ResultsError(f"{self.path} holds no runs")
        order = list(self.runs)
        return max(self.runs.values(), key=lambda r: (r.attrs.get("created", ""), order.index(r.id)))

    def __repr__(self):
        return f"Results({str(self.path)!r}, runs={list(self.runs)})"


def load(path) -> Results:
    """Open a results file written by :class:`~neurosim.results.ResultsWriter`.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ResultsError
        Not HDF5, truncated/corrupted, not a neurosim results file, or a newer format_version.
    """
    try:
        return Results(path)
    except (OSError, RuntimeError, KeyError) as err:
        if isinstance(err, (FileNotFoundError, ResultsError)):
            raise
        raise _corrupt(path, err) from None
