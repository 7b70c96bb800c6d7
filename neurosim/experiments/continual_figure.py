"""Figure of ``neurosim run continual``: accuracy heatmaps per method and per-task curves."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def draw(runs: list[dict], rows: list[dict], par: dict, path: Path) -> None:
    """Top row: seed-averaged R[b, k] per method. Bottom: R[b, k] against block per task
    (mean over seeds, one line per method), with the training task(s) of each block marked.
    With a random schedule each seed has its own sequence: the bottom row's shading and the
    heatmap's row labels show the first seed's."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [r["method"] for r in rows]
    K = len(par["latency_ms"])
    fig, axes = plt.subplots(2, max(len(methods), K), figsize=(2.4 * max(len(methods), K), 6.2),
                             squeeze=False)
    for j, m in enumerate(methods):
        R = np.mean([r["R"] for r in runs if r["method"] == m], axis=0)
        ax = axes[0, j]
        ax.imshow(R, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        tasks = next(r["tasks"] for r in runs if r["method"] == m)
        ax.set_title(f"{m}\nACC {rows[j]['ACC']:.2f}, BWT {rows[j]['BWT_rec']:+.2f}, "
                     f"FWT {rows[j]['FWT']:+.2f}", fontsize=8)
        ax.set_xticks(range(K))
        ax.set_xticklabels([f"T{k}\n{par['latency_ms'][k]:.0f} ms" for k in range(K)], fontsize=7)
        ax.set_yticks(range(len(tasks)))
        ax.set_yticklabels([f"b{b}:T" + "+".join(str(int(x)) for x in np.atleast_1d(t))
                            for b, t in enumerate(tasks)], fontsize=7)
        for b in range(R.shape[0]):
            for k in range(K):
                ax.text(k, b, f"{R[b, k]:.2f}", ha="center", va="center", fontsize=6,
                        color="w" if R[b, k] < 0.6 else "k")
    for j in range(len(methods), axes.shape[1]):
        axes[0, j].axis("off")
    for k in range(K):
        ax = axes[1, k]
        for m in methods:
            R = np.mean([r["R"] for r in runs if r["method"] == m], axis=0)
            ax.plot(np.arange(R.shape[0]), R[:, k], marker="o", ms=3, label=m)
        tasks = runs[0]["tasks"]
        for b, t in enumerate(tasks):
            if k in np.atleast_1d(t):
                ax.axvspan(b - 0.4, b + 0.4, color="0.9", zorder=0)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("block (shaded: this task trained)")
        ax.set_ylabel(f"R[b, {k}]")
        ax.set_title(f"task {k}: cue {k} -> {par['latency_ms'][k]:.0f} ms", fontsize=9)
    axes[1, 0].legend(fontsize=6)
    for j in range(K, axes.shape[1]):
        axes[1, j].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
