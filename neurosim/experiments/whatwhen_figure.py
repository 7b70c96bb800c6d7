"""The what/when summary figure: readouts per condition, amplitude vs P, adaptation curves."""
from __future__ import annotations

import numpy as np

from ..analysis.whatwhen import anticipatory_amplitude, mask_after_onset, masked_mean


def draw(result: dict, path) -> None:
    """Four panels from one seed's phases, saved to ``path``."""
    from ..plotting._common import pyplot
    plt = pyplot()
    phases, specs = result["phases"], result["specs"]
    main, spec = phases["main"], specs["main"]
    dt = spec.dt_ms
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    t = np.arange(spec.window_steps) * dt
    table = main.table
    blk0 = np.flatnonzero(table["block"] == 0)
    trials = blk0[int(0.4 * blk0.size):]
    onsets = np.where(table["occurred"], np.rint(table["latency_ms"] / dt), -1).astype(int)
    masked = mask_after_onset(main.z0[:, :, 0], onsets)
    ax = axes[0, 0]
    for cue in range(spec.n_cues):
        sel = trials[table["cue"][trials] == cue]
        line, = ax.plot(t, masked_mean(masked[sel]), label=f"when z0, cue {cue}")
        probs = spec.blocks[0].identity_probs[cue]
        for k, lat in enumerate(spec.blocks[0].latencies_ms):
            ax.axvline(lat, color=line.get_color(), ls=":", alpha=0.3 + 0.7 * probs[k])
        for k in range(spec.n_identities):
            ax.plot(t, main.z0[sel, :, 1 + k].mean(axis=0), color=line.get_color(),
                    ls="--" if k == 0 else "-.", lw=0.8, label=f"what {'AB'[k]} z0, cue {cue}")
    ax.set(xlabel="time after cue (ms)", ylabel="readout (frozen weights)",
           title="anticipatory readouts (before onset), block 1")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    amp_table = result["amplitude_table"]
    ax.plot(amp_table[:, 0], amp_table[:, 2], "o-", label="three-factor")
    ax.plot([0, 1], [0, 1], "k:", label="ideal")
    ax.set(xlabel="P(stimulus)", ylabel="normalised anticipatory amplitude",
           title="amplitude tracks probability (R4)")
    ax.legend()
    ax = axes[1, 0]
    sw, sspec = phases["switch"], specs["switch"]
    gain = amp_table[np.argmax(amp_table[:, 0]), 1]
    amps = anticipatory_amplitude(sw.z0[:, :, 0], sspec.blocks[0].latencies_ms[0], dt) / gain
    n1 = sspec.blocks[0].n_trials
    x = np.arange(amps.size) - n1
    ax.plot(x, amps, ".", alpha=0.4, ms=3)
    ax.plot(x, np.convolve(amps, np.ones(10) / 10, mode="same"), label="10-trial mean")
    ax.axhline(sspec.blocks[0].p_stimulus, color="k", ls=":")
    ax.axhline(sspec.blocks[1].p_stimulus, color="k", ls=":")
    ax.axvline(0, color="r", lw=0.8)
    ax.set(xlabel="trials after the probability switch", ylabel="normalised amplitude",
           title="re-adaptation after P switch (R7)")
    ax.legend()
    ax = axes[1, 1]
    n1 = spec.blocks[0].n_trials
    cue0 = np.flatnonzero(table["cue"] == 0)
    peaks = []
    for j in cue0:
        trace = masked[j]
        peaks.append(np.nanargmax(trace) * dt if np.any(np.isfinite(trace)) else np.nan)
    ax.plot(cue0 - n1, peaks, ".", ms=3, alpha=0.5, label="single-trial anticipatory peak")
    for blk, start in zip(spec.blocks, (0, n1)):
        lat = blk.latencies_ms[int(np.argmax(blk.identity_probs[0]))]
        ax.hlines(lat, start - n1, start - n1 + blk.n_trials, color="k", ls=":")
    ax.axvline(0, color="r", lw=0.8)
    ax.set(xlabel="trials after the timing switch (cue 0)", ylabel="peak time (ms after cue)",
           title="re-adaptation after timing switch (R6)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
