"""Run a sweep: check every point, skip the finished ones, run the rest on Dask, write the index.

One point is one Dask task (``client.submit(..., retries=1)``): Dask reruns a point whose
worker died, and retries once a point that raised; a point that fails twice is reported with
its config and a traceback summary and marked ``failed`` in the index, and the sweep goes on.
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
import traceback
import uuid
from pathlib import Path

import numpy as np

from .. import interrupts
from .cluster import client_for, default_workers, preflight
from .index import is_sweep_file, write_index
from .point import point_path, read_record, run_point
from .progress import PointProgress
from .spec import SweepError, grid_fields, load_spec
from .validate import points as checked_points


@dataclasses.dataclass
class SweepResult:
    """What a sweep did: ``path`` (index file), ``points_dir``, ``records`` (one per point,
    grid order: point_id, values, status, file, wall_s, metrics), ``failures``, ``ran`` and
    ``skipped`` (points run now / found finished), ``wall_s`` (driver wall time, s)."""
    path: Path
    points_dir: Path
    records: list
    failures: list
    ran: int
    skipped: int
    wall_s: float

    @property
    def ok(self) -> bool:
        return all(r["status"] == "done" for r in self.records)

    def metric(self, name: str) -> np.ndarray:
        """One metric over the points, grid order (NaN where a point lacks it), shape (n_points,)."""
        return np.array([r.get("metrics", {}).get(name, np.nan) for r in self.records])

    def files(self) -> list[Path]:
        """The finished points' files, grid order."""
        return [self.points_dir / r["file"] for r in self.records if r["status"] == "done"]


def paths_for(spec) -> tuple[Path, Path]:
    """``(index file, points directory)``: the spec's ``out`` (default ``<spec stem>.h5``, or
    ``sweep.h5`` for a spec given as a dict) and ``<index stem>_points/`` beside it."""
    if spec.out is not None:
        index = Path(spec.out)
    elif spec.source is not None:
        index = Path(spec.source.stem + ".h5")
    else:
        index = Path("sweep.h5")
    if index.suffix != ".h5":
        raise SweepError(f"sweep: out = {str(index)!r} must end in .h5")
    return index, index.with_name(index.stem + "_points")


def _summarise_failure(point, err, tb, points_dir) -> dict:
    frames = traceback.format_tb(tb)[-3:] if tb is not None else []
    return {"point_id": point.id, "values": point.values, "config": point.config,
            "error": f"{type(err).__name__}: {err}", "traceback": "".join(frames),
            "log": str(point_path(points_dir, point.id).with_suffix(".log"))}


def _report_failure(failure: dict, stream=None):
    stream = stream or sys.stderr
    values = ", ".join(f"{k} = {json.dumps(v)}" for k, v in failure["values"].items())
    print(f"neurosim sweep: point {failure['point_id']} ({values}) failed twice (retried once): "
          f"{failure['error']}\n  config: {json.dumps(failure['config'])}\n"
          f"  traceback (last frames):\n"
          + "".join("    " + line + "\n" for line in failure["traceback"].splitlines())
          + f"  output: {failure['log']}", file=stream, flush=True)


def _task(spec, point, points_dir: Path, numba_threads: int | None = None) -> dict:
    return {"experiment": spec.experiment, "experiment_name": spec.experiment_name,
            "point_id": point.id, "values": point.values, "config": point.config,
            "points_dir": str(points_dir.resolve()), "numba_threads": numba_threads}


def _run_inline(spec, todo, points_dir, records, failures, progress):
    """Every point in this process, one after another (``workers=0``), one retry each."""
    for p in todo:
        interrupts.check()
        for attempt in (0, 1):
            try:
                rec = run_point(_task(spec, p, points_dir))
                break
            except interrupts.Interrupted:
                raise
            except Exception as err:   # noqa: BLE001 - reported with its traceback
                if attempt:
                    failures.append(_summarise_failure(p, err, err.__traceback__, points_dir))
                    rec = None
        _record(p, rec, records, failures, progress)


def _record(point, rec, records, failures, progress):
    if rec is None:
        records[point.id] = {"point_id": point.id, "values": point.values, "status": "failed",
                             "file": "", "wall_s": math.nan, "metrics": {}}
        _report_failure(failures[-1])
        progress.done(records[point.id], failed=True)
    else:
        records[point.id] = dict(rec, values=point.values)
        progress.done(rec)


def _run_dask(client, spec, todo, points_dir, records, failures, progress, retries,
              numba_threads=None):
    """Submit one task per point; collect as they finish; stop cleanly on SIGINT/SIGTERM."""
    from distributed import wait
    tag = uuid.uuid4().hex[:8]
    futures = {client.submit(run_point, _task(spec, p, points_dir, numba_threads),
                             retries=retries,
                             pure=False, key=f"neurosim-point-{p.id}-{tag}"): p for p in todo}
    pending = set(futures)
    try:
        while pending:
            try:
                finished, pending = wait(pending, timeout=0.5, return_when="FIRST_COMPLETED")
            except TimeoutError:
                finished = set()
            for fut in finished:
                p = futures[fut]
                if fut.status == "error":
                    failures.append(_summarise_failure(p, fut.exception(), fut.traceback(),
                                                       points_dir))
                    _record(p, None, records, failures, progress)
                elif fut.status == "finished":
                    _record(p, fut.result(), records, failures, progress)
                fut.release()
            if interrupts.requested() is not None:
                break
    finally:
        if pending:
            client.cancel(list(pending))
    interrupts.check()


def run(spec, out=None, *, workers: int | None = None, scheduler: str | None = None,
        cluster: str | None = None, client=None, report="auto", retries: int = 1,
        dry_run: bool = False) -> SweepResult:
    """Run a sweep and write its index; returns a :class:`SweepResult`.

    ``spec``: a SWEEP.toml path, a dict of the same shape, or a :class:`SweepSpec`
    (``experiment`` may be a callable ``fn(config: dict, out: Path) -> dict of metrics``,
    importable on the workers). ``out``: the index file (default: the spec's ``out``, else
    ``<spec stem>.h5``); point files go to ``<out stem>_points/<point id>.h5``.
    Execution: ``client`` (a ``distributed.Client``), else ``scheduler`` (``tcp://...``),
    else ``cluster`` (``"slurm"`` etc., dask-jobqueue), else a LocalCluster of ``workers``
    processes (default: one per core); ``workers=0`` runs the points in this process, one
    after another, without Dask. ``report``: ``"auto"``, ``"tqdm"``, ``"text"`` or None.
    ``dry_run``: check the spec and return the plan (records with status ``pending`` or
    ``done``) without touching any file.

    Every point is checked before anything runs or any file is touched; a bad spec raises
    :class:`~neurosim.sweep.SweepError` naming the field. Points whose file exists are
    skipped; the rest run; the index is rewritten from every point's record at the end (also
    after an interrupt, which raises :class:`neurosim.interrupts.Interrupted` afterwards).
    """
    t0 = time.perf_counter()
    spec = load_spec(spec, out)
    pts = checked_points(spec)
    index, points_dir = paths_for(spec)
    if index.exists() and not is_sweep_file(index):
        raise SweepError(f"sweep: {index} exists and is not a sweep index; choose another out")
    if points_dir.exists() and not points_dir.is_dir():
        raise SweepError(f"sweep: {points_dir} exists and is not a directory")
    records = {}
    for p in pts:
        f = point_path(points_dir, p.id)
        rec = read_record(f) if f.exists() else None
        if rec is not None:
            records[p.id] = dict(rec, values=p.values)
    todo = [p for p in pts if p.id not in records]
    skipped = len(pts) - len(todo)
    if dry_run:
        rows = [records.get(p.id) or {"point_id": p.id, "values": p.values, "status": "pending",
                                      "file": point_path(points_dir, p.id).name}
                for p in pts]
        return SweepResult(index, points_dir, rows, [], 0, skipped, time.perf_counter() - t0)
    if todo:
        preflight(workers, scheduler, cluster, client)
    points_dir.mkdir(parents=True, exist_ok=True)
    for part in points_dir.glob("*.part"):   # left by a killed worker: redone below
        part.unlink(missing_ok=True)
    failures: list = []
    progress = PointProgress(len(todo), skipped, report)
    fields = grid_fields(spec)
    try:
        if todo and workers == 0 and client is None and scheduler is None and cluster is None:
            _run_inline(spec, todo, points_dir, records, failures, progress)
        elif todo:
            n = workers or spec.workers
            # a LocalCluster shares this machine's cores: Numba gets cores / workers each
            local = client is None and scheduler is None and cluster is None
            threads = max(1, default_workers() // (n or default_workers())) if local else None
            with client_for(n, scheduler, cluster, spec.cluster, client) as c:
                _run_dask(c, spec, todo, points_dir, records, failures, progress, retries,
                          threads)
    finally:
        progress.close()
        for p in todo:   # finished while the driver stopped (a task cancelled too late)
            f = point_path(points_dir, p.id)
            if p.id not in records and f.exists() and (rec := read_record(f)) is not None:
                records[p.id] = dict(rec, values=p.values)
        rows = [records.get(p.id) or {"point_id": p.id, "values": p.values, "status": "pending",
                                      "file": point_path(points_dir, p.id).name,
                                      "wall_s": math.nan, "metrics": {}}
                for p in pts]
        run_attrs = {}
        first = pts[0].resolved.get("run", {}) if pts else {}
        for key in ("backend", "dtype", "dt_ms"):
            if key in first:
                run_attrs[key] = first[key]
        run_attrs["n_points"] = len(pts)
        write_index(index, spec.as_dict(), fields,
                    spec.seed_field if spec.seed_field in fields else None,
                    rows, failures, points_dir, run_attrs)
    return SweepResult(index, points_dir, rows, failures, len(todo), skipped,
                       time.perf_counter() - t0)
