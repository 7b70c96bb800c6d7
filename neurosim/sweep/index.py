"""The sweep index file (SWEEP.h5): index table, aggregates over seeds, links to the points.

It is a neurosim results file (``neurosim.results.load`` reads it) with one run, ``sweep``
(kind ``"sweep"``), whose ``metrics`` hold column datasets:

* ``index.point_id``, ``index.status`` (``done``/``failed``/``pending``), ``index.file`` (the
  point file, relative to the index file), ``index.wall_s`` (s, NaN if not run),
  ``index.worker``, ``index.field.<field>`` per grid field (numbers as float64, anything else
  as JSON text) and ``index.metric.<name>`` per metric (float64, NaN where a point lacks it);
  one row per point, in grid order;
* ``agg.field.<field>`` per grid field except the seed field, ``agg.metric`` (name),
  ``agg.n`` (finished seeds), ``agg.mean``, ``agg.std`` (sample std, ddof = 1; NaN for
  n < 2), ``agg.ci95_lo``, ``agg.ci95_hi`` (Student-t 95 % interval of the mean over seeds;
  NaN for n < 2): one row per combination of the other fields and metric;
* ``summary`` (JSON): experiment, fields, seed field, counts, the failures (config and
  traceback summary) and the spec.

``/points/<point_id>`` are HDF5 external links to each finished point file's ``/runs``.
The file is written to a temporary name and renamed, so a killed driver leaves the previous
index intact; the point files are the truth and the index is rebuilt from them on each run.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import h5py
import numpy as np

SWEEP_RUN = "sweep"
SWEEP_KIND = "sweep"


def _column(values: list):
    """float64 if every value is a number (None -> NaN), else JSON text."""
    if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
           for v in values):
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    return _strings([json.dumps(v) for v in values])


def _strings(values: list[str]):
    return np.array(list(values), dtype=h5py.string_dtype())


def _interval(x: np.ndarray):
    """(n, mean, std, lo, hi) of the finite values of ``x``."""
    from scipy import stats
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return 0, np.nan, np.nan, np.nan, np.nan
    mean = float(x.mean())
    if n < 2:
        return 1, mean, np.nan, np.nan, np.nan
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return n, mean, std, mean - half, mean + half


def aggregate(rows: list[dict], fields: list[str], seed_field: str | None, metrics: list[str]):
    """Aggregate rows over seeds: ``{column: list}`` (see the module docstring)."""
    others = [f for f in fields if f != seed_field]
    groups: dict[str, list[dict]] = {}
    for row in rows:
        if row["status"] != "done":
            continue
        key = json.dumps([row["values"].get(f) for f in others])
        groups.setdefault(key, []).append(row)
    cols = {f"field.{f}": [] for f in others}
    cols.update(metric=[], n=[], mean=[], std=[], ci95_lo=[], ci95_hi=[])
    for key, members in groups.items():
        combo = json.loads(key)
        for name in metrics:
            x = np.array([m["metrics"].get(name, np.nan) for m in members], dtype=np.float64)
            n, mean, std, lo, hi = _interval(x)
            for f, v in zip(others, combo):
                cols[f"field.{f}"].append(v)
            cols["metric"].append(name)
            for c, v in zip(("n", "mean", "std", "ci95_lo", "ci95_hi"), (n, mean, std, lo, hi)):
                cols[c].append(v)
    return cols


def write_index(path: Path, spec_dict: dict, fields: list[str], seed_field: str | None,
                rows: list[dict], failures: list[dict], points_dir: Path,
                run_attrs: dict) -> Path:
    """Write the index file ``path`` (atomically) from one record per point (``rows``, grid
    order: each has point_id, values, status, file, wall_s, worker, metrics)."""
    from ..results import ResultsWriter
    path = Path(path)
    metrics = sorted({k for r in rows for k in r.get("metrics", {})})
    rel_dir = os.path.relpath(points_dir, path.parent)
    tables = {
        "index.point_id": _strings([r["point_id"] for r in rows]),
        "index.status": _strings([r["status"] for r in rows]),
        "index.file": _strings([os.path.join(rel_dir, r["file"]) for r in rows]),
        "index.wall_s": np.array([r.get("wall_s", np.nan) for r in rows], dtype=np.float64),
        "index.worker": _strings([r.get("worker", "") for r in rows]),
    }
    for f in fields:
        tables[f"index.field.{f}"] = _column([r["values"].get(f) for r in rows])
    for m in metrics:
        tables[f"index.metric.{m}"] = np.array(
            [r.get("metrics", {}).get(m, np.nan) for r in rows], dtype=np.float64)
    agg = aggregate(rows, fields, seed_field, metrics)
    for name, values in agg.items():
        if name.startswith("field."):
            tables[f"agg.{name}"] = _column(values)
        elif name == "metric":
            tables["agg.metric"] = _strings(values)
        else:
            tables[f"agg.{name}"] = np.array(values, dtype=np.float64 if name != "n" else np.int64)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "failed", "pending")}
    summary = {"experiment": spec_dict["experiment"], "fields": fields,
               "seed_field": seed_field, "metrics": metrics, "n_points": len(rows),
               "counts": counts, "points_dir": rel_dir, "failures": failures,
               "spec": spec_dict}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with ResultsWriter(tmp, mode="w") as writer:
        attrs = {"seed": 0, "backend": "none", "dtype": "none", "dt_ms": 0.0}
        attrs.update(run_attrs)
        run = writer.create_run(SWEEP_RUN, SWEEP_KIND, attrs, spec_dict)
        run.write_metrics(scalars={"n_points": len(rows), **{f"n_{k}": v
                                                             for k, v in counts.items()}},
                          tables=tables, summary=summary)
        run.finish(wall_time_s=float(np.nansum(tables["index.wall_s"])), duration_ms=0.0)
    with h5py.File(tmp, "a") as f:
        links = f.create_group("points")
        for r in rows:
            if r["status"] == "done":
                links[r["point_id"]] = h5py.ExternalLink(os.path.join(rel_dir, r["file"]),
                                                         "/runs")
    os.replace(tmp, path)
    return path


def is_sweep_file(path) -> bool:
    """Whether ``path`` is a sweep index file (a results file with a ``sweep`` run)."""
    try:
        with h5py.File(path, "r", locking=False) as f:
            g = f.get(f"runs/{SWEEP_RUN}")
            return g is not None and g.attrs.get("kind") == SWEEP_KIND
    except (OSError, TypeError):
        return False


def read_index(path) -> dict:
    """Read an index file through ``neurosim.results.load``: ``{"index": {column: array},
    "aggregates": {column: array}, "summary": dict}`` (column names without their prefix,
    e.g. ``index["field.run.seed"]``, ``index["metric.spikes"]``)."""
    from ..results import load
    metrics = load(path)[SWEEP_RUN].metrics
    out = {"index": {}, "aggregates": {}, "summary": metrics.get("summary", {})}
    for key, value in metrics.items():
        for prefix, part in (("index.", "index"), ("agg.", "aggregates")):
            if key.startswith(prefix):
                out[part][key[len(prefix):]] = np.asarray(value)
    return out


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        return "-" if not np.isfinite(v) else f"{v:.4g}"
    return str(v)


def describe_sweep(path, max_metrics: int = 4) -> str:
    """Text for ``neurosim inspect SWEEP.h5``: counts, the index table (fields, status, wall
    time, the first ``max_metrics`` metrics, wall-clock ones last) and the failures."""
    data = read_index(path)
    idx, summary = data["index"], data["summary"]
    fields = summary.get("fields", [])
    timing = ("_s", "real_time_factor")   # wall-clock metrics: shown last
    metrics = sorted(summary.get("metrics", []), key=lambda m: m.endswith(timing))[:max_metrics]
    c = summary.get("counts", {})
    lines = [f"{path}: sweep of {summary.get('experiment')!r}, {summary.get('n_points')} points "
             f"({c.get('done', 0)} done, {c.get('failed', 0)} failed, {c.get('pending', 0)} "
             f"pending); point files in {summary.get('points_dir')}/",
             f"metrics ({len(summary.get('metrics', []))}): "
             f"{', '.join(summary.get('metrics', [])) or 'none'}"]
    head = ["point_id"] + fields + ["status", "wall_s"] + metrics
    table = [head]
    for k in range(len(idx.get("point_id", []))):
        row = [str(idx["point_id"][k])]
        row += [_fmt(idx[f"field.{f}"][k]) for f in fields]
        row += [str(idx["status"][k]), _fmt(idx["wall_s"][k])]
        row += [_fmt(idx[f"metric.{m}"][k]) for m in metrics]
        table.append(row)
    widths = [max(len(r[j]) for r in table) for j in range(len(head))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in table]
    for fail in summary.get("failures", []):
        lines.append(f"FAILED {fail['point_id']} ({fail['values']}): {fail['error']}")
    return "\n".join(lines)
