"""B6 (PERFORMANCE.md): B replicate 1000-neuron reservoirs with plastic readouts on one GPU.

``python benchmarks/b6_replicates.py [--quick] [--batches 1 16 128 512] [--duration-ms 1000]
[--cpu-reps 2] [--n 1000] [--out DIR]``

Each replicate: the B1 network (``NetworkConfig()``: Izhikevich 2003, N = 1000 dense, thalamic
noise), its own seed (network, initial state, noise), and a plastic readout: two outputs,
three-factor online delta rule (eta 1e-4, eligibility decay 0.5) on the fast features, gate
always open, targets sin / cos at 4 Hz. All replicates share the input stream.

* GPU: :func:`neurosim.replicates.run_replicates` (``backend='cuda'``, device noise), one kernel
  launch per chunk for all B networks (one thread block each); timed loop only
  (``Replicates.wall_s``, which ends with the copy of the final state to the host, so it is
  synchronised), after a warm-up run that compiles the kernel.
* CPU: the same call with ``backend='numba'`` (one Simulator per replicate, one after the
  other, one thread) on ``--cpu-reps`` replicates after a warm-up; the sequential time for B
  replicates is ``B x`` the median per-replicate time (they are independent and alike).

Columns: backend, B, N, simulated_s, wall_s, per_replicate_s, agg_sim_s_per_s (B x simulated
seconds per wall second), speedup_vs_cpu_seq (aggregate throughput over sequential numba),
mean_rate_hz, setup_s, device, host. CSV: ``$OUT/b6_replicates.csv`` (or benchmarks/out).
"""
import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from b5_scaling import device_string, host_string, out_dir, write_csv  # noqa: E402

from neurosim.config import NetworkConfig, RunConfig  # noqa: E402
from neurosim.replicates import run_replicates  # noqa: E402
from neurosim.simulator import n_features, new_readout  # noqa: E402
from neurosim.streams import ArrayStream  # noqa: E402


def make_stream(steps, chunk_steps, dt_ms=1.0):
    t = np.arange(steps) * dt_ms / 1000.0
    target = np.stack([np.sin(2 * np.pi * 4 * t), np.cos(2 * np.pi * 4 * t)], axis=1)
    return ArrayStream(np.zeros((steps, 0)), chunk_steps, gate=np.ones(steps), target=target)


def readout(net):
    return new_readout(2, n_features(net), net.n_neurons, net.a.dtype, rule="online", eta=1e-4,
                       e_decay=0.5)


def run(backend, seeds, n, duration_ms, dtype, threads=None):
    cfg = NetworkConfig(n_neurons=n)
    steps = int(round(duration_ms))
    run_cfg = RunConfig(dtype=dtype, duration_ms=duration_ms, chunk_ms=min(1000.0, duration_ms))
    stream = make_stream(steps, min(1000, steps))
    return run_replicates(cfg, run_cfg, seeds, backend=backend, stream=stream, readout=readout,
                          threads=threads)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="B = 1, 16, 128; 500 ms simulated")
    ap.add_argument("--batches", type=int, nargs="+")
    ap.add_argument("--duration-ms", type=float)
    ap.add_argument("--cpu-reps", type=int, default=2)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--threads", type=int, help="threads per block (cuda)")
    ap.add_argument("--no-gpu", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    batches = args.batches or ([1, 16, 128] if args.quick else [1, 16, 128, 512, 1024])
    duration = args.duration_ms or (500.0 if args.quick else 1000.0)
    sim_s = duration / 1000.0
    host, device = host_string(), device_string()
    print(f"B6 replicates, N = {args.n}, {duration} ms, dtype {args.dtype}; host {host}; "
          f"device {device}", flush=True)
    run("numba", [0], args.n, 5.0, args.dtype)                      # JIT warm-up
    cpu = [run("numba", [100 + i], args.n, duration, args.dtype) for i in range(args.cpu_reps)]
    per_cpu = statistics.median(c.wall_s for c in cpu)
    rate_cpu = statistics.mean(c.spikes[0].mean_rate(duration) for c in cpu)
    rows = [dict(backend="numba", B=1, N=args.n, simulated_s=sim_s, wall_s=round(per_cpu, 4),
                 per_replicate_s=round(per_cpu, 4), agg_sim_s_per_s=round(sim_s / per_cpu, 3),
                 speedup_vs_cpu_seq=1.0, mean_rate_hz=round(rate_cpu, 2), setup_s=0.0,
                 device="cpu (1 thread, sequential)", host=host)]
    print(f"  numba sequential: {per_cpu:.3f} s per replicate, {rate_cpu:.1f} Hz", flush=True)
    from neurosim.gpu import gpu_usable
    if not gpu_usable():
        print("  cuda: SKIPPED (no GPU with CuPy, and NUMBA_ENABLE_CUDASIM is not 1)")
    if not args.no_gpu and gpu_usable():
        run("cuda", [0], args.n, 5.0, args.dtype, args.threads)    # kernel JIT warm-up
        for B in batches:
            try:
                res = run("cuda", list(range(1000, 1000 + B)), args.n, duration, args.dtype,
                          args.threads)
            except Exception as exc:  # noqa: BLE001 -- record (e.g. out of memory) and go on
                print(f"  cuda B={B}: FAILED {exc.__class__.__name__}: {exc}", flush=True)
                rows.append(dict(backend="cuda", B=B, N=args.n, error=str(exc)))
                continue
            rate = statistics.mean(s.mean_rate(duration) for s in res.spikes)
            agg = B * sim_s / res.wall_s
            rows.append(dict(backend="cuda", B=B, N=args.n, simulated_s=sim_s,
                             wall_s=round(res.wall_s, 4),
                             per_replicate_s=round(res.wall_s / B, 5),
                             agg_sim_s_per_s=round(agg, 3),
                             speedup_vs_cpu_seq=round(agg / (sim_s / per_cpu), 2),
                             mean_rate_hz=round(rate, 2), setup_s=round(res.setup_s, 3),
                             device=device, host=host))
            print(f"  cuda B={B:5d}: {res.wall_s:.3f} s, {agg:.1f} sim-s/s, x"
                  f"{rows[-1]['speedup_vs_cpu_seq']} vs sequential CPU, {rate:.1f} Hz",
                  flush=True)
    write_csv(out_dir(args.out) / "b6_replicates.csv", rows)
    return rows


if __name__ == "__main__":
    main()
