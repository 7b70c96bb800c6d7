"""Bar chart of B1/B2 results: ms of wall time per simulated second (loop), and process time.

``python benchmarks/plot.py [benchmarks/out/b1_b2.csv] [-o benchmarks/out/b1_b2.png]``

One panel per case; bars are medians over repeats (cold- and warm-cache runs pooled for the loop panel), whiskers
span min..max; a second row shows whole-process seconds, cold and warm caches.
Brian2 timings whose rate check failed are hatched and labelled VOID.
"""
from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _label(r):
    if r["simulator"] == "neurosim":
        return f"neurosim numba {r['dtype'].replace('float', 'f')}"
    if r["backend"] == "cpp_standalone":
        passive = " PASSIVE" if r["cache"] == "rerun-passive" else ""  # OMP_WAIT_POLICY
        return f"Brian2 cpp {r['threads']} thr{passive}"
    return f"Brian2 {r['backend']}"


def load(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def grouped(rows, case, cache, value):
    out = {}
    for r in rows:
        if r["case"] == case and cache in (None, r["cache"]):
            out.setdefault(_label(r), []).append((float(r[value]), r["rate_ok"] == "True"))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="?", default=str(HERE / "out" / "b1_b2.csv"))
    ap.add_argument("-o", "--output", default=None)
    args = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = load(args.csv)
    cases = sorted({r["case"] for r in rows})
    fig, axes = plt.subplots(2, len(cases), figsize=(6.5 * len(cases), 8), squeeze=False)
    for col, case in enumerate(cases):
        ax = axes[0, col]
        data = grouped(rows, case, None, "ms_per_sim_s_loop")  # loop: cold and warm runs
        labels = sorted(data, key=lambda k: statistics.median(v for v, _ in data[k]))
        meds = [statistics.median(v for v, _ in data[k]) for k in labels]
        lo = [m - min(v for v, _ in data[k]) for m, k in zip(meds, labels)]
        hi = [max(v for v, _ in data[k]) - m for m, k in zip(meds, labels)]
        colors = ["tab:blue" if k.startswith("neurosim") else "tab:orange" for k in labels]
        bars = ax.bar(labels, meds, yerr=[lo, hi], color=colors, capsize=3)
        for bar, k, m in zip(bars, labels, meds):
            void = not all(ok for _, ok in data[k])
            if void:
                bar.set_hatch("//")
            ax.annotate(f"{m:.0f}" + (" VOID" if void else ""), (bar.get_x() + bar.get_width() / 2, m),
                        ha="center", va="bottom", fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("ms wall per simulated second (loop only)")
        n_row = next(r for r in rows if r["case"] == case)
        ax.set_title(f"{case.upper()}: N = {n_row['N']}, {int(n_row['synapses']):,} synapses, "
                     f"dt {n_row['dt_ms']} ms")
        ax.tick_params(axis="x", rotation=30)

        ax = axes[1, col]
        proc = {c: grouped(rows, case, c, "wall_s_process") for c in ("cold", "warm")}
        labels = sorted(set(proc["cold"]) | set(proc["warm"]))
        width = 0.4
        for shift, cache, color in ((-width / 2, "cold", "tab:gray"), (width / 2, "warm", "tab:green")):
            vals = [statistics.median(v for v, _ in proc[cache][k]) if k in proc[cache] else 0.0
                    for k in labels]
            xs = [i + shift for i in range(len(labels))]
            ax.bar(xs, vals, width, color=color, label=f"{cache} cache / build")
            for x, v in zip(xs, vals):
                if v:
                    ax.annotate(f"{v:.1f}", (x, v), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(labels)), labels, rotation=30)
        ax.set_ylabel("whole process, s (incl. import, build, JIT / compile)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    output = args.output or str(Path(args.csv).with_suffix(".png"))
    fig.savefig(output, dpi=120)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
