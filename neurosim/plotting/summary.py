"""``neurosim plot FILE --kind summary | overview``: figures of a run from the file alone.

``summary`` redraws the experiment's own summary figure (:func:`experiment_figure`; for
what/when, ``whatwhen.png`` pixel for pixel) where the file holds what it needs, else draws
the overview. ``overview`` (:func:`summary`) is one page for any run:

Panels, each where the run holds what it needs: raster (E red, I blue; the last 5 s of
longer runs) and population rate in Hz; the cue-aligned "when" readout by trial type; for
what/when files, R4's readout amplitude against P (``metrics/amplitude_vs_probability`` of
the ``main`` run); the readout weight norms over the snapshots; ISI CV histogram; and the
table of criteria (``metrics/summary_json``) or of scalar metrics.
"""
from __future__ import annotations

import numpy as np

from ._common import as_run, pyplot


def _criteria_table(ax, run):
    rows = run.metrics.get("summary", {}).get("criteria") if isinstance(
        run.metrics.get("summary"), dict) else None
    ax.axis("off")
    if not rows:
        from .panels import metrics_table
        metrics_table(run, ax=ax)
        return
    cells = [[r.get("id", ""), str(r.get("value", ""))[:90], str(r.get("criterion", ""))[:55],
              "PASS" if r.get("passed") else "FAIL"] for r in rows]
    table = ax.table(cellText=cells, colLabels=["id", "measured", "criterion", "result"],
                     loc="center", cellLoc="left", colWidths=[0.05, 0.5, 0.37, 0.08])
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    for k, r in enumerate(rows):
        table[k + 1, 3].set_facecolor("#d8f0d8" if r.get("passed") else "#f6d0d0")
    ax.set_title(f"{run.id}: criteria")


def _amplitude_panel(ax, table):
    table = np.asarray(table, dtype=float)
    p, amp = table[:, 0], table[:, 2] if table.shape[1] > 2 else table[:, 1]
    ax.plot(p, amp, "o-", label="readout (normalised)")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8, label="identity")
    ax.set(xlabel="P(stimulus | cue)", ylabel="anticipatory amplitude / gain",
           title="R4: amplitude vs probability")
    ax.legend(fontsize="small")


def summary(run, t_range_ms="auto", bin_ms=None):
    """A multi-panel Figure summarising ``run`` (see the module docstring)."""
    from .panels import weight_norms
    from .readouts import readouts
    from .spikes import E_COLOR, I_COLOR, excitatory_mask, raster, rate
    from neurosim.results.stats import cv_isi
    run = as_run(run)
    plt = pyplot()
    fig = plt.figure(figsize=(14, 11))
    grid = fig.add_gridspec(3, 3, height_ratios=(1.2, 1, 1.1))
    has_spikes = bool(run.populations)
    if has_spikes:
        raster(run, ax=fig.add_subplot(grid[0, :2]), t_range_ms=t_range_ms, markersize=1.5)
        rate(run, ax=fig.add_subplot(grid[0, 2]), t_range_ms=t_range_ms, bin_ms=bin_ms)
    panels = []
    if "z0" in run.series_names or "z" in run.series_names:
        panels.append(lambda ax: readouts(run, ax=ax, names=("z0",), output=0))
    table = run.metrics.get("amplitude_vs_probability")
    if table is not None:
        panels.append(lambda ax: _amplitude_panel(ax, table))
    if run.weight_names:
        panels.append(lambda ax: weight_norms(run, ax=ax))
    if has_spikes:
        def _cv(ax):
            cv = cv_isi(run.spikes())
            exc = excitatory_mask(run)
            groups = [(np.ones(cv.size, bool), "k", "all")] if exc is None else \
                [(exc, E_COLOR, "excitatory"), (~exc, I_COLOR, "inhibitory")]
            for mask, color, label in groups:
                c = cv[mask][np.isfinite(cv[mask])]
                ax.hist(c, bins=30, histtype="step", color=color, label=label)
            ax.set(xlabel="CV of ISI", ylabel="neurons", title="irregularity")
            ax.legend(fontsize="small")
        panels.append(_cv)
    for k, draw in enumerate(panels[:3]):
        draw(fig.add_subplot(grid[1, k]))
    _criteria_table(fig.add_subplot(grid[2, :]), run)
    fig.suptitle(f"{run.path.name}: run {run.id!r} ({run.kind})")
    fig.tight_layout()
    return fig


def _cue_windows(run, window_steps: int) -> np.ndarray:
    """``z0`` cut into cue-aligned trial windows, (n_trials, window_steps, n_outputs), as the
    experiment kept them in memory (rows ``start_step + cue_step`` on, one per step)."""
    trials = run.trials()
    if run.series_decimation("z0") != 1:
        raise ValueError(f"run {run.id!r}: z0 is decimated; the trial windows need every step")
    z0 = run.series("z0")
    z0 = z0.reshape(z0.shape[0], -1)
    start = np.asarray(trials["start_step"], dtype=np.int64) + np.asarray(trials["cue_step"],
                                                                          dtype=np.int64)
    # float32, as whatwhen_phases keeps them (the series is the readout's float64 output)
    out = np.full((start.size, window_steps, z0.shape[1]), np.nan, dtype=np.float32)
    for k, s in enumerate(start):
        part = z0[s:s + window_steps]
        out[k, :len(part)] = part
    return out


def experiment_figure(run, out, dpi=None) -> bool:
    """Redraw the experiment's own summary figure (what ``neurosim run`` saved) from the
    file alone, to ``out``; False when the run's experiment has none that its file can
    redraw. What/when: the six panels of ``whatwhen.png`` from the runs ``main`` and
    ``switch`` (series ``z0``, trial tables) and the metrics tables
    ``amplitude_vs_probability``, ``what_pred`` and ``angle_curve`` of ``main``, with the
    paradigm rebuilt from the stored config."""
    from neurosim.results import load
    if run.kind != "whatwhen":
        return False
    results = load(run.path)
    tag = run.id[len(run.attrs.get("phase", "")):] if run.attrs.get("phase") else ""
    main_id, switch_id = f"main{tag}", f"switch{tag}"
    if main_id not in results or switch_id not in results:
        return False
    main = results[main_id]
    metrics = main.metrics
    if not {"amplitude_vs_probability", "what_pred"} <= set(metrics):
        return False     # written before the file kept what the figure needs
    from types import SimpleNamespace
    from neurosim.experiments.whatwhen import _specs
    from neurosim.experiments.whatwhen_figure import draw
    specs = _specs(main.config["paradigm"], main.dt_ms)
    phases = {}
    for name, rid in (("main", main_id), ("switch", switch_id)):
        r = results[rid]
        phases[name] = SimpleNamespace(table=r.trials(),
                                       z0=_cue_windows(r, specs[name].window_steps))
    phases["main"].what_pred = np.asarray(metrics["what_pred"])
    curve = np.asarray(metrics.get("angle_curve", np.zeros((0, 2))))
    draw({"phases": phases, "specs": specs, "amplitude_table":
          np.asarray(metrics["amplitude_vs_probability"]),
          "angle_curve": curve if curve.size else None, "force": None}, out)
    return True
