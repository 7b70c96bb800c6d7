"""Text tables of the what/when robustness grid: one line per point, one row per criterion.

``results`` is a list of dicts with ``point`` (kind, seed, values), ``metrics`` and
``passed`` (criterion -> bool), as ``whatwhen_robustness.run`` collects them.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

# criterion -> (point kind, target text); the *_force_contrast rows appear with --compare force
TARGETS = {
    "R4": ("gain", "r >= 0.95, slope 0.8-1.2, gain >= 0.3 on every seed"),
    "R2": ("latency", "peak within +-50 ms of each L and elsewhere <= 2/3 of it; "
                      ">= 2 of 3 seeds per pair"),
    "R5": ("latency", "what within 0.1 of P(identity | cue)"),
    "R6": ("timing", "three-factor re-adapts within 50 trials, every switch"),
    "R6_force_contrast": ("timing", "and FORCE: no reset >= 0.5 n1, reset <= 50"),
    "R7": ("probability", "within 0.1 of p2 over trials +25..+55, every switch"),
    "R7_force_contrast": ("probability", "and FORCE: no reset off by > 0.1, reset within"),
}


def point_label(point: dict) -> str:
    """'350/650', '600->850 ms', '0.8->0.2' (without the seed)."""
    if point["kind"] == "latency":
        a, b = point["latencies_ms"]
        return f"{a:g}/{b:g}"
    if point["kind"] == "timing":
        return f"{point['from']:g}->{point['to']:g} ms"
    if point["kind"] == "probability":
        return f"{point['from']:g}->{point['to']:g}"
    return "gain"


def measured(result: dict) -> str:
    """The point's measured values, short."""
    m, kind = result["metrics"], result["point"]["kind"]
    if kind == "latency":
        ratios = [m.get(f"r2_ratio_{k}", np.nan) for k in range(2)]
        peaks = [m.get(f"r2_peak_ms_{k}", np.nan) for k in range(2)]
        return (f"peaks {peaks[0]:.0f}/{peaks[1]:.0f} x{ratios[0]:.2f}/{ratios[1]:.2f}; "
                f"R5 {m.get('r5_max_error', np.nan):.3f}")
    if kind == "timing":
        text = f"3f {_n(m.get('r6_trials'))}"
        if "r6_force_trials" in m:
            text += (f"; FORCE {_n(m['r6_force_trials'])}, reset "
                     f"{_n(m['r6_force_reset_trials'])}")
        return text
    if kind == "probability":
        text = f"3f {m.get('r7_amplitude', np.nan):.2f}"
        if "r7_force_amplitude" in m:
            text += (f"; FORCE {m['r7_force_amplitude']:.2f} (cum. "
                     f"{m['cumulative_mean']:.2f}), reset {m['r7_force_reset_amplitude']:.2f}")
        return text
    text = (f"R4 r={m.get('r4_r', np.nan):.3f} slope={m.get('r4_slope', np.nan):.2f} "
            f"gain {m.get('gain', np.nan):.2f}")
    if "force_gain" in m:
        text += f", FORCE {m['force_gain']:.2f}"
    return text


def _n(v) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{v:.0f}"


def format_points(results) -> str:
    """One line per point: kind, values, seed, measured values, pass/fail per criterion."""
    lines = [f"{'point':<10} {'values':<16} {'seed':>4}  {'measured':<60} result"]
    for r in results:
        p = r["point"]
        verdict = " ".join(f"{k}:{'PASS' if v else 'FAIL'}" for k, v in r["passed"].items())
        lines.append(f"{p['kind']:<10} {point_label(p):<16} {p['seed']:>4}  "
                     f"{measured(r):<60} {verdict}")
    return "\n".join(lines)


def summary_rows(results) -> list[dict]:
    """Per criterion: grid points (over seeds) that pass, and whether the target holds.

    R2's target counts a latency pair as passing when it holds on at least 2 of 3 seeds (at
    least two thirds of the seeds run); every other criterion must hold at every point.
    """
    rows = []
    for crit, (kind, target) in TARGETS.items():
        per_value = defaultdict(list)
        for r in results:
            if r["point"]["kind"] == kind and crit in r["passed"]:
                per_value[point_label(r["point"])].append(bool(r["passed"][crit]))
        if not per_value:
            continue
        n_points = sum(len(v) for v in per_value.values())
        n_pass = sum(sum(v) for v in per_value.values())
        if crit == "R2":
            held = [sum(v) >= (2 * len(v) + 2) // 3 for v in per_value.values()]
        else:
            held = [all(v) for v in per_value.values()]
        rows.append({"id": crit, "experiment": f"{kind} grid ({len(per_value)} values)",
                     "value": f"{n_pass} of {n_points} points; {sum(held)} of {len(held)} "
                              "values hold", "criterion": target, "passed": all(held),
                     "n_pass": n_pass, "n_points": n_points, "n_values": len(held),
                     "n_values_held": int(sum(held))})
    return rows


def format_summary(rows) -> str:
    """Fixed-width summary: criterion, grid, counts, target, pass/fail."""
    lines = [f"{'id':<18} {'grid':<26} {'measured':<36} {'target':<66} result"]
    for r in rows:
        lines.append(f"{r['id']:<18} {r['experiment']:<26} {r['value']:<36} "
                     f"{r['criterion']:<66} {'PASS' if r['passed'] else 'FAIL'}")
    return "\n".join(lines)
