"""Run one sweep point (on a Dask worker or in this process) and write its own HDF5 file.

The experiment writes ``<id>.<host>-<pid>.part``; the point's record (grid values, metrics,
wall time, worker) goes into that file's root attribute ``sweep_point`` (JSON), and only then
is the file renamed to ``<id>.h5``. So ``<id>.h5`` exists exactly when the point finished:
a killed worker leaves at most a ``.part`` file, which the next sweep run removes and redoes.
The point's printed output goes to ``<id>.log`` beside it.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

import h5py

RECORD_ATTR = "sweep_point"


def point_path(points_dir: Path, pid: str) -> Path:
    """Where point ``pid``'s finished file lives."""
    return Path(points_dir) / f"{pid}.h5"


def read_record(path: Path) -> dict | None:
    """The record stored in a finished point file (None if it has none or cannot be read)."""
    try:
        with h5py.File(path, "r", locking=False) as f:
            text = f.attrs.get(RECORD_ATTR)
    except OSError:
        return None
    if text is None:
        return None
    return json.loads(text.decode() if isinstance(text, bytes) else text)


def _number(value):
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        import numpy as np
        if isinstance(value, np.generic) and value.size == 1 and value.dtype.kind in "biuf":
            return float(value)
    except ImportError:   # pragma: no cover
        pass
    return None


def metrics_of(summary, path: Path) -> dict[str, float]:
    """Scalar metrics of a finished point: the numbers of the experiment's summary, ``<id>_pass``
    (1/0) for each criterion row of its table, and each run's scalar ``metrics`` in the file as
    ``<run>.<name>`` when not already present under the plain name. Units as the experiment's."""
    out: dict[str, float] = {}
    for key, value in (summary or {}).items():
        num = _number(value)
        if num is not None:
            out[str(key)] = num
    for row in (summary or {}).get("table", []) if isinstance(summary, dict) else []:
        if isinstance(row, dict) and row.get("passed") is not None and "id" in row:
            out[f"{row['id']}_pass"] = float(bool(row["passed"]))
    if path.exists():
        try:
            from ..results import load
            results = load(path)
        except (ValueError, OSError):   # a callable's own file, not a results file
            return out
        for run in results:
            for key, value in run.metrics.items():
                num = _number(value)
                if num is not None and key not in out:
                    out[f"{run.id}.{key}"] = num
    return {k: v for k, v in out.items() if "/" not in k}


def _call(experiment, config: dict, part: Path):
    from .validate import experiment_target
    module, fn = experiment_target(experiment)
    if module is not None:
        return module.run(config, out=part, figure=None, report=None)
    return fn(config, part)


def run_point(task: dict) -> dict:
    """Run one point and return its record; ``task`` holds ``experiment``, ``point_id``,
    ``values`` (grid values), ``config`` (user-level config), ``points_dir`` and optionally
    ``numba_threads`` (threads for Numba's parallel kernels in this task's thread).

    Idempotent: a point whose file already exists is not run again (its record is returned).
    """
    final = point_path(task["points_dir"], task["point_id"])
    if final.exists():
        record = read_record(final)
        if record is not None:
            return record
    threads = task.get("numba_threads")
    if threads:   # this task thread's share of the cores for Numba's parallel kernels
        import numba
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    host = socket.gethostname()
    part = final.with_name(f"{final.stem}.{host}-{os.getpid()}.part")
    if part.exists():
        part.unlink()
    started = time.time()
    t0 = time.perf_counter()
    with open(final.with_suffix(".log"), "w", encoding="utf-8") as log, \
            contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        summary = _call(task["experiment"], task["config"], part)
    wall = time.perf_counter() - t0
    if not part.exists():   # a callable that wrote nothing: an empty results file
        from ..results import ResultsWriter
        ResultsWriter(part, mode="w").close()
    record = {"point_id": task["point_id"], "values": task["values"],
              "experiment": task["experiment_name"], "status": "done",
              "file": final.name, "wall_s": wall, "worker": f"{host}:{os.getpid()}",
              "started": started, "metrics": metrics_of(summary, part)}
    with h5py.File(part, "a") as f:
        f.attrs[RECORD_ATTR] = json.dumps(record, allow_nan=True)
    os.replace(part, final)
    return record
