"""Building blocks of the what/when experiment: the timing reservoir and one training phase.

A *phase* trains a fresh readout on one paradigm stream over the same reservoir and keeps,
per trial, the cue-aligned frozen-weight output z0 and the tag mean xbar (the offline input).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..monitors import Recorder
from ..paradigms.whatwhen import WhatWhenStream
from ..simulator import Simulator, n_features
from ..streams import Chunk

# MODEL.md "timing" regime: weak coupling, tonic bias from just above rheobase, low noise,
# strong cue. The bias ranges are wide (E 3.5-9, I 1-4.5, not 3.5-5.5 and 1-3 as first
# reconstructed): a wider spread of firing frequencies dephases the population rhythm that the
# cue resets, so the post-cue state at t no longer echoes the state ~100-200 ms earlier, and a
# slow local rule can tell the two apart (issue 10: R2's elsewhere/peak ratio at 450/750 ms
# 1.08 -> 0.82 from this alone, 0.44 with the event gate, docs/model.md). I up to 6 gave I rates of
# 21.5 Hz (R0 allows 20).
TIMING_NETWORK = {
    "n_neurons": 1000,
    "weight_excitatory": 0.05, "weight_inhibitory": 0.10, "scale_weights_with_n": True,
    "bias_excitatory": [3.5, 9.0], "bias_inhibitory": [1.0, 4.5],
    "noise_excitatory": 0.25, "noise_inhibitory": 0.10,
    "features": {"tau_fast_ms": 20.0, "tau_slow_ms": 200.0, "centering": True, "bias": True},
}


def timing_inputs(n_cues: int, n_identities: int, cue_amplitude=30.0, cue_fraction=0.5,
                  identity_amplitude=15.0, identity_fraction=0.2) -> list[dict]:
    """Input channels in the paradigm's order: cues (50 % of E each), identities (own 20 %)."""
    cues = [{"name": f"cue{c}", "amplitude": cue_amplitude, "fraction": cue_fraction}
            for c in range(n_cues)]
    ids = [{"name": f"identity{k}", "amplitude": identity_amplitude,
            "fraction": identity_fraction, "exclusive": True} for k in range(n_identities)]
    return cues + ids


def readout_names(spec) -> list[str]:
    """Names of the readout outputs (columns of ``z``, ``z0``, ``target``): ``when``, then
    ``what_A``, ``what_B``, ... one per stimulus identity."""
    return ["when"] + [f"what_{chr(ord('A') + k)}" for k in range(spec.n_identities)]


@dataclass
class PhaseResult:
    """Per-trial records of one phase.

    Attributes
    ----------
    table : dict of (n_trials,) arrays, the paradigm's trial table
    z0 : ndarray (n_trials, window_steps, n_outputs), cue-aligned frozen-weight outputs
    xbar : ndarray (n_trials, n_features), tag means
    what_pred : ndarray (n_trials, n_outputs - 1), offline "what" prediction W_what xbar with
        the weights as they were before the trial's own update
    W : ndarray (n_outputs, n_features), final weights
    snapshots : list of (trials done, W copy), every 10 trials
    spikes : (steps, ids) of the trials selected by ``keep_spikes_of`` (chunk-local steps
        concatenated trial after trial), for rebuilding features
    """
    table: dict
    z0: np.ndarray
    xbar: np.ndarray
    what_pred: np.ndarray
    W: np.ndarray
    snapshots: list
    spikes: tuple | None
    n_kept_steps: int
    wall_s: float


def run_phase(network, run_cfg, spec, learner, seed, run_writer=None, gate_everywhere=False,
              keep_spikes_of=(), progress=None) -> PhaseResult:
    """Train a fresh ``learner`` readout on ``WhatWhenStream(spec, seed)`` over ``network``.

    ``gate_everywhere`` opens the attention gate in the inter-trial interval too (R9
    ablation). ``run_writer`` (optional) receives spikes, outputs, targets, gate and trials.
    """
    import time
    stream = WhatWhenStream(spec, seed)
    n_out, window = spec.n_targets, spec.window_steps
    nf = n_features(network)
    readout = learner.init_state(nf, n_out, network.n_neurons, network.a.dtype, run_cfg.dt_ms)
    sim = Simulator(network, run_cfg, readout=readout)
    sim.readout_names = readout_names(spec)      # named in divergence errors
    recorder = None
    if run_writer is not None:
        recorder = Recorder(network.n_neurons, run_cfg.dt_ms, writer=run_writer,
                            keep_in_memory=False)
    keep = set(keep_spikes_of)
    kept_steps, kept_ids, offset = [], [], 0
    z0 = np.zeros((len(stream), window, n_out), dtype=np.float32)
    xbar = np.zeros((len(stream), nf), dtype=np.float32)
    what_pred = np.zeros((len(stream), n_out - 1))
    pending_rows = []
    snapshots = [(0, sim.readout.W.copy())]
    t0 = time.perf_counter()

    def gated(chunks):   # R9 ablation: the gate open in the inter-trial interval too
        for chunk in chunks:
            yield Chunk(chunk.n_steps, chunk.drive, chunk.target,
                        np.ones(chunk.n_steps, np.float32), chunk.tag, chunk.trial)

    kept_recorders = {}

    def recorder_for(i):
        if i not in keep:
            return recorder
        # keep this trial's spikes in memory too (the file gets them as usual)
        rec = recorder if recorder is not None else Recorder(network.n_neurons, run_cfg.dt_ms)
        rec.keep = True
        kept_recorders[i] = rec
        return rec

    def before_consolidation(i, chunk, result):
        cue = chunk.trial["cue_step"] if isinstance(chunk.trial, dict) else chunk.cue_step
        z0[i] = result.z0[cue:cue + window]
        n_tag = sim.readout.counters[1]
        if n_tag:
            xbar[i] = sim.readout.tag_sum / n_tag
            what_pred[i] = sim.readout.W[1:] @ (sim.readout.tag_sum / n_tag)

    for i, chunk, result in sim.trials(gated(stream) if gate_everywhere else stream, learner,
                                       recorder_for, inspect=before_consolidation):
        if i in kept_recorders:
            rec = kept_recorders.pop(i)
            spk = rec.spikes
            rec.keep = recorder is None
            rec.clear_memory()
            kept_steps.append(np.rint(spk.t / run_cfg.dt_ms).astype(np.int64) - result.step0
                              + offset)
            kept_ids.append(spk.i)
            offset += chunk.n_steps
        if recorder is not None:
            recorder.add_series("target", chunk.target)
            recorder.add_series("gate", chunk.gate)
            pending_rows.append(chunk.trial)
        if i % 10 == 9:
            snapshots.append((i + 1, sim.readout.W.copy()))
        if run_writer is not None and (i % 10 == 9 or i == len(stream) - 1):
            recorder.flush()
            run_writer.append_trials({k: np.array([row[k] for row in pending_rows])
                                      for k in pending_rows[0]})
            pending_rows = []
            run_writer.append_weights("readout", sim.readout.W, trial=i + 1)
            run_writer.set_attrs(duration_ms=sim.step * run_cfg.dt_ms)
            run_writer.flush()
        if progress is not None:
            progress(1)
    spikes = None
    if kept_steps:
        spikes = (np.concatenate(kept_steps), np.concatenate(kept_ids))
    return PhaseResult(stream.trial_table(), z0, xbar, what_pred, sim.readout.W.copy(),
                       snapshots, spikes, offset,
                       time.perf_counter() - t0)
