"""The what/when summary figure: readouts per condition, amplitude vs P, adaptation curves,
and the what/when subspace angle over learning."""
from __future__ import annotations

import warnings

import numpy as np

from ..analysis.whatwhen import anticipatory_amplitude, mask_after_onset, masked_mean
from .whatwhen_criteria import PEAK_SEARCH_FROM_MS, _eval_trials, _onsets


def _when_panel(ax, main, spec):
    from ..analysis.whatwhen import SPECIFIC_EXCLUDE_MS
    from .whatwhen_criteria import SPECIFICITY_MAX_RATIO, when_specificity
    dt = spec.dt_ms
    t = np.arange(spec.window_steps) * dt
    trials = _eval_trials(main.table, 0)
    masked = mask_after_onset(main.z0[:, :, 0], _onsets(main.table, dt))
    for cue in range(spec.n_cues):
        sel = trials[main.table["cue"][trials] == cue]
        ax.plot(t, masked_mean(masked[sel]), lw=1, label=f"cue {cue}")
    mean = masked_mean(masked[trials])
    ax.plot(t, mean, "k", lw=1.5, label="all trials")
    rows = when_specificity(main, trials, spec.blocks[0].latencies_ms, dt)
    for lat, row in zip(spec.blocks[0].latencies_ms, rows):
        ax.axvline(lat, color="k", ls=":")
        ax.axvspan(lat - SPECIFIC_EXCLUDE_MS, lat + SPECIFIC_EXCLUDE_MS, color="C2", alpha=0.08)
        ax.annotate(f"L {lat:.0f}: peak {row['peak_ms']:.0f}\nelsewhere/peak "
                    f"{row['ratio']:.2f}", (row["peak_ms"], row["height"]), fontsize=7,
                    xytext=(0, 12), textcoords="offset points", ha="center")
    if rows and np.isfinite(rows[0]["elsewhere"]):
        ax.axhline(rows[0]["elsewhere"], color="C3", lw=0.8, ls="--",
                   label=f"largest elsewhere (limit: {SPECIFICITY_MAX_RATIO:.2f} x peak)")
    ax.axvspan(0, PEAK_SEARCH_FROM_MS, color="0.9")
    finite = mean[int(PEAK_SEARCH_FROM_MS / dt):]
    top = np.nanmax(finite) if np.any(np.isfinite(finite)) else 1.0
    ax.set(xlabel="time after cue (ms)", ylabel="when readout z0 (frozen weights)",
           ylim=(-0.2 * top, 1.8 * top), title="R2/R3: anticipatory 'when' output")
    ax.legend(fontsize=7, loc="upper left")


def draw_r1(r1: dict, path) -> None:
    """R1 on its grid: the trial-averaged decoder outputs, and peak error / specificity."""
    from ..plotting._common import pyplot
    from .whatwhen_criteria import SPECIFICITY_MAX_RATIO
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    bumps = r1["bumps"]
    times = np.array([b["bump_ms"] for b in bumps])
    colors = plt.cm.viridis(np.linspace(0, 1, len(bumps)))
    for k, color in enumerate(colors):
        axes[0].plot(r1["t_ms"], r1["mean"][:, k], color=color, lw=1)
        axes[0].axvline(times[k], color=color, lw=0.5, ls=":")
    axes[0].axvspan(0, PEAK_SEARCH_FROM_MS, color="0.9")
    axes[0].set(xlabel="time after cue (ms)", ylabel="decoder output (frozen weights)",
                title="R1: one least-squares decoder per bump time (test trials)")
    ax = axes[1]
    ax.plot(times, [b["peak_error_ms"] for b in bumps], "o-", label="peak error (ms)")
    ax.axhspan(-50, 50, color="0.92")
    ax.set(xlabel="bump time (ms after cue)", ylabel="peak time - bump time (ms)",
           title="R1: peak error and specificity", ylim=(-60, 60))
    twin = ax.twinx()
    twin.plot(times, [b["specificity"] for b in bumps], "s-", color="C1",
              label="specificity (peak / largest elsewhere)")
    twin.axhline(1 / SPECIFICITY_MAX_RATIO, color="C1", ls=":", lw=0.8)
    twin.set_ylabel("specificity", color="C1")
    twin.set_yscale("log")
    ax.legend(loc="upper left", fontsize=8)
    twin.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _what_panel(ax, main, spec):
    trials = _eval_trials(main.table, 0)
    width = 0.8 / spec.n_identities
    for k in range(spec.n_identities):
        pred = [main.what_pred[trials[main.table["cue"][trials] == c], k].mean()
                for c in range(spec.n_cues)]
        true = [spec.blocks[0].identity_probs[c][k] for c in range(spec.n_cues)]
        x = np.arange(spec.n_cues) + k * width
        ax.bar(x, pred, width, label=f"what {'ABCDEFGH'[k]}")
        ax.plot(x, true, "k_", ms=18, mew=2)
    ax.set(xticks=np.arange(spec.n_cues) + 0.4 * (1 - width),
           xticklabels=[f"cue {c}" for c in range(spec.n_cues)], ylim=(0, 1),
           ylabel="what prediction before onset", title="R5: 'what' vs P(identity | cue) (—)")
    ax.legend(fontsize=7)


def draw(result: dict, path) -> None:
    """Six panels from one seed's phases, saved to ``path``."""
    from ..plotting._common import pyplot
    plt = pyplot()
    phases, specs = result["phases"], result["specs"]
    main, spec = phases["main"], specs["main"]
    dt = spec.dt_ms
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    _when_panel(axes[0, 0], main, spec)
    _what_panel(axes[0, 1], main, spec)
    ax = axes[0, 2]
    amp_table = result["amplitude_table"]
    ax.plot(amp_table[:, 0], amp_table[:, 2], "o-", label="three-factor")
    ax.plot([0, 1], [0, 1], "k:", label="identity line")
    ax.set(xlabel="P(stimulus)", ylabel="normalised anticipatory amplitude",
           title="R4: amplitude tracks probability", xlim=(0, 1.05), ylim=(0, 1.1))
    ax.legend()
    ax = axes[1, 0]
    sw, sspec = phases["switch"], specs["switch"]
    gain = amp_table[np.argmax(amp_table[:, 0]), 1]
    amps = anticipatory_amplitude(sw.z0[:, :, 0], sspec.blocks[0].latencies_ms[0], dt) / gain
    n1 = sspec.blocks[0].n_trials
    x = np.arange(amps.size) - n1
    ax.plot(x, amps, ".", alpha=0.4, ms=3)
    ax.plot(x, _trailing_mean(amps, 10), label="three-factor, 10-trial mean")
    force = result.get("force")
    if force is not None:
        for key, color, label in (("probability", "C3", "FORCE, no reset"),
                                  ("probability_reset", "C2", "FORCE, reset at switch")):
            curve = force["force_curves"][key]
            ax.plot(np.arange(curve.size) - force["n1"], _trailing_mean(curve, 10), color=color,
                    label=label)
    for blk in sspec.blocks:
        ax.axhline(blk.p_stimulus, color="k", ls=":")
    ax.axvspan(25, 55, color="0.9", label="R7 window")
    ax.axvline(0, color="r", lw=0.8)
    ax.set(xlabel="trials after the probability switch", ylabel="normalised amplitude",
           title="R7: re-adaptation after P switch")
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    n1 = spec.blocks[0].n_trials
    masked = mask_after_onset(main.z0[:, :, 0], _onsets(main.table, dt))
    lo = int(PEAK_SEARCH_FROM_MS / dt)
    cue0 = np.flatnonzero(main.table["cue"] == 0)
    peaks = [(lo + np.nanargmax(masked[j, lo:])) * dt if np.any(np.isfinite(masked[j, lo:]))
             else np.nan for j in cue0]
    ax.plot(cue0 - n1, peaks, ".", ms=3, alpha=0.5, label="single-trial peak, cue 0")
    for blk, start in zip(spec.blocks, (0, n1)):
        lat = blk.latencies_ms[int(np.argmax(blk.identity_probs[0]))]
        ax.hlines(lat, start - n1, start - n1 + blk.n_trials, color="k", ls=":")
    ax.axvline(0, color="r", lw=0.8)
    ax.set(xlabel="trials after the timing switch", ylabel="anticipatory peak (ms after cue)",
           title="R6: re-adaptation after timing switch")
    ax.legend(fontsize=8)
    ax = axes[1, 2]
    curve = result.get("angle_curve")
    if curve is not None and len(curve):
        ax.plot(curve[:, 0], curve[:, 1], "o-", ms=3)
    ax.axhline(75, color="k", ls=":")
    ax.set(xlabel="trials (main phase)", ylabel="angle what vs when (deg, top-10 PCs)",
           ylim=(0, 90), title="R8: what/when subspaces over learning")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _trailing_mean(values, n):
    """Mean of the last ``n`` finite values up to each trial (NaN where none)."""
    out = np.full(len(values), np.nan)
    for i in range(len(values)):
        seg = values[max(0, i - n + 1):i + 1]
        if np.any(np.isfinite(seg)):
            out[i] = np.nanmean(seg)
    return out


def draw_compare(results: list, path) -> None:
    """FORCE vs three-factor: adaptation after each switch, mean over seeds (thin: per seed).

    Left: normalised anticipatory amplitude after the probability switch, with the
    cumulative-mean prediction (n1 p1 + n p2) / (n1 + n). Right: peak time of the output
    averaged over the last 10 trials after the timing switch, with the +-50 ms band.
    """
    from ..plotting._common import pyplot
    from .whatwhen_compare import CONDITION_LABELS, CONDITIONS, R7_TRIALS
    from .whatwhen_criteria import TIMING_TOLERANCE_MS
    plt = pyplot()
    res0 = results[0]
    n1, p1, p2 = res0["n1"], res0["p1"], res0["p2"]
    colors = {"three_factor": "C0", "force": "C3", "force_reset": "C2", "force_forget": "C1"}
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    ax = axes[0]
    for name in CONDITIONS:
        curves = np.array([r["conditions"][name]["amp_curve"] for r in results])
        x = np.arange(curves.shape[1]) - 20
        smooth = np.array([_trailing_mean(c, 10) for c in curves])
        for c in smooth:
            ax.plot(x, c, color=colors[name], lw=0.5, alpha=0.4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(smooth, axis=0)
        ax.plot(x, mean, color=colors[name], lw=2, label=CONDITION_LABELS[name])
    k = np.arange(0, x[-1] + 1)
    ax.plot(k, (n1 * p1 + k * p2) / (n1 + k), "k--", lw=1, label="cumulative mean")
    for p in (p1, p2):
        ax.axhline(p, color="k", ls=":", lw=0.8)
    ax.axvspan(*R7_TRIALS, color="0.9", label="R7 window")
    ax.axvline(0, color="r", lw=0.8)
    ax.set(xlabel=f"trials after the probability switch {p1} -> {p2}",
           ylabel="normalised anticipatory amplitude (trailing 10-trial mean)",
           title="R7: probability switch", ylim=(-0.1, 1.1))
    ax.legend(fontsize=7, loc="upper right")
    ax = axes[1]
    for name in CONDITIONS:
        curves = np.array([r["conditions"][name]["peak_curve"] for r in results])
        x = np.arange(curves.shape[1]) - 20
        for c in curves:
            ax.plot(x, c, color=colors[name], lw=0.5, alpha=0.4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(curves, axis=0)
        ax.plot(x, median, color=colors[name], lw=2, label=CONDITION_LABELS[name])
    old, new = res0["latency_ms"], res0["moved_ms"]
    ax.axhspan(new - TIMING_TOLERANCE_MS, new + TIMING_TOLERANCE_MS, color="0.9",
               label="new latency +-50 ms")
    ax.axhline(old, color="k", ls=":", lw=0.8)
    ax.axhline(new, color="k", ls=":", lw=0.8)
    ax.axvline(0, color="r", lw=0.8)
    ax.axvline(0.5 * n1, color="k", lw=0.6, ls="--")
    ax.set(xlabel=f"trials after the timing switch {old:.0f} -> {new:.0f} ms "
                  f"(dashed: 0.5 n1)", ylabel="peak of 10-trial mean output (ms after cue)",
           title="R6: timing switch (median over seeds)")
    ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"FORCE vs three-factor rule, {len(results)} seeds, n1 = {n1} trials before "
                 "each switch", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
