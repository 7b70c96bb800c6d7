"""R0 (firing regime) and R1 (time-since-cue decodability) for any reservoir.

``decodability_check`` is the reusable R1 analysis: it trains a ridge (RLS) readout on
cue-only trials to produce Gaussian bumps at given times after the cue and reports, from the
frozen-weight output of later trials, the peak-time error and the height of each bump.
"""
from __future__ import annotations

import numpy as np

from ..analysis.whatwhen import specificity
from ..learners import make_learner
from ..paradigms.whatwhen import WhatWhenSpec, WhatWhenStream, switch_blocks
from ..simulator import Simulator, n_features
from ..monitors import Recorder
from ..streams import Chunk


def regime_check(network, run_cfg, duration_ms: float = 3000.0, run_writer=None) -> dict:
    """Mean E and I rates (Hz) over ``duration_ms`` with no input, and whether v stayed finite.

    ``run_writer`` (optional): the spontaneous run's spikes and rate go to it, the result to
    its metrics, and it is finished, so that R0 can be checked from the file.
    """
    import time
    t0 = time.perf_counter()
    sim = Simulator(network, run_cfg)
    rec = Recorder(network.n_neurons, run_cfg.dt_ms, writer=run_writer)
    finite = True
    try:
        sim.run(duration_ms=duration_ms, recorder=rec)
    except FloatingPointError:
        finite = False
    spikes = rec.spikes
    result = {"rate_e_hz": spikes.mean_rate(duration_ms, network.excitatory),
              "rate_i_hz": spikes.mean_rate(duration_ms, ~network.excitatory), "finite": finite}
    if run_writer is not None:
        rec.flush()
        run_writer.write_metrics(scalars=result)
        run_writer.finish(wall_time_s=time.perf_counter() - t0,
                          duration_ms=sim.step * run_cfg.dt_ms)
    return result


R1_GRID_MS = tuple(float(t) for t in range(150, 1001, 50))
"""R1's bump times: every 50 ms from 150 ms (the end of the cue transient) to 1000 ms."""


def decodability_check(network, run_cfg, seed: int, bump_times_ms=R1_GRID_MS,
                       sigma_ms: float = 25.0, n_train: int = 40, n_test: int = 20,
                       progress=None) -> dict:
    """R1: can a linear readout of the reservoir tell the time since the cue?

    Cue-only trials (the network's first input channel is the cue). One output per bump
    time, trained by least squares (RLS) towards a Gaussian bump (``sigma_ms``) at that time
    after the cue. Every bump is judged on the trial-averaged frozen-weight output of the
    last ``n_test`` trials, each predicted with weights learned on the earlier trials only.

    Returns
    -------
    dict
        ``bumps``: one dict per bump time with ``bump_ms``, ``peak_error_ms`` (peak time
        within +-``SPECIFIC_EXCLUDE_MS`` of the bump minus the bump time), ``height`` (output
        at that peak) and ``specificity`` (height / largest output elsewhere, see
        :func:`specificity`; > 1 means the bump stands out). ``mean``: (window_steps,
        n_bumps) trial-averaged outputs; ``t_ms``: (window_steps,) time after the cue;
        ``duration_ms``: the simulated time.
    """
    dt = run_cfg.dt_ms
    spec = WhatWhenSpec(n_identities=1, n_cues=1, dt_ms=dt, blocks=switch_blocks(
        [n_train + n_test], [0.0], (min(bump_times_ms),), ((1.0,),)))
    stream = WhatWhenStream(spec, seed + 7)
    n_out, window = len(bump_times_ms), spec.window_steps
    learner = make_learner("force", alpha=1.0, rls_every=10)
    readout = learner.init_state(n_features(network), n_out, network.n_neurons,
                                 network.a.dtype, dt)
    sim = Simulator(network, run_cfg, readout=readout)
    t_ms = np.arange(window) * dt
    bumps = np.exp(-(t_ms[:, None] - np.asarray(bump_times_ms)) ** 2 / (2 * sigma_ms ** 2))
    z0 = np.zeros((len(stream), window, n_out))
    n_channels = network.input_projection.shape[0]
    n_steps = 0
    for i, c in enumerate(stream):
        n_steps += c.n_steps
        target = np.zeros((c.n_steps, n_out), np.float32)
        target[c.cue_step:c.cue_step + window] = bumps
        drive = np.zeros((c.n_steps, n_channels), np.float32)
        drive[:, 0] = c.drive[:, 0]
        result = sim.run_one_chunk(Chunk(c.n_steps, drive, target, c.gate, c.tag))
        z0[i] = result.z0[c.cue_step:c.cue_step + window]
        if progress is not None:
            progress(1)
    mean = z0[-n_test:].mean(axis=0)
    rows = []
    for k, t_bump in enumerate(bump_times_ms):
        peak = specificity(mean[:, k], dt, (t_bump,))[0]
        rows.append({"bump_ms": t_bump, "peak_error_ms": peak["peak_ms"] - t_bump,
                     "height": peak["height"], "specificity": 1.0 / peak["ratio"]})
    return {"bumps": rows, "mean": mean, "t_ms": t_ms, "duration_ms": n_steps * dt}
