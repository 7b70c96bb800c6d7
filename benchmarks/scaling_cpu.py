"""CPU scaling curve (issue 11): neurosim vs Brian2 cpp_standalone vs NEST 3, N = 1e3..1e5.

``python benchmarks/scaling_cpu.py [--sizes 1000 3000 10000 30000 100000] [--threads 2]
[--duration-ms 2000] [--repeats 1] [--peers cpp_standalone nest] [--wait-policy passive]
[--out CSV]``

The network of B5 (``b5_scaling.build_b5_network``): Izhikevich (2003) 80 % E / 20 % I,
exactly K = min(1000, N) targets per neuron, delta synapses onto v, thalamic noise std 5 / 2,
dt = 1 ms, the ``izhikevich2003`` scheme; the input per neuron is the same at every N, so
rates stay matched across sizes. Each run is a fresh process (``benchmarks/adapters/``):
neurosim (numba, float32 and float64, ``NUMBA_NUM_THREADS`` = threads), Brian2
cpp_standalone (``openmp_threads``), NEST (``local_num_threads``). All three build the very
same connectivity (neurosim from the seed, the peers from an ``.npz`` of it) and record every
spike; noise is each simulator's own, so rates agree in statistics. A peer's time counts only
if its rate is within ``RATE_TOLERANCE`` of neurosim float32's (column ``rate_ok``).

OpenMP wait policy of the peers (both use OpenMP threads): ``--wait-policy passive`` sets
``OMP_WAIT_POLICY=PASSIVE`` (idle threads sleep: needed on a loaded machine, where spinning
threads preempted by other work slow a run 10-300x, but it costs a wake-up per parallel
region), ``default`` leaves the library's spinning default (best on a quiet machine). Rows
carry the policy; the summary takes each peer's faster policy per N.

Loop times: neurosim ``Simulator.run`` after a 10 ms warm-up (JIT excluded); Brian2 its own
measurement of the run loop; NEST ``nest.Simulate`` after a 10 ms warm-up. Order within a
size: neurosim, cpp, NEST, neurosim (the two neurosim runs bracket the peers). Writes the CSV
and a Markdown table (``scaling_cpu_summary.md`` beside it) of medians and ratios.
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ADAPTERS = HERE / "adapters"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ADAPTERS))
from b5_scaling import build_b5_network  # noqa: E402
from run_b1_b2 import host_description, run_adapter  # noqa: E402

RATE_TOLERANCE = 0.10
NETWORK_SEED = 1          # neurosim_numba.NETWORK_SEED: the same network in every process


def write_network(n: int, path: Path) -> dict:
    """The scaling network (float64) as the peers' ``.npz`` (see ``brian2_common``)."""
    net = build_b5_network(n, seed=NETWORK_SEED, dtype="float64")
    indptr, indices, data = net.csr
    pre = np.repeat(np.arange(n, dtype=np.int32), np.diff(indptr))
    np.savez(path, a=net.a, b=net.b, c=net.c, d=net.d, bias=net.bias, sigma=net.noise_sigma,
             v0=net.v0, u0=net.u0, pre=pre, post=indices.astype(np.int32), w=data)
    return dict(N=n, synapses=int(data.size))


def plan(n, net_file, work, args):
    py, common = sys.executable, ["--duration-ms", str(args.duration_ms)]
    t = str(args.threads)
    peer_env = {"OMP_WAIT_POLICY": "PASSIVE"} if args.wait_policy == "passive" else None
    env = {"NUMBA_NUM_THREADS": t, "NUMBA_CACHE_DIR": str(work / "numba_cache")}

    def neurosim(dtype):
        return (dict(simulator="neurosim", backend="numba", dtype=dtype),
                [py, str(ADAPTERS / "neurosim_numba.py"), "--case", "scale", "--n", str(n),
                 "--dtype", dtype] + common, env)

    steps = [neurosim("float32"), neurosim("float64")] if args.neurosim else []
    if "cpp_standalone" in args.peers:
        steps.append((dict(simulator="brian2", backend="cpp_standalone", dtype="float64"),
                      [py, str(ADAPTERS / "brian2_standalone.py"), str(net_file), "--threads",
                       t, "--build-dir", str(work / f"cpp_scale_{n}_t{t}")] + common,
                      peer_env))
    if "nest" in args.peers:
        steps.append((dict(simulator="nest", backend="nest", dtype="float64"),
                      [py, str(ADAPTERS / "nest_izhikevich.py"), str(net_file), "--threads",
                       t] + common, peer_env))
    if args.neurosim:
        steps.append(neurosim("float32"))
    return steps


def summary(rows, threads) -> str:
    """Markdown: medians per (N, simulator, dtype) and the ratios to neurosim float32."""
    sizes = sorted({r["N"] for r in rows})
    med = {}
    for r in rows:
        key = (r["N"], r["simulator"], r["dtype"])
        med.setdefault(key, []).append(r)
    lines = [f"{threads} thread(s) each; ms of wall time per simulated second (loop, median); "
             "ratio = peer / neurosim float32 (> 1: neurosim faster); a peer's time is that of its "
             "faster OpenMP wait policy (in brackets)", "",
             "| N | synapses | neurosim f32 | neurosim f64 | cpp_standalone | NEST | "
             "rates Hz (ns / cpp / NEST) | vs cpp | vs NEST |", "|---|---|---|---|---|---|---|---|---|"]

    def ms(n, sim, dtype):
        """Median of the valid runs; for a peer, of its faster wait policy (named)."""
        best, label = float("nan"), ""
        rs = [r for r in med.get((n, sim, dtype), []) if r["rate_ok"]]
        for policy in sorted({r.get("omp_wait", "") for r in rs}):
            m = statistics.median(r["ms_per_sim_s"] for r in rs
                                  if r.get("omp_wait", "") == policy)
            if not best <= m:
                best, label = m, policy
        return best, label

    def rate(n, sim, dtype):
        rs = med.get((n, sim, dtype), [])
        return statistics.median(r["mean_rate_hz"] for r in rs) if rs else float("nan")

    for n in sizes:
        (ns32, _), (ns64, _) = ms(n, "neurosim", "float32"), ms(n, "neurosim", "float64")
        (cpp, cpp_w), (nest, nest_w) = ms(n, "brian2", "float64"), ms(n, "nest", "float64")
        syn = next(r["synapses"] for r in rows if r["N"] == n)
        lines.append(f"| {n} | {syn:.2e} | {ns32:.1f} | {ns64:.1f} | {cpp:.1f} ({cpp_w}) | "
                     f"{nest:.1f} ({nest_w}) | "
                     f"{rate(n, 'neurosim', 'float32'):.2f} / {rate(n, 'brian2', 'float64'):.2f}"
                     f" / {rate(n, 'nest', 'float64'):.2f} | {cpp / ns32:.2f}x | "
                     f"{nest / ns32:.2f}x |")
    void = [r for r in rows if not r["rate_ok"]]
    if void:
        lines += ["", "Not counted (rate more than "
                  f"{RATE_TOLERANCE:.0%} from neurosim float32's): "
                  + "; ".join(f"N {r['N']} {r['simulator']} {r['mean_rate_hz']:.2f} Hz"
                              for r in void)]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 10000, 30000, 100000])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--duration-ms", type=float, default=2000.0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--peers", nargs="+", default=["cpp_standalone", "nest"],
                    choices=["cpp_standalone", "nest"])
    ap.add_argument("--wait-policy", default="passive", choices=["passive", "default"],
                    help="OMP_WAIT_POLICY of the peers (see the module docstring)")
    ap.add_argument("--no-neurosim", dest="neurosim", action="store_false",
                    help="peers only (e.g. a second pass with another wait policy)")
    ap.add_argument("--append", action="store_true", help="add the rows to an existing CSV")
    ap.add_argument("--out", default=str(HERE / "out" / "scaling_cpu.csv"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    work = out.parent / "work"
    work.mkdir(parents=True, exist_ok=True)
    host = host_description()
    print(f"host: {host}; load {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    for n in args.sizes:
        net_file = work / f"scale_{n}.npz"
        t0 = time.perf_counter()
        meta = write_network(n, net_file)
        print(f"N = {n}: {meta['synapses']:.3g} synapses, file in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        for repeat in range(args.repeats):
            for info, cmd, env in plan(n, net_file, work, args):
                load = os.getloadavg()[0]
                result, wall = run_adapter(cmd, env)
                if result is None:
                    continue
                row = dict(N=n, synapses=meta["synapses"], repeat=repeat, threads=args.threads,
                           **info, omp_wait=("" if info["simulator"] == "neurosim"
                                             else args.wait_policy), wall_s_process=round(wall, 2), load_1m=round(load, 2),
                           ms_per_sim_s=1000 * result["wall_s_loop"] / (args.duration_ms / 1e3),
                           mean_rate_hz=result["mean_rate_hz"],
                           peak_rss_mb=round(result.get("peak_rss_mb", float("nan")), 1),
                           build_s=round(result.get("build_s", float("nan")), 2), host=host)
                rows.append(row)
                print(f"  {info['simulator']:8s} {info['dtype']}: {row['ms_per_sim_s']:9.1f} "
                      f"ms/sim-s, rate {row['mean_rate_hz']:.2f} Hz, process {wall:6.1f} s, "
                      f"RSS {row['peak_rss_mb']:.0f} MB, load {load:.1f}", flush=True)
        net_file.unlink(missing_ok=True)
    if args.append and out.exists():
        with open(out, newline="") as f:
            old = list(csv.DictReader(f))
        for r in old:
            if "omp_wait" not in r:     # rows written before the option: peers ran PASSIVE
                r["omp_wait"] = "" if r["simulator"] == "neurosim" else "passive"
            for k in ("N", "synapses", "repeat", "threads"):
                r[k] = int(r[k])
            for k in ("ms_per_sim_s", "mean_rate_hz", "peak_rss_mb", "build_s", "load_1m",
                      "wall_s_process"):
                r[k] = float(r[k])
        rows = old + rows
    for n in sorted({r["N"] for r in rows}):
        ref = [r["mean_rate_hz"] for r in rows if r["N"] == n and r["simulator"] == "neurosim"
               and r["dtype"] == "float32"]
        ref_rate = statistics.median(ref) if ref else float("nan")
        for r in rows:
            if r["N"] == n:
                r["rate_ok"] = abs(r["mean_rate_hz"] - ref_rate) <= RATE_TOLERANCE * ref_rate
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[-1]))
        w.writeheader()
        w.writerows(rows)
    text = summary(rows, args.threads)
    (out.parent / "scaling_cpu_summary.md").write_text(f"host: {host}\n\n{text}\n")
    print("\n" + text)


if __name__ == "__main__":
    main()
