"""B4 (PERFORMANCE.md): cost of one RLS update of the FORCE readout.

Run as ``python benchmarks/b4_rls.py [--updates 500] [--repeats 3] [--n-feat 1000 2000]``.

Each run makes ``updates`` consecutive updates (a priori error ``W x - target``, then the
update) on fresh ``P = I/alpha`` (alpha = 0.5, as Nicola & Clopath), ``W = 0``, one output,
random positive features. Implementations:

* ``naive_numpy``: Python loop, ``k = P @ x; P -= np.outer(k, k) / (1 + x @ k); W -= ...``
  (temporaries every update; BLAS limited to 1 thread, like the kernels);
* ``fused_njit``: :func:`neurosim.kernels.rls.rls_step` in a compiled loop (two passes
  over P, no allocation);
* ``fused_lazy``: :func:`neurosim.kernels.rls.rls_step_lazy` (deferred rank-1 update,
  one read+write pass over P per update), flushed at the end (flush included).

Runs alternate between implementations; the median over repeats is reported.
``ratio_vs_naive`` = wall(naive) / wall(impl), i.e. the speed-up over naive NumPy.
``ms_per_sim_s`` (printed) = per-update cost x 1250 updates per simulated second (FORCE
sinusoid protocol: dt = 0.04 ms, an update every 20 steps).
Writes tidy CSV to ``benchmarks/out/b4_rls.csv``.
"""
import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from neurosim.kernels.rls import rls_fit_stream, rls_init  # noqa: E402

UPDATES_PER_SIM_S = 1250  # dt 0.04 ms -> 25000 steps/s, update every 20 steps
ALPHA = 0.5


def naive_numpy(P, W, X, T):
    for s in range(X.shape[0]):
        x = X[s]
        err = W @ x - T[s]
        k = P @ x
        denom = 1.0 + x @ k
        P -= np.outer(k, k) / denom
        W -= np.outer(err, k) / denom


def fused_njit(P, W, X, T):
    rls_fit_stream(P, W, X, T, 1.0, 1, False)


def fused_lazy(P, W, X, T):
    rls_fit_stream(P, W, X, T, 1.0, 1, True)


IMPLS = {"naive_numpy": naive_numpy, "fused_njit": fused_njit, "fused_lazy": fused_lazy}


def host_string():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.node()} | {cpu} | {os.cpu_count()} cpus"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-feat", type=int, nargs="+", default=[1000, 2000])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "out" / "b4_rls.csv"))
    args = ap.parse_args()

    host = host_string()
    rng = np.random.default_rng(0)
    rows = []
    # warm up the JIT (or load it from cache) for both dtypes
    for dt in (np.float64, np.float32):
        for impl in ("fused_njit", "fused_lazy"):
            IMPLS[impl](rls_init(8, ALPHA, dt), np.zeros((1, 8), dt), np.ones((2, 8), dt),
                        np.ones((2, 1), dt))
    for n in args.n_feat:
        for dt in (np.float64, np.float32):
            X = (0.1 * rng.random((args.updates, n))).astype(dt)
            T = np.sin(2 * np.pi * 5 * 0.8e-3 * np.arange(args.updates))[:, None].astype(dt)
            times = {k: [] for k in IMPLS}
            for _ in range(args.repeats):
                for name, fn in IMPLS.items():  # alternate implementations
                    P = rls_init(n, ALPHA, dt)
                    W = np.zeros((1, n), dt)
                    t0 = time.perf_counter()
                    fn(P, W, X, T)
                    times[name].append(time.perf_counter() - t0)
            med = {k: float(np.median(v)) for k, v in times.items()}
            for name in IMPLS:
                rows.append(dict(
                    case="B4_rls", impl=name, dtype=np.dtype(dt).name, n_feat=n,
                    updates=args.updates, wall_s_median=med[name],
                    per_update_us=med[name] / args.updates * 1e6,
                    ratio_vs_naive=med["naive_numpy"] / med[name], host=host,
                ))

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cols = ["case", "impl", "dtype", "n_feat", "updates", "wall_s_median", "per_update_us",
            "ratio_vs_naive", "host"]
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: (f"{r[c]:.6g}" if isinstance(r[c], float) else r[c]) for c in cols})

    print(f"B4 RLS, {args.updates} updates, median of {args.repeats}, host: {host}")
    print(f"{'impl':<12} {'dtype':<8} {'n_feat':>6} {'wall_s':>8} {'us/update':>10} "
          f"{'x naive':>8} {'ms/sim_s':>9} {'/lazy':>6}")
    for r in rows:
        lazy = next(q for q in rows if q["impl"] == "fused_lazy" and q["dtype"] == r["dtype"]
                    and q["n_feat"] == r["n_feat"])
        print(f"{r['impl']:<12} {r['dtype']:<8} {r['n_feat']:>6} {r['wall_s_median']:>8.3f} "
              f"{r['per_update_us']:>10.1f} {r['ratio_vs_naive']:>8.2f} "
              f"{r['per_update_us'] * UPDATES_PER_SIM_S / 1e3:>9.1f} "
              f"{r['wall_s_median'] / lazy['wall_s_median']:>6.2f}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
