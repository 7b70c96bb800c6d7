"""B7: the FORCE chunk loop with the two-pass vs the lazy (single-pass) RLS update (issue 15).

Run as ``NUMBA_NUM_THREADS=1 python benchmarks/b7_force_loop.py [--repeats 3]
[--train-ms 400] [--dtypes float64 float32]``.

The force experiment's default network and learner (``neurosim.experiments.force``
defaults: N = 2000 Nicola & Clopath neurons, dense, dt = 0.04 ms, 100 ms chunks,
n_feat = 2000, RLS every 20 gated steps = 1250 updates per simulated second, alpha = 0.5,
feedback gain 5e3, 5 Hz sine target). Each run builds a fresh simulator (P = I / alpha),
settles 100 ms with the gate closed (not timed), then times ``train_ms`` of chunks with
the gate open (RLS on). Kernels:

* ``lazy``: the package's chunk loop compiled here with the single-pass ``rls_step_lazy``
  as its RLS update (the pending update flushed at the end of every chunk, the flush
  included in the time);
* ``two_pass``: the same loop with the two-pass ``rls_step`` (the kernel before issue 15);
* ``no_rls``: the package's kernel with the gate closed (network and readout output only):
  the loop cost without learning.

The package's kernel itself (``kernels.cpu._rls_update``) runs ``lazy`` for float64 P and
``two_pass`` for float32 P, as these measurements found faster.
Runs alternate kernels within each repeat, one process; median and min over repeats.
``ratio`` = two_pass / lazy time. The final W of the two kernels is compared bit for bit
(lam = 1: the same operations in the same order). Prints the table and the load average;
writes ``benchmarks/out/b7_force_loop.csv``.
"""
import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

from neurosim.experiments.common import network_and_run  # noqa: E402
from neurosim.experiments.force import encoders, resolve_config  # noqa: E402
from neurosim.kernels import cpu, plugins  # noqa: E402
from neurosim.kernels.rls import rls_step, rls_step_lazy  # noqa: E402
from neurosim.learners.force import Force  # noqa: E402
from neurosim.network import build_network  # noqa: E402
from neurosim.simulator import Simulator, n_features  # noqa: E402
from neurosim.streams import Chunk  # noqa: E402

SETTLE_MS = 100.0


@numba.njit
def _update_two_pass(r, x):
    rls_step(r.P, r.W, x, r.err, r.lam, r.rls_work[0])   # work[0]: k


@numba.njit
def _update_lazy(r, x):
    rls_step_lazy(r.P, r.W, x, r.err, r.lam, r.rls_work)


def _forced(name, update):
    """The package's chunk loop with its RLS update (``cpu._rls_update``) replaced."""
    readout = numba.njit(plugins.specialise(cpu._readout.py_func, f"_readout_b7_{name}",
                                            {"_rls_update": update}))
    chunk = numba.njit(plugins.specialise(cpu._chunk, f"_chunk_b7_{name}",
                                          {"_readout": readout}))
    return lambda p, s, r, io, rec, noise, t0, n_steps: chunk(p, s, r, io, rec, noise, t0,
                                                             n_steps, 1)


FORCED = {"lazy": _forced("lazy", _update_lazy), "two_pass": _forced("two_pass",
                                                                     _update_two_pass)}


def make_sim(net, run_cfg, config, kernel):
    fc = config["force"]
    n = net.n_neurons
    readout = Force(alpha=fc["alpha"], rls_every=int(fc["rls_every"]),
                    forgetting=fc["forgetting"]).init_state(
        n_features(net), 1, n, run_cfg.dtype, run_cfg.dt_ms,
        encoders=encoders(run_cfg.seed, n, fc["feedback_gain"], 1))
    sim = Simulator(net, run_cfg, readout=readout)
    if kernel in FORCED:
        sim.backend = SimpleNamespace(run_chunk=FORCED[kernel], name=kernel)
    return sim


def chunks(run_cfg, ms, gate):
    steps = int(round(run_cfg.chunk_ms / run_cfg.dt_ms))
    n = int(round(ms / run_cfg.chunk_ms))
    t0 = int(round(SETTLE_MS / run_cfg.dt_ms))
    for c in range(n):
        t = (t0 + c * steps + np.arange(steps)) * run_cfg.dt_ms
        yield Chunk(steps, target=np.sin(2 * np.pi * 5e-3 * t)[:, None],
                    gate=np.full(steps, gate))


def one_run(net, run_cfg, config, kernel, train_ms):
    sim = make_sim(net, run_cfg, config, kernel)
    sim.warm_up()
    for ch in chunks(run_cfg, SETTLE_MS, 0.0):
        sim.run_one_chunk(ch)
    t0 = time.perf_counter()
    for ch in chunks(run_cfg, train_ms, 0.0 if kernel == "no_rls" else 1.0):
        sim.run_one_chunk(ch)
    wall = time.perf_counter() - t0
    return wall / (train_ms / 1000.0), sim.readout.W.copy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--train-ms", type=float, default=400.0)
    ap.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"
                                         / "b7_force_loop.csv"))
    args = ap.parse_args()
    config, _ = resolve_config(None)
    load0 = os.getloadavg()
    rows = []
    print(f"B7 FORCE loop, train {args.train_ms:g} ms per run, {args.repeats} repeats, "
          f"numba threads {numba.get_num_threads()}, load average at start "
          f"{load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}", flush=True)
    for dtype in args.dtypes:
        net_cfg, run_cfg = network_and_run(dict(config, run=dict(config["run"], dtype=dtype)))
        net = build_network(net_cfg, run_cfg.seed, run_cfg.dtype)
        for kernel in ("lazy", "two_pass", "no_rls"):   # compile / load outside the timing
            make_sim(net, run_cfg, config, kernel).warm_up()
        times = {k: [] for k in ("lazy", "two_pass", "no_rls")}
        last_w = {}
        for rep in range(args.repeats):
            for kernel in times:
                s_per_s, W = one_run(net, run_cfg, config, kernel, args.train_ms)
                times[kernel].append(s_per_s)
                last_w[kernel] = W
                print(f"  {dtype} rep {rep} {kernel:<8} {s_per_s:7.3f} s / sim s  "
                      f"load {os.getloadavg()[0]:.2f}", flush=True)
        same = bool(np.array_equal(last_w["lazy"], last_w["two_pass"]))
        for kernel, v in times.items():
            rows.append(dict(dtype=dtype, kernel=kernel, median_s_per_sim_s=float(np.median(v)),
                             min_s_per_sim_s=float(np.min(v)), runs=len(v),
                             W_bitwise_equal_two_pass=same))
    load1 = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"\nload average at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    print("| dtype | kernel | s / sim s (median) | min | two_pass / this (median) | "
          "RLS part: median minus no_rls |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ref = next(q for q in rows if q["dtype"] == r["dtype"] and q["kernel"] == "two_pass")
        base = next(q for q in rows if q["dtype"] == r["dtype"] and q["kernel"] == "no_rls")
        rls = r["median_s_per_sim_s"] - base["median_s_per_sim_s"]
        print(f"| {r['dtype']} | {r['kernel']} | {r['median_s_per_sim_s']:.3f} | "
              f"{r['min_s_per_sim_s']:.3f} | "
              f"{ref['median_s_per_sim_s'] / r['median_s_per_sim_s']:.2f}x | "
              f"{rls:.3f} |")
    for dtype in args.dtypes:
        r = next(q for q in rows if q["dtype"] == dtype)
        print(f"{dtype}: final W of lazy and two_pass bitwise equal: "
              f"{r['W_bitwise_equal_two_pass']}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
