"""Trial-averaged readouts aligned on the cue, one panel per trial type."""
from __future__ import annotations

import numpy as np

from ._common import as_run, pyplot

#: Trial-table columns that give the cue onset, with their unit.
CUE_COLUMNS = (("cue_step", "step"), ("cue_time_ms", "ms"), ("cue_ms", "ms"), ("cue_onset_ms", "ms"))


def cue_steps(trials: dict, dt_ms: float, column: str | None = None):
    """Cue onset of each trial as a global step index, or None without a cue column.

    A ``cue_step`` column counts from the trial's first step when the table also has
    ``start_step`` (as paradigms.whatwhen writes it), else from the start of the run.
    """
    candidates = [(column, "ms" if column.endswith("ms") else "step")] if column else CUE_COLUMNS
    for name, unit in candidates:
        if name in trials:
            values = np.asarray(trials[name], dtype=float)
            steps = np.rint(values / dt_ms if unit == "ms" else values).astype(np.int64)
            if unit == "step" and "start_step" in trials:
                steps = steps + np.asarray(trials["start_step"], dtype=np.int64)
            return steps
    return None


def trial_groups(trials: dict) -> dict:
    """``{label: trial indices}``: omission trials (``occurred`` False) together, stimulus
    trials by ``identity``; a single "all trials" group when neither column exists."""
    n = len(next(iter(trials.values()))) if trials else 0
    occurred = np.asarray(trials["occurred"], dtype=bool) if "occurred" in trials else np.ones(n, bool)
    labels = np.full(n, "all trials", dtype=object)
    if "identity" in trials:
        labels[:] = [f"identity {v}" for v in trials["identity"]]
    elif "occurred" in trials:
        labels[:] = "stimulus"
    labels[~occurred] = "omission"
    return {lab: np.flatnonzero(labels == lab) for lab in sorted(set(labels))}


def _epochs(values, rows, pre, post):
    """Mean of ``values[r - pre : r + post]`` over the rows r whose window fits."""
    windows = [values[r - pre:r + post] for r in rows if r - pre >= 0 and r + post <= len(values)]
    return np.mean(windows, axis=0) if windows else None, len(windows)


def readouts(run, ax=None, names=("z0", "z"), target="target", pre_ms=100.0, post_ms=None,
             cue_column=None, output=None):
    """Trial-averaged readout series vs ``target``, aligned on the cue (time 0, ms).

    Parameters
    ----------
    run : Run, Results or path
    ax : Axes, optional -- draw every trial type on this Axes (labels name the type);
        by default a Figure with one panel per trial type is made.
    names : readout series to show (those recorded); ``target`` is dashed
    pre_ms, post_ms : window around the cue (ms); ``post_ms`` defaults to the shortest
        cue-to-trial-end time (columns ``n_steps``, ``start_step``, ``cue_step``), else to the
        median time between cues minus ``pre_ms``; trials whose window leaves the recorded
        series are left out (panel titles give the trials averaged)
    cue_column : trial-table column of the cue onset (default: cue_step, cue_time_ms, ...)
    output : int, optional -- readout column to show (default: all)

    Returns the Figure (``ax=None``) or the given Axes. Without a cue column in the trial
    table, the whole series is drawn against time instead.
    """
    run = as_run(run)
    wanted, names = names, [n for n in names if n in run.series_names]
    if not names:
        raise ValueError(f"run {run.id!r} records none of the series {list(wanted)}; "
                         f"it has: {', '.join(run.series_names) or 'none'}")
    shown = names + ([target] if target in run.series_names else [])
    data = {n: run.series(n).reshape(len(run.series_times(n)), -1) for n in shown}
    labels = {n: run.series_columns(n) for n in shown}     # when, what_A, ... when stored
    if output is not None:
        data = {n: v[:, [output]] for n, v in data.items()}
        labels = {n: [c[output]] for n, c in labels.items()}
    step_ms = run.series_decimation(names[0]) * run.dt_ms
    trials = run.trials()
    cues = cue_steps(trials, run.dt_ms, cue_column)
    if cues is None or cues.size == 0:
        groups, time = {"whole run": None}, np.arange(len(data[names[0]])) * step_ms
    else:
        groups = trial_groups(trials)
        if post_ms is None and {"n_steps", "start_step", "cue_step"} <= set(trials):
            post_ms = float(np.min(trials["n_steps"] - trials["cue_step"])) * run.dt_ms  # trial end
        if post_ms is None:
            gap = np.median(np.diff(cues)) * run.dt_ms if cues.size > 1 else len(data[names[0]]) * step_ms
            post_ms = max(gap - pre_ms, step_ms)
        pre, post = int(round(pre_ms / step_ms)), int(round(post_ms / step_ms))
        time = np.arange(-pre, post) * step_ms
    if ax is None:
        fig, axes = pyplot().subplots(1, len(groups), figsize=(4.5 * len(groups), 3.5),
                                      sharey=True, squeeze=False)
        axes = list(axes[0])
    else:
        fig, axes = ax.figure, [ax] * len(groups)
    for k, (label, idx) in enumerate(groups.items()):
        panel, n_used = axes[k], len(time)
        for j, name in enumerate(shown):
            if idx is None:
                curve = data[name]
            else:
                rows = np.rint(cues[idx] * run.dt_ms / step_ms).astype(int)
                curve, n_used = _epochs(data[name], rows, pre, post)
                if curve is None:
                    continue
            for col in range(curve.shape[1]):
                column = labels[name][col] if col < len(labels[name]) else f"[{col}]"
                tag = column if column.startswith(name) else f"{name} {column}"
                style = "--" if name == target else ("-", ":", "-.")[min(j, 2)]
                panel.plot(time[:len(curve)], curve[:, col], lw=1.2, ls=style,
                           color=f"C{col if ax is None else k}",
                           label=tag if ax is None else f"{label}: {tag}")
        if ax is None:
            panel.set_title(f"{label} ({n_used} trials)" if idx is not None else label)
        if idx is not None:
            panel.axvline(0.0, color="0.6", lw=0.8)
        panel.set_xlabel("time from cue (ms)" if idx is not None else "time (ms)")
    axes[0].set_ylabel("readout")
    axes[0].legend(fontsize="small")
    if ax is None:
        fig.tight_layout()
        return fig
    return ax
