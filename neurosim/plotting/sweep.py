"""``neurosim plot SWEEP.h5 --kind sweep --x FIELD --y METRIC``: a metric over a sweep.

One field: the mean over seeds against the field, with the 95 % interval as a band and
each seed as a dot, one line per combination of the other fields. Two fields (``--x A,B``):
a heatmap of the mean over seeds (values averaged over any further fields), cell text the
mean and the number of seeds.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _values(column: np.ndarray) -> list:
    """Index/aggregate column as Python values (JSON text decoded)."""
    if column.dtype.kind in "US":
        return [json.loads(v) for v in column.astype(str)]
    return [float(v) for v in column]


def _key(v):
    return json.dumps(v, sort_keys=True)


def _sortable(vals):
    try:
        return sorted(vals, key=lambda v: (float(v),))
    except (TypeError, ValueError):
        return sorted(vals, key=_key)


def plot_sweep(path, x: str, y: str, out: Path) -> str:
    """Draw metric ``y`` against field ``x`` (or a heatmap for ``x = "A,B"``) into ``out``;
    returns a one-line description. Errors name the valid fields or metrics."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ..sweep.index import read_index
    data = read_index(path)
    summary, idx, agg = data["summary"], data["index"], data["aggregates"]
    fields, metrics = summary.get("fields", []), summary.get("metrics", [])
    seed_field = summary.get("seed_field")
    xs = [f.strip() for f in (x or "").split(",") if f.strip()]
    if not xs or len(xs) > 2:
        raise ValueError(f"--x: give one field, or two as A,B for a heatmap; fields: "
                         f"{', '.join(fields)}")
    for f in xs:
        if f not in fields:
            raise ValueError(f"--x {f!r} is not a field of this sweep; fields: {', '.join(fields)}")
    if y not in metrics:
        raise ValueError(f"--y {y!r} is not a metric of this sweep; metrics: {', '.join(metrics)}")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    if len(xs) == 1 and xs[0] != seed_field:
        sel = np.asarray(agg["metric"]).astype(str) == y
        xv = _values(agg[f"field.{xs[0]}"][sel])
        others = [f for f in fields if f not in (xs[0], seed_field)]
        combos = [tuple(_key(v) for v in vals) for vals in
                  zip(*[_values(agg[f"field.{f}"][sel]) for f in others])] or [()] * len(xv)
        mean, lo, hi = agg["mean"][sel], agg["ci95_lo"][sel], agg["ci95_hi"][sel]
        for combo in dict.fromkeys(combos):
            rows = [k for k, c in enumerate(combos) if c == combo]
            rows.sort(key=lambda k: (float(xv[k]) if isinstance(xv[k], (int, float)) else 0))
            xx = np.arange(len(rows)) if not all(isinstance(xv[k], (int, float)) for k in rows) \
                else np.array([xv[k] for k in rows], dtype=float)
            label = ", ".join(f"{f}={json.loads(c)}" for f, c in zip(others, combo)) or y
            line, = ax.plot(xx, mean[rows], "o-", label=label)
            ax.fill_between(xx, lo[rows], hi[rows], color=line.get_color(), alpha=0.2)
        done = np.asarray(idx["status"]).astype(str) == "done"
        px = _values(idx[f"field.{xs[0]}"])
        py = idx[f"metric.{y}"]
        if all(isinstance(v, (int, float)) for v in px):
            ax.plot(np.array(px, dtype=float)[done], py[done], ".", color="0.4", ms=3,
                    label="each seed" if seed_field else "each point")
        ax.set_xlabel(xs[0])
        ax.set_ylabel(y)
        ax.legend(fontsize=7)
        ax.set_title(f"{y} vs {xs[0]}: mean, 95 % interval over seeds", fontsize=9)
        what = f"{y} against {xs[0]}"
    else:
        a, b = (xs + [None])[:2] if len(xs) == 2 else (xs[0], None)
        done = np.asarray(idx["status"]).astype(str) == "done"
        va = _values(idx[f"field.{a}"])
        vb = _values(idx[f"field.{b}"]) if b else [0] * len(va)
        ua = _sortable(list({_key(v): v for v in va}.values()))
        ub = _sortable(list({_key(v): v for v in vb}.values()))
        grid = np.full((len(ub), len(ua)), np.nan)
        count = np.zeros_like(grid, dtype=int)
        py = idx[f"metric.{y}"]
        for k in np.flatnonzero(done & np.isfinite(py)):
            i, j = [_key(v) for v in ub].index(_key(vb[k])), [_key(v) for v in ua].index(_key(va[k]))
            grid[i, j] = py[k] if count[i, j] == 0 else grid[i, j] + py[k]
            count[i, j] += 1
        grid = np.where(count > 0, grid / np.maximum(count, 1), np.nan)
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(ua)), [str(v) for v in ua], fontsize=7)
        ax.set_yticks(range(len(ub)), [str(v) for v in ub], fontsize=7)
        for i in range(len(ub)):
            for j in range(len(ua)):
                if count[i, j]:
                    ax.text(j, i, f"{grid[i, j]:.3g}\n(n={count[i, j]})", ha="center",
                            va="center", fontsize=6, color="w")
        ax.set_xlabel(a)
        ax.set_ylabel(b or "")
        fig.colorbar(im, ax=ax, label=f"{y} (mean over points)")
        what = f"heatmap of {y} over {a}" + (f" x {b}" if b else "")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return f"{out}: {what} ({summary.get('counts', {}).get('done', 0)} finished points)"
