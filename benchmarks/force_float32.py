"""FORCE in float32 vs float64 (issue 15): does the short protocol still meet its criteria,
and how far do P's symmetry and positive definiteness drift?

Run as ``NUMBA_NUM_THREADS=1 python benchmarks/force_float32.py [--seeds 0 1]
[--targets sine two_tone]``.

``run.dtype`` sets the network's and the readout's dtype, P included (float32 P = float32
RLS arithmetic: ``kernels/rls.py`` keeps it in the dtype of P). Per target, seed and dtype:
the force experiment's feedback condition on its short protocol (``sine``: the defaults,
settle 0.5 s, train 1 s, test 1 s; ``two_tone``: ``examples/force_two_tone.toml``, train
4 s), without the no-feedback control (it does not depend on P's dtype). Reported: the
criteria of ``criteria_table`` (correlation >= 0.90 and RMS <= 0.30 over the first test
second, spectral peak), and of P at the end of training: ``max |P - P^T|``, the smallest
eigenvalue (``eigvalsh`` of P in float64, so the float32 entries are judged, not the
eigen-solver), the largest, and ``|P32 - P64|_F / |P64|_F`` (same seed).
Writes ``benchmarks/out/force_float32.csv``.
"""
import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import time  # noqa: E402
import tomllib  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from neurosim.experiments import force_targets as targets  # noqa: E402
from neurosim.experiments.common import network_and_run  # noqa: E402
from neurosim.experiments.force import (TargetStream, criteria_table, evaluate_all,  # noqa: E402
                                        resolve_config, simulate)

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"sine": {}, "two_tone": tomllib.loads(
    (ROOT / "examples" / "force_two_tone.toml").read_text())}


def one(target, seed, dtype):
    user = dict(TARGETS[target], run={"seed": seed, "dtype": dtype})
    config, spec = resolve_config(user)
    protocol = config["protocol"]
    _, run_cfg = network_and_run(config)
    n_steps = TargetStream.phase_bounds(run_cfg.dt_ms, protocol["settle_ms"],
                                        protocol["train_ms"], protocol["test_ms"])[-1]
    signal = targets.make_target(spec, np.arange(n_steps) * run_cfg.dt_ms, None)
    t0 = time.perf_counter()
    res = simulate(config, protocol, float(config["force"]["feedback_gain"]), signal)
    wall = time.perf_counter() - t0
    periodic = targets.is_periodic(spec)
    m = evaluate_all(res, config["evaluation"], periodic)
    rows = criteria_table(m, None, config["criteria"], False,
                          targets.peak_frequency(spec) if periodic else None)
    P = res["sim"].readout.P
    P64 = P.astype(np.float64)
    ev = np.linalg.eigvalsh(P64)
    return dict(target=target, seed=seed, dtype=dtype,
                passed=all(r["passed"] for r in rows if r["passed"] is not None),
                correlation=min(x["correlation"] for x in m), rms=max(x["rms"] for x in m),
                peak_hz=m[0]["peak_hz"], window_corr_min=min(x["window_correlation_min"]
                                                             for x in m),
                asym_max=float(np.abs(P64 - P64.T).max()), eig_min=float(ev[0]),
                eig_max=float(ev[-1]), wall_s=wall), P64, res["sim"].readout.W.astype(float)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "force_float32.csv"))
    args = ap.parse_args()
    load0 = os.getloadavg()
    rows = []
    for target in args.targets:
        for seed in args.seeds:
            got = {}
            for dtype in ("float64", "float32"):
                row, P, W = one(target, seed, dtype)
                got[dtype] = (P, W)
                if dtype == "float32":
                    P64, W64 = got["float64"]
                    row["P_rel_diff"] = float(np.linalg.norm(P - P64) / np.linalg.norm(P64))
                    row["W_rel_diff"] = float(np.linalg.norm(W - W64) / np.linalg.norm(W64))
                else:
                    row["P_rel_diff"] = row["W_rel_diff"] = 0.0
                rows.append(row)
                print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in row.items()), flush=True)
    load1 = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"\nload average at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, "
          f"at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    print("| target | seed | dtype | criteria | test corr | RMS | peak Hz | min window corr | "
          "max abs(P - P^T) | min eig P | max eig P | rel. diff P vs float64 | W | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['target']} | {r['seed']} | {r['dtype']} | "
              f"{'pass' if r['passed'] else 'FAIL'} | {r['correlation']:.4f} | "
              f"{r['rms']:.4f} | {r['peak_hz']:.3f} | {r['window_corr_min']:.4f} | "
              f"{r['asym_max']:.1e} | {r['eig_min']:.3e} | {r['eig_max']:.3g} | "
              f"{r['P_rel_diff']:.2e} | {r['W_rel_diff']:.2e} | {r['wall_s']:.1f} |")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
