"""Sweep engine benchmark (issue 12): Dask LocalCluster vs one process, and the engine's cost.

``python benchmarks/sweep_bench.py [--points 16] [--workers 2] [--duration-ms 2000]
[--ww-seeds 16] [--skip-whatwhen] [--out-dir benchmarks/out/sweep]``

A. ``izhikevich2003`` (N = 1000, ``--duration-ms`` simulated), ``--points`` seeds:

   * ``plain``: ``izhikevich2003.run`` once per seed, one after another in this process (the
     shell-loop baseline, no engine);
   * ``inline``: the same points through ``neurosim.sweep.run(workers=0)`` (engine without
     Dask: checks, hashing, rename into place, metrics read-back, index);
   * ``dask``: through a LocalCluster of ``--workers`` processes (started beforehand; its
     start-up time is reported on its own);
   * ``rerun``: the same sweep again, every point skipped (checks + index only).

   Per-point engine overhead: ``(inline - plain) / points`` in one process, and for Dask
   ``(workers * dask - sum of the points' own wall times) / points`` (worker time a point
   costs beyond the experiment itself: scheduling, serialisation, file writing, idle tail).
   ``dask_warm``: the same points once more (new files) on the same, now warm, workers.

B. what/when, ``--ww-seeds`` network seeds, a quick paradigm (``QUICK_WHATWHEN``: the
   ``whatwhen`` experiment has no ``--quick`` flag; this is its paradigm cut to 40 + 20 main,
   20 probability and 40 + 20 switch trials, at N = 300: at N = 1000 one point took 102 s,
   a 16-seed plain-vs-Dask pair ~40 min of the shared machine): plain loop vs Dask.

Warm-up: one point runs in this process first (numba cache load), so ``plain`` does not pay
the compile; Dask workers load the cache at their first point, which counts against Dask.
Prints a table and writes ``<out-dir>/sweep_bench.json``. Note the machine load (``uptime``)
beside the numbers: 2 shared cores make the ratio depend on what else runs.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

QUICK_WHATWHEN = {"network": {"n_neurons": 300},
                  "paradigm": {"main_trials": [40, 20], "probability_trials": 20,
                               "switch_trials": [40, 20]}}


def _load() -> str:
    """The 1, 5 and 15 min load averages (as ``uptime`` prints them)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _plain(module, configs, out_dir: Path) -> float:
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for k, cfg in enumerate(configs):
        module.run(cfg, out=out_dir / f"p{k}.h5", figure=None, report=None)
    return time.perf_counter() - t0


def bench(name, experiment, base, n_points, workers, out_dir: Path, inline=True) -> dict:
    """Measure one experiment's sweep of ``n_points`` seeds; returns the row dict (s)."""
    import distributed

    from neurosim import sweep
    from neurosim.experiments import get_experiment
    module = get_experiment(experiment)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    spec = {"experiment": experiment, "base": base, "seeds": n_points}
    configs = [sweep.spec.point_config(base, {"run.seed": s}) for s in range(n_points)]
    module.run(configs[0], out=out_dir / "warmup.h5", figure=None, report=None)
    row = {"case": name, "points": n_points, "workers": workers, "load_before": _load()}
    row["plain_s"] = _plain(module, configs, out_dir / "plain")
    if inline:
        t0 = time.perf_counter()
        res = sweep.run(spec, out=out_dir / "inline.h5", workers=0, report=None)
        row["inline_s"] = time.perf_counter() - t0
        row["inline_overhead_per_point_s"] = (row["inline_s"] - row["plain_s"]) / n_points
        assert res.ok
    t0 = time.perf_counter()
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=50) as lc, \
            distributed.Client(lc) as client:
        row["cluster_start_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = sweep.run(spec, out=out_dir / "dask.h5", client=client, report=None)
        row["dask_s"] = time.perf_counter() - t0
        assert res.ok
        walls = [r["wall_s"] for r in res.records]
        row["sum_point_wall_s"] = sum(walls)
        row["dask_overhead_per_point_s"] = (workers * row["dask_s"] - sum(walls)) / n_points
        jit = res.metric("jit_load_s")
        row["mean_jit_load_s"] = float(jit.mean()) if jit.size and jit[0] == jit[0] else None
        t0 = time.perf_counter()
        again = sweep.run(spec, out=out_dir / "dask.h5", client=client, report=None)
        row["rerun_all_skipped_s"] = time.perf_counter() - t0
        assert again.ran == 0
        # the same points again on the now warm workers (imports and kernels loaded), new files
        if not inline:   # (what/when: too long to run twice on the shared machine)
            return _finish(row)
        t0 = time.perf_counter()
        warm = sweep.run(spec, out=out_dir / "warm" / "dask.h5", client=client, report=None)
        row["dask_warm_s"] = time.perf_counter() - t0
        assert warm.ran == n_points
        row["sum_point_wall_warm_s"] = sum(r["wall_s"] for r in warm.records)
        row["dask_warm_overhead_per_point_s"] = (
            workers * row["dask_warm_s"] - row["sum_point_wall_warm_s"]) / n_points
        row["speedup_warm"] = row["plain_s"] / row["dask_warm_s"]
    return _finish(row)


def _finish(row: dict) -> dict:
    row["speedup"] = row["plain_s"] / row["dask_s"]
    row["speedup_incl_cluster_start"] = row["plain_s"] / (row["dask_s"] + row["cluster_start_s"])
    row["load_after"] = _load()
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration-ms", type=float, default=2000.0)
    ap.add_argument("--ww-seeds", type=int, default=16)
    ap.add_argument("--skip-whatwhen", action="store_true")
    ap.add_argument("--out-dir", type=Path, default=Path("benchmarks/out/sweep"))
    args = ap.parse_args()
    rows = [bench("izhikevich2003 N=1000", "izhikevich2003",
                  {"network": {"n_neurons": 1000}, "run": {"duration_ms": args.duration_ms}},
                  args.points, args.workers, args.out_dir / "izh")]
    print(json.dumps(rows[-1], indent=1), flush=True)
    if not args.skip_whatwhen:
        rows.append(bench("whatwhen quick N=300", "whatwhen", QUICK_WHATWHEN, args.ww_seeds,
                          args.workers, args.out_dir / "ww", inline=False))
        print(json.dumps(rows[-1], indent=1), flush=True)
    (args.out_dir / "sweep_bench.json").write_text(json.dumps(rows, indent=1))
    print(f"\n{'case':<24} {'points':>6} {'plain s':>8} {'dask s':>8} {'speedup':>8} "
          f"{'warm s':>8} {'speedup':>8} {'start s':>8} {'eng/pt s':>9} {'dask/pt s':>9} "
          f"{'warm/pt s':>9} {'rerun s':>8}")
    nan = float("nan")
    for r in rows:
        eng = r.get("inline_overhead_per_point_s")
        print(f"{r['case']:<24} {r['points']:>6} {r['plain_s']:>8.1f} {r['dask_s']:>8.1f} "
              f"{r['speedup']:>8.2f} {r.get('dask_warm_s', nan):>8.1f} {r.get('speedup_warm', nan):>8.2f} "
              f"{r['cluster_start_s']:>8.1f} {'-' if eng is None else f'{eng:.3f}':>9} "
              f"{r['dask_overhead_per_point_s']:>9.3f} {r.get('dask_warm_overhead_per_point_s', nan):>9.3f} "
              f"{r['rerun_all_skipped_s']:>8.2f}")


if __name__ == "__main__":
    main()
