"""Human-readable summaries: ``describe(path)`` of a results file, ``info()`` of the install.

Both return a string (the CLI prints it): ``neurosim inspect FILE`` and ``neurosim info``.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import platform

import h5py
import numpy as np

from . import schema as S
from .live import retry_while_written
from .reader import _native, _open

_HIDDEN_ATTRS = ("config_json",)


def _fmt(value, width=70) -> str:
    text = repr(_native(value)) if not isinstance(value, str) else value
    return text if len(text) <= width else text[:width - 3] + "..."


def _datasets(group: h5py.Group, skip=()) -> list[tuple[str, h5py.Dataset]]:
    found = []
    group.visititems(lambda name, obj: found.append((name, obj))
                     if isinstance(obj, h5py.Dataset) and name.split("/")[0] not in skip else None)
    return found


def _stopped_at_step(g: h5py.Group) -> int:
    """Steps simulated as far as the file shows: duration_ms, or the longest series."""
    dt = float(g.attrs.get("dt_ms", 0) or 0)
    step = int(round(float(g.attrs.get("duration_ms", 0)) / dt)) if dt > 0 else 0
    for ds in g.get(S.SERIES, {}).values():  # last recorded row is step (rows - 1) * k
        if ds.shape[0]:
            step = max(step, (ds.shape[0] - 1) * int(ds.attrs.get("decimation", 1)) + 1)
    return step


def _describe_run(run_id: str, g: h5py.Group) -> list[str]:
    a = g.attrs
    complete = bool(a.get("complete", False))
    lines = [f"run {run_id!r}  kind={_fmt(a.get('kind', '?'))}  "
             f"{'complete' if complete else 'INCOMPLETE'}  "
             f"(simulated {float(a.get('duration_ms', 0)):g} ms, wall {float(a.get('wall_time_s', 0)):.3g} s)"]
    lines.append("  attributes:")
    lines += [f"    {k} = {_fmt(v)}" for k, v in a.items() if k not in _HIDDEN_ATTRS]
    config = a.get("config_json", "")
    lines.append(f"  config: JSON, {len(config)} characters (Run.config)")
    lines.append("  datasets:")
    rows = _datasets(g, skip=(S.CHECKPOINT, S.CHECKPOINT_TMP, S.METRICS))
    width = max((len(n) for n, _ in rows), default=0)
    for name, ds in rows:
        extra = f"  decimation={int(ds.attrs['decimation'])}" if "decimation" in ds.attrs else ""
        if ds.attrs.get("units"):
            extra += f"  units={_native(ds.attrs['units'])}"
        if "columns" in ds.attrs:
            extra += f"  columns={_fmt(_native(ds.attrs['columns']), 50)}"
        dtype = "str" if h5py.check_string_dtype(ds.dtype) else ds.dtype
        lines.append(f"    {name:<{width}}  {str(ds.shape):<16} {dtype}{extra}")
    if not rows:
        lines.append("    (none)")
    for pop, nodes in g.get(S.NODES, {}).items():
        exc = nodes["excitatory"][()] if "excitatory" in nodes else None
        ei = f", {int(exc.sum())} E / {int(exc.size - exc.sum())} I" if exc is not None else ""
        lines.append(f"  nodes {pop!r}: {_fmt(nodes.attrs.get('n_nodes', '?'))} neurons{ei}, "
                     f"model {_fmt(nodes.attrs.get('model', '?'))} (Run.nodes)")
    ck = g.get(S.CHECKPOINT)
    if ck is not None:
        nbytes = sum(ds.size * ds.dtype.itemsize for _, ds in _datasets(ck))
        lines.append(f"  checkpoint: step {_fmt(ck.attrs.get('step', '?'))}, "
                     f"chunk {_fmt(ck.attrs.get('chunk_index', '?'))}, "
                     f"{len(ck)} arrays ({nbytes / 1e6:.3g} MB)")
    m = g.get(S.METRICS)
    if m is not None and (len(m.attrs) or len(m)):
        lines.append("  metrics:")
        lines += [f"    {k} = {_fmt(v)}" for k, v in m.attrs.items()]
        lines += [f"    {k}  {ds.shape} {ds.dtype}" for k, ds in m.items() if k != S.SUMMARY_JSON]
        if S.SUMMARY_JSON in m:
            lines.append(f"    summary: JSON, {len(m[S.SUMMARY_JSON].asstr()[()])} characters")
    if not complete:
        step = _stopped_at_step(g)
        dt = float(a.get("dt_ms", 0) or 0)
        msg = f"  INCOMPLETE: run stopped at step {step} (t = {step * dt:g} ms)"
        if ck is not None:
            msg += f"; resumable from its checkpoint at step {_fmt(ck.attrs.get('step', '?'))}"
        else:
            msg += "; no checkpoint to resume from"
        lines.append(msg)
    return lines


@retry_while_written
def describe(path, verify: bool = False) -> str:
    """Describe a results file: its runs, attributes, datasets (shape, dtype), metrics,
    and whether each run completed ("INCOMPLETE: run stopped at step N" otherwise).

    ``verify`` also reads every dataset in full, so that HDF5 checks every chunk's fletcher32
    checksum (see FORMAT.md), and appends a "verify:" line (:func:`damaged_datasets`).
    Raises ResultsError for files that are not readable neurosim results.
    """
    with _open(path) as f:
        runs = f[S.RUNS]
        lines = [f"{path}: {f.attrs['format']} format_version {int(f.attrs['format_version'])}, "
                 f"written by neurosim {_fmt(f.attrs.get('neurosim_version', '?'))}",
                 f"{len(runs)} run{'s' if len(runs) != 1 else ''}"]
        for run_id, g in runs.items():
            lines.append("")
            lines += _describe_run(run_id, g)
    if verify:
        damaged = damaged_datasets(path)
        lines.append("")
        lines.append("verify: every dataset read back, checksums match" if not damaged else
                     "verify: DAMAGED: " + "; ".join(f"run {r!r} dataset {d!r} ({why})"
                                                     for r, d, why in damaged))
    return "\n".join(lines)


def damaged_datasets(path) -> list[tuple[str, str, str]]:
    """Read every dataset of every run in full; returns (run id, dataset, reason) for each
    one that cannot be read back (a fletcher32 checksum mismatch, a broken chunk)."""
    damaged = []
    with _open(path) as f:
        for run_id, g in f[S.RUNS].items():
            for name, ds in _datasets(g):
                try:
                    ds[()]
                except (OSError, RuntimeError, ValueError) as err:
                    text = str(err)
                    why = ("checksum or decompression failed"
                           if "filter returned failure" in text or "fletcher32" in text.lower()
                           else text.splitlines()[0])
                    damaged.append((run_id, name, why))
    return damaged


def _version(module: str) -> str:
    try:
        return getattr(importlib.import_module(module), "__version__", "installed")
    except Exception:  # an optional package may fail to import in many ways
        return "not installed"


def _dist_version(name: str) -> str:
    """Installed version without importing the package (matplotlib is slow to import)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cuda_status() -> tuple[bool, str]:
    """(usable, explanation) for the cuda backend: CuPy importable and a device visible."""
    try:
        import cupy
    except Exception as err:
        return False, f"cupy not importable ({type(err).__name__})"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:
        return False, f"cupy {cupy.__version__} installed, no CUDA device visible ({err})"
    if n < 1:
        return False, f"cupy {cupy.__version__} installed, no CUDA device visible"
    try:
        name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
        name = name.decode() if isinstance(name, bytes) else str(name)
    except Exception:
        name = "unknown device"
    return True, f"{n} CUDA device{'s' if n > 1 else ''} visible ({name})"


def info() -> str:
    """Versions of neurosim and its dependencies, available backends, GPU visibility."""
    try:
        import neurosim
        version = neurosim.__version__
    except Exception:
        version = "unknown"
    cuda_ok, cuda_msg = _cuda_status()
    backends = ["numpy"]
    if _version("numba") != "not installed":
        backends.append("numba")
    if cuda_ok:
        backends.append("cuda")
    lines = [f"neurosim {version}",
             f"python {platform.python_version()} ({platform.system()} {platform.machine()})",
             f"numpy {np.__version__}",
             f"numba {_version('numba')}",
             f"h5py {h5py.__version__} (HDF5 {h5py.version.hdf5_version})",
             f"cupy {_version('cupy') if cuda_ok else 'unavailable'}",
             f"matplotlib {_dist_version('matplotlib')}",
             f"backends available: {', '.join(backends)}",
             f"GPU: {cuda_msg}",
             f"results format: {S.FORMAT_NAME} version {S.FORMAT_VERSION}"]
    return "\n".join(lines)
