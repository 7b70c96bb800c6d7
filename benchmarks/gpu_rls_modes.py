"""RLS on the GPU: the update inside the chunk kernel ("fused") against split launches with
CuPy ("split"), over feature counts and replicate counts, to set ``gpu.FUSED_RLS_MAX_BYTES``.

``python benchmarks/gpu_rls_modes.py [--quick] [--sizes 100 250 500 1000 2000]
[--batches 1 132] [--duration-ms 200] [--every 2] [--dtype float64] [--out DIR]``

Each replicate: a dense ``NetworkConfig(n_neurons=N)`` reservoir (fast features + bias: F =
N + 1 by default) with one RLS readout (alpha 1, lam 1, an update every ``--every`` gated steps, the gate
always open, a 5 Hz sine target); one seed per replicate, all of them share the stream. Timed
loop only (``Replicates.wall_s``, synchronised by the final copy to the host), after a
warm-up that compiles the kernel. Both modes run the same steps on the same seeds, so their
final weights must agree (the largest difference is reported).

Columns: N, F, B, mode, auto (what "auto" picks here), simulated_s, wall_s,
ms_per_sim_s_per_replicate, speedup_fused (split wall / fused wall), max_abs_dW, device.
CSV: ``$OUT/gpu_rls_modes.csv`` (or benchmarks/out). Needs a GPU (or the CUDA simulator,
where the timings mean nothing: use it only to try the script).
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from b5_scaling import device_string, out_dir, write_csv  # noqa: E402

from neurosim import gpu  # noqa: E402
from neurosim.config import FeaturesConfig, NetworkConfig, RunConfig  # noqa: E402
from neurosim.kernels.rls import rls_init  # noqa: E402
from neurosim.replicates import run_replicates  # noqa: E402
from neurosim.simulator import n_features, new_readout  # noqa: E402
from neurosim.streams import ArrayStream  # noqa: E402


def run(n, seeds, mode, duration_ms, every, dtype):
    cfg = NetworkConfig(n_neurons=n, scale_weights_with_n=True,
                        features=FeaturesConfig(bias=True))
    steps = int(round(duration_ms))
    t = np.arange(steps) / 1000.0
    stream = ArrayStream(np.zeros((steps, 0)), steps, gate=np.ones(steps),
                         target=np.sin(2 * np.pi * 5 * t)[:, None])

    def readout(net):
        nf = n_features(net)
        return new_readout(1, nf, net.n_neurons, net.a.dtype, rule="rls", lam=1.0,
                           rls_every=every, P=rls_init(nf, 1.0, net.a.dtype))

    run_cfg = RunConfig(dtype=dtype, duration_ms=duration_ms, chunk_ms=duration_ms)
    return run_replicates(cfg, run_cfg, seeds, backend="cuda", stream=stream,
                          readout=readout, rls=mode)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="N 250, 1000, 2000 at B = 1; N 250, 1000 at B = multiprocessors")
    ap.add_argument("--sizes", type=int, nargs="+")
    ap.add_argument("--batches", type=int, nargs="+")
    ap.add_argument("--duration-ms", type=float, default=200.0)
    ap.add_argument("--every", type=int, default=2)
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    if not gpu.gpu_usable():
        print("gpu_rls_modes: SKIPPED (no GPU with CuPy, and NUMBA_ENABLE_CUDASIM is not 1)")
        return []
    sizes = args.sizes or ([250, 1000, 2000] if args.quick else [100, 250, 500, 1000, 2000])
    batches = args.batches or [1, gpu.multiprocessors()]
    device, sim_s = device_string(), args.duration_ms / 1000.0
    print(f"RLS modes, {args.duration_ms} ms, update every {args.every} steps, {args.dtype}; "
          f"device {device}", flush=True)
    for mode in ("fused", "split"):
        run(16, [0], mode, 5.0, args.every, args.dtype)            # compile both paths
    rows = []
    cases = [(n, B) for n in sizes for B in batches
             if not (args.quick and B > 1 and n > 1000)]     # (keeps the quick run short)
    for n, B in cases:
        res = {}
        for mode in ("fused", "split"):
            try:
                res[mode] = run(n, list(range(B)), mode, args.duration_ms, args.every,
                                args.dtype)
            except Exception as exc:  # noqa: BLE001 -- record (e.g. out of memory), go on
                print(f"  N={n} B={B} {mode}: FAILED {exc.__class__.__name__}: {exc}")
        if len(res) < 2:
            continue
        f = res["fused"].readouts[0].W.shape[1]
        auto = "fused" if gpu.rls_fused("auto", B, f, np.dtype(args.dtype).itemsize) \
            else "split"
        dW = max(float(np.abs(a.W - b.W).max())
                 for a, b in zip(res["fused"].readouts, res["split"].readouts))
        speed = res["split"].wall_s / res["fused"].wall_s
        for mode, r in res.items():
            rows.append(dict(N=n, F=f, B=B, mode=mode, auto=auto, simulated_s=sim_s,
                             wall_s=round(r.wall_s, 4),
                             ms_per_sim_s_per_replicate=round(1e3 * r.wall_s / sim_s / B,
                                                              3),
                             speedup_fused=round(speed, 3), max_abs_dW=dW, device=device))
        print(f"  N={n:5d} B={B:4d}: fused {res['fused'].wall_s:.3f} s, split "
              f"{res['split'].wall_s:.3f} s, fused x{speed:.2f} (auto: {auto}), "
              f"max |dW| {dW:.2e}", flush=True)
    write_csv(out_dir(args.out) / "gpu_rls_modes.csv", rows)
    return rows


if __name__ == "__main__":
    main()
