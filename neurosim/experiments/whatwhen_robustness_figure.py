"""Heatmaps of the what/when robustness grid: one panel per criterion, one cell per grid value.

A cell's colour is the fraction of seeds on which the criterion held there (green: all,
red: none; grey: not on the grid); its text is the measured value averaged over seeds:
R2 the worse of the two specificity ratios (elsewhere / peak), R5 the largest "what" error,
R6 the trials to re-adapt (">50": not within 50 on some seed), R7 the normalised amplitude.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

_PANELS = (
    ("R2", "latency", "R2: latency pairs (worse ratio elsewhere/peak)", "L_A (ms)", "L_B (ms)"),
    ("R5", "latency", "R5: 'what' error (max over cues)", "L_A (ms)", "L_B (ms)"),
    ("R6", "timing", "R6: timing switch, trials to re-adapt", "from (ms)", "to (ms)"),
    ("R7", "probability", "R7: amplitude +25..+55 after p1 -> p2", "p1", "p2"),
)


def _cell(point):
    if point["kind"] == "latency":
        return tuple(point["latencies_ms"])
    return point["from"], point["to"]


def _value(crit, metrics):
    if crit == "R2":
        return max(metrics.get("r2_ratio_0", np.nan), metrics.get("r2_ratio_1", np.nan))
    if crit == "R5":
        return metrics.get("r5_max_error", np.nan)
    if crit == "R6":
        v = metrics.get("r6_trials", np.nan)
        return np.inf if not np.isfinite(v) else v
    return metrics.get("r7_amplitude", np.nan)


def _text(crit, values):
    if crit == "R6":
        return ">50" if np.any(np.isinf(values)) else f"{np.mean(values):.0f}"
    return f"{np.mean(values):.2f}"


def _panel(ax, results, crit, kind, title, xlabel, ylabel):
    cells = defaultdict(list)
    for r in results:
        if r["point"]["kind"] == kind and crit in r["passed"]:
            cells[_cell(r["point"])].append((bool(r["passed"][crit]),
                                             _value(crit, r["metrics"])))
    if not cells:
        ax.set_axis_off()
        return
    rows = sorted({c[0] for c in cells})
    cols = sorted({c[1] for c in cells})
    frac = np.full((len(rows), len(cols)), np.nan)
    for (a, b), vals in cells.items():
        frac[rows.index(a), cols.index(b)] = np.mean([ok for ok, _ in vals])
    import matplotlib
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="0.9")
    image = ax.imshow(frac, cmap=cmap, vmin=0, vmax=1, origin="lower", aspect="auto")
    small = max(len(rows), len(cols)) > 10
    for (a, b), vals in cells.items():
        ax.text(cols.index(b), rows.index(a), _text(crit, np.array([v for _, v in vals])),
                ha="center", va="center", fontsize=5 if small else 7)
    ax.set_xticks(range(len(cols)), [f"{c:g}" for c in cols], rotation=90,
                  fontsize=6 if small else 8)
    ax.set_yticks(range(len(rows)), [f"{r:g}" for r in rows], fontsize=6 if small else 8)
    ax.set(xlabel=ylabel, ylabel=xlabel, title=title)
    return image


def draw(results, path) -> None:
    """Four heatmaps (R2, R5, R6, R7) of the grid, saved to ``path``."""
    from ..plotting._common import pyplot
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(14, 11))
    image = None
    for ax, spec in zip(axes.flat, _PANELS):
        image = _panel(ax, results, *spec) or image
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="fraction of seeds passing")
    fig.suptitle("what/when criteria over the robustness grid (cell text: measured, "
                 "mean over seeds)")
    fig.savefig(path, dpi=110)
    plt.close(fig)
