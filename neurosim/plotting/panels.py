"""Weight snapshots and metrics."""
from __future__ import annotations

import numpy as np

from ._common import as_run, new_axes, pyplot


def _weight_snapshots(run, name):
    """(name, snapshots) of the weights ``name`` (default: the run's first), with at least
    one snapshot; ValueError naming the run otherwise."""
    if name is None:
        if not run.weight_names:
            raise ValueError(f"run {run.id!r} records no weights")
        name = run.weight_names[0]
    snaps = run.weights(name)
    if len(snaps.trial) == 0:
        raise ValueError(f"weights {name!r} of run {run.id!r} hold no snapshot")
    return name, snaps


def weights(run, name=None, ax=None, kind="auto", snapshot=-1, bins=50, max_histograms=5):
    """Weight array ``name`` (default: the first recorded).

    ``kind="image"``: the matrix of one snapshot (index ``snapshot``; >2-D arrays are
    flattened to (shape[0], -1)); ``kind="hist"``: histograms of up to ``max_histograms``
    snapshots spread over the run; ``"auto"``: image for 2-D weights, else histogram.
    Returns the Axes.
    """
    run = as_run(run)
    name, snaps = _weight_snapshots(run, name)
    if kind == "auto":
        kind = "image" if snaps.data.ndim == 3 else "hist"
    if kind not in ("image", "hist"):
        raise ValueError(f"kind must be 'auto', 'image' or 'hist', not {kind!r}")
    fig, ax = new_axes(ax)
    if kind == "image":
        w = snaps.data[snapshot]
        w = w.reshape(w.shape[0], -1) if w.ndim > 1 else w[np.newaxis]
        lim = float(np.abs(w).max()) or 1.0
        im = ax.imshow(w, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        fig.colorbar(im, ax=ax, label="weight")
        ax.set_xlabel("presynaptic index")
        ax.set_ylabel("output")
        ax.set_title(f"{name} after trial {int(snaps.trial[snapshot])}")
    else:
        picks = np.unique(np.linspace(0, len(snaps.trial) - 1, max_histograms).round().astype(int))
        flat = snaps.data.reshape(len(snaps.trial), -1)
        edges = np.histogram_bin_edges(flat[picks], bins=bins)
        colors = pyplot().get_cmap("viridis")(np.linspace(0, 1, len(picks)))
        for color, p in zip(colors, picks):
            ax.hist(flat[p], bins=edges, histtype="step", color=color,
                    label=f"trial {int(snaps.trial[p])}")
        ax.set_xlabel("weight")
        ax.set_ylabel("count")
        ax.set_title(name)
        ax.legend(fontsize="small")
    return ax


def _row_names(run, name, n_rows):
    """Names of the rows of a readout weight matrix: the run's readout names when they fit."""
    for series in ("z0", "z"):
        if series in run.series_names:
            cols = run.series_columns(series)
            if len(cols) == n_rows:
                return cols
    return [f"{name}[{k}]" for k in range(n_rows)]


def weight_norms(run, name=None, ax=None):
    """L2 norm of each output's weights vs trials completed, one line per (named) output."""
    run = as_run(run)
    name = name or (run.weight_names[0] if run.weight_names else None)
    if name is None:
        raise ValueError(f"run {run.id!r} records no weights")
    snaps = run.weights(name)
    data = snaps.data.reshape(len(snaps.trial), snaps.data.shape[1] if snaps.data.ndim > 2 else 1, -1)
    fig, ax = new_axes(ax)
    norms = np.linalg.norm(data, axis=2)
    for k, label in enumerate(_row_names(run, name, data.shape[1])):
        ax.plot(snaps.trial, norms[:, k], marker=".", label=label)
    ax.set(xlabel="trials completed", ylabel="|w| (L2 norm)",
           title=f"{name}: {len(snaps.trial)} snapshots")
    ax.legend(fontsize="small")
    return ax


def weights_over_learning(run, name=None, max_rows=3):
    """Weights over every snapshot: a Figure with the L2 norm of each output's weights vs
    trials completed (one line per output, named when the run names its readouts), and one
    heatmap per output (up to ``max_rows``): snapshot (trials completed) x presynaptic index.
    """
    run = as_run(run)
    name, snaps = _weight_snapshots(run, name)
    data = snaps.data.reshape(len(snaps.trial), snaps.data.shape[1] if snaps.data.ndim > 2 else 1, -1)
    rows = _row_names(run, name, data.shape[1])
    shown = min(data.shape[1], max_rows)
    fig, axes = pyplot().subplots(1, 1 + shown, figsize=(4.2 * (1 + shown), 3.8), squeeze=False)
    axes = axes[0]
    weight_norms(run, name, ax=axes[0])
    for k in range(shown):
        w = data[:, k, :]
        lim = float(np.abs(w).max()) or 1.0
        im = axes[1 + k].imshow(w, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                                interpolation="nearest", origin="lower",
                                extent=(-0.5, w.shape[1] - 0.5, -0.5, len(snaps.trial) - 0.5))
        step = max(1, len(snaps.trial) // 6)
        axes[1 + k].set_yticks(range(0, len(snaps.trial), step))
        axes[1 + k].set_yticklabels([int(x) for x in snaps.trial[::step]])
        axes[1 + k].set(xlabel="presynaptic index (feature)", ylabel="trials completed",
                        title=f"{rows[k]} weights")
        fig.colorbar(im, ax=axes[1 + k], label="weight")
    fig.tight_layout()
    return fig


def _scalar_metrics(metrics: dict) -> dict:
    out = {k: v for k, v in metrics.items() if isinstance(v, (bool, int, float, str))}
    summary = metrics.get("summary")
    if isinstance(summary, dict):
        out.update({f"summary.{k}": v for k, v in summary.items()
                    if isinstance(v, (bool, int, float, str))})
    return out


def metrics_table(run, ax=None):
    """Scalar metrics as a two-column table drawn on an Axes; returns the Axes."""
    run = as_run(run)
    fig, ax = new_axes(ax)
    rows = [[k, f"{v:.4g}" if isinstance(v, float) else str(v)]
            for k, v in _scalar_metrics(run.metrics).items()]
    ax.axis("off")
    if rows:
        table = ax.table(cellText=rows, colLabels=["metric", "value"], loc="center", cellLoc="left")
        table.auto_set_font_size(False)
        table.set_fontsize(9)
    else:
        ax.text(0.5, 0.5, "no scalar metrics recorded", ha="center", va="center")
    ax.set_title(f"{run.id}: metrics")
    return ax


def accuracy_matrix(run, ax=None, table="accuracy_matrix"):
    """Heatmap of ``metrics/accuracy_matrix``: R[b, k] = accuracy on task k after block b."""
    run = as_run(run)
    m = run.metrics.get(table)
    if m is None:
        raise ValueError(f"run {run.id!r} has no metrics table {table!r}")
    m = np.atleast_2d(np.asarray(m, dtype=float))
    fig, ax = new_axes(ax)
    im = ax.imshow(m, cmap="viridis", vmin=np.nanmin(m), vmax=np.nanmax(m), interpolation="nearest")
    if m.size <= 100:
        for (b, k), v in np.ndenumerate(m):
            ax.text(k, b, f"{v:.2f}", ha="center", va="center", fontsize=8, color="w")
    ax.set_xticks(range(m.shape[1]))
    ax.set_yticks(range(m.shape[0]))
    fig.colorbar(im, ax=ax, label="accuracy")
    ax.set_xlabel("task")
    ax.set_ylabel("after block")
    ax.set_title(table)
    return ax


def metrics(run, ax=None):
    """Scalar metrics table, plus the accuracy-matrix heatmap when recorded.

    With ``ax`` given, only the table is drawn there and the Axes returned; otherwise a
    Figure with one or two panels is returned.
    """
    run = as_run(run)
    if ax is not None:
        return metrics_table(run, ax=ax)
    has_matrix = "accuracy_matrix" in run.metrics
    fig, axes = pyplot().subplots(1, 2 if has_matrix else 1, figsize=(11 if has_matrix else 6, 4.5),
                                  squeeze=False)
    metrics_table(run, ax=axes[0][0])
    if has_matrix:
        accuracy_matrix(run, ax=axes[0][1])
    fig.tight_layout()
    return fig
