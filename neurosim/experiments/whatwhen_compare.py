"""FORCE versus the three-factor rule on the what/when switches (MODEL.md R6, R7; issue 5).

Conditions, all on the same reservoir, features (centred + bias), targets and gate:

* ``three_factor``: the local rule of the experiment (no reset);
* ``force``: RLS on the "when" output, P(0) = I / alpha, an update every ``rls_every`` gated
  steps (MODEL.md: alpha = 10, every 20 steps), never reset;
* ``force_reset``: the same, with ``P <- P(0)`` at the switch (``Force.reset``);
* ``force_forget``: the same with a forgetting factor lambda < 1 and no reset.

FORCE trains only output 0 ("when"); its "what" outputs stay frozen (the what readouts are
the offline three-factor rule's business and play no part in R6/R7).

The *switch family* runs on the single cue / single identity network: block 0 (``n1``
trials at P = p1, latency L) is shared, then one of two branches follows:
``timing`` (latency L -> L2 at P = p1; R6) or ``probability`` (P p1 -> p2 at latency L;
R7). With ``n_probability = switch_trials[1]`` (the main job) the probability branch runs
exactly the stream of the experiment's ``switch`` phase.
Branches fork from a simulator checkpoint taken at the switch, so conditions that share a
learner (``force``, ``force_reset``) share their pre-switch trials bit for bit and pay
FORCE's pre-switch cost once.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..analysis.whatwhen import anticipatory_amplitude, mask_after_onset, masked_mean, peak_time
from ..learners import make_learner
from ..paradigms.whatwhen import WhatWhenSpec, WhatWhenStream, switch_blocks
from ..simulator import Simulator, n_features
from .whatwhen_criteria import PEAK_SEARCH_FROM_MS, R6_WINDOW, _onsets, timing_ok_curve

R7_TRIALS = (25, 55)   # trials after the switch, inclusive

CONDITIONS = ("three_factor", "force", "force_reset", "force_forget")
CONDITION_LABELS = {"three_factor": "three-factor (no reset)", "force": "FORCE, no reset",
                    "force_reset": "FORCE, reset at switch",
                    "force_forget": "FORCE, forgetting"}


@dataclass
class Branch:
    """One condition on one branch: per-trial frozen-weight "when" output and trial table.

    Attributes
    ----------
    z0 : ndarray (n_trials, window_steps), cue-aligned output 0 with the weights frozen at
        gate opening
    table : dict of (n_trials,) arrays (trial table, ``block`` 0 before and 1 after the switch)
    n1 : int, trials before the switch
    wall_s : float, wall time of the branch's own trials (pre-switch trials not included)
    """
    z0: np.ndarray
    table: dict
    n1: int
    wall_s: float


def family_specs(par: dict, dt_ms: float, n_timing: int, n_probability: int | None = None
                 ) -> dict:
    """The two 2-block specs of the switch family (block 0 identical in both; the probability
    branch defaults to ``switch_trials[1]`` trials, i.e. the ``switch`` phase's stream)."""
    n1 = int(par["switch_trials"][0])
    if n_probability is None:
        n_probability = int(par["switch_trials"][1])
    p1, p2 = par["switch_probabilities"]
    lat = float(par["single_latency_ms"])
    moved = float(par["single_switched_latency_ms"])
    from .whatwhen import stream_options
    common = dict(n_identities=1, n_cues=1, **stream_options(par, dt_ms))
    single = ((1.0,),)
    return {
        "probability": WhatWhenSpec(blocks=switch_blocks([n1, n_probability], [p1, p2],
                                                         (lat,), single), **common),
        "timing": WhatWhenSpec(blocks=switch_blocks([n1, n_timing], p1, [(lat,), (moved,)],
                                                    single), **common),
    }


def _cat_tables(a: dict, b: dict) -> dict:
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def _when_trace(chunk, result, window):
    """The trial's "when" output from the cue on, (window,) float32."""
    return result.z0[chunk.cue_step:chunk.cue_step + window, 0].astype(np.float32)


def run_family(network, run_cfg, specs: dict, learner, seed: int, branches, prefix="probability",
               progress=None) -> dict:
    """Train a fresh ``learner`` readout on block 0 once, then fork into ``branches``.

    Parameters
    ----------
    specs : dict name -> 2-block WhatWhenSpec (block 0 identical; see :func:`family_specs`)
    branches : list of (label, spec name, reset at switch, max trials after, stop or None);
        ``stop(branch_so_far) -> bool`` is asked after every post-switch trial.
    prefix : the spec whose stream supplies the pre-switch trials.

    Returns dict label -> :class:`Branch`, plus ``"prefix"`` (the pre-switch trials).
    """
    streams = {k: WhatWhenStream(s, seed) for k, s in specs.items()}
    first = streams[prefix]
    n1 = specs[prefix].blocks[0].n_trials
    window = specs[prefix].window_steps
    n_out = specs[prefix].n_targets
    readout = learner.init_state(n_features(network), n_out, network.n_neurons,
                                 network.a.dtype, run_cfg.dt_ms)
    sim = Simulator(network, run_cfg, readout=readout)
    pre = np.zeros((n1, window), np.float32)
    t_start = time.perf_counter()
    for i, chunk, result in sim.trials((first.chunk(i) for i in range(n1)), learner):
        pre[i] = _when_trace(chunk, result, window)
        if progress is not None:
            progress(1)
    pre_table = {k: v[:n1] for k, v in first.trial_table().items()}
    out = {"prefix": Branch(pre, pre_table, n1, time.perf_counter() - t_start)}
    if not branches:
        return out
    arrays, meta = sim.checkpoint()
    for label, key, reset, n_after, stop in branches:
        sim.restore(arrays, meta)
        if reset:
            learner.reset(sim.readout)
        stream = streams[key]
        n_after = min(int(n_after), len(stream) - n1)
        post = np.zeros((n_after, window), np.float32)
        table = stream.trial_table()
        t0 = time.perf_counter()
        done = 0
        for j, chunk, result in sim.trials((stream.chunk(n1 + j) for j in range(n_after)),
                                           learner):
            post[j] = _when_trace(chunk, result, window)
            done = j + 1
            if progress is not None:
                progress(1)
            if stop is not None:
                partial = Branch(np.concatenate([pre, post[:done]]),
                                 _cat_tables(pre_table, {k: v[n1:n1 + done]
                                                         for k, v in table.items()}), n1, 0.0)
                if stop(partial):
                    break
        out[label] = Branch(np.concatenate([pre, post[:done]]),
                            _cat_tables(pre_table, {k: v[n1:n1 + done] for k, v in table.items()}),
                            n1, time.perf_counter() - t0)
    return out


# --------------------------------------------------------------------------- measurements

def trials_to_timing(branch: Branch, new_latency_ms, dt) -> int | None:
    """Trials after the switch until R2 is first re-satisfied (None: not within the branch)."""
    ok = timing_ok_curve(branch.z0, branch.table, branch.n1, new_latency_ms, dt)
    hit = np.flatnonzero(ok >= 1.0)
    return int(hit[0]) + 1 if hit.size else None


def stop_when_timing_met(new_latency_ms, dt):
    """Early stop for a branch: the newest trial re-satisfies R2 (cheap: one window)."""
    def stop(branch):
        n1, n = branch.n1, len(branch.table["trial"])
        lo = max(n1, n - R6_WINDOW)
        sub = {k: v[lo:] for k, v in branch.table.items()}
        ok = timing_ok_curve(branch.z0[lo:], sub, 0, new_latency_ms, dt)
        return bool(ok.size and ok[-1] >= 1.0 and n - n1 >= 3)
    return stop


def amplitude_curve(branch: Branch, latency_ms, dt) -> np.ndarray:
    """Anticipatory amplitude per trial ([L - 10, L) ms of z0) at the given latency."""
    return anticipatory_amplitude(branch.z0, latency_ms, dt)


def r7_amplitude(branch: Branch, latency_ms, dt, gain) -> float:
    """Normalised amplitude averaged over trials +25..+55 after the switch."""
    amps = amplitude_curve(branch, latency_ms, dt)
    lo, hi = R7_TRIALS
    return float(np.mean(amps[branch.n1 + lo:branch.n1 + hi + 1]) / gain)


def cumulative_mean_prediction(n1, p1, p2, trials=R7_TRIALS) -> float:
    """(n1 p1 + k p2) / (n1 + k) averaged over k = trials after the switch (RLS with lambda =
    1 fits the whole history: its amplitude follows the cumulative stimulus rate)."""
    k = np.arange(trials[0], trials[1] + 1)
    return float(np.mean((n1 * p1 + k * p2) / (n1 + k)))


def gain_at_p1(network, run_cfg, par, learner, seed, n_trials, progress=None) -> float:
    """The learner's own gain: anticipatory amplitude at P = 1 over the last half of a fresh
    ``n_trials``-trial run (single cue and identity, latency ``single_latency_ms``)."""
    lat = float(par["single_latency_ms"])
    from .whatwhen import stream_options
    spec = WhatWhenSpec(n_identities=1, n_cues=1, **stream_options(par, run_cfg.dt_ms),
                        blocks=switch_blocks([n_trials], [1.0], (lat,), ((1.0,),)))
    pre = run_family(network, run_cfg, {"p1": spec}, learner, seed, [], prefix="p1",
                     progress=progress)["prefix"]
    amps = amplitude_curve(pre, lat, run_cfg.dt_ms)
    return float(np.mean(amps[n_trials // 2:]))


# --------------------------------------------------------------------------- learners

def force_learner(force_cfg: dict, forgetting: float = 1.0):
    """FORCE on output 0 only, with MODEL.md's alpha and schedule."""
    return make_learner("force", alpha=float(force_cfg["alpha"]),
                        rls_every=int(force_cfg["rls_every"]), forgetting=float(forgetting),
                        online_outputs=(0,))


def fmt_trials(n, cap) -> str:
    return f"> {cap}" if n is None else str(n)


def _three_factor(config):
    cfg = dict(config["learner"])
    return make_learner(cfg.pop("name"), **cfg)


def _amplitude_after(branch, latency, dt, gain, n_post):
    """Normalised amplitude per trial from 20 before the switch to ``n_post`` after (NaN pad)."""
    amps = amplitude_curve(branch, latency, dt) / gain
    out = np.full(20 + n_post, np.nan)
    lo = max(0, branch.n1 - 20)
    seg = amps[lo:branch.n1 + n_post]
    start = lo - (branch.n1 - 20)
    out[start:start + seg.size] = seg
    return out


def _running_peak_after(branch, dt, n_post, window=R6_WINDOW):
    """Peak time (ms) of the anticipatory output averaged over the last ``window`` trials,
    per trial from 20 before the switch to ``n_post`` after (NaN pad)."""
    masked = mask_after_onset(branch.z0, _onsets(branch.table, dt))
    out = np.full(20 + n_post, np.nan)
    for j in range(max(0, branch.n1 - 20), min(len(branch.table["trial"]), branch.n1 + n_post)):
        lo = max(0, j - window + 1) if j < branch.n1 else max(branch.n1, j - window + 1)
        if j - lo + 1 < 3:
            continue
        out[j - branch.n1 + 20] = peak_time(masked_mean(masked[lo:j + 1], min_trials=2), dt,
                                            lo_ms=PEAK_SEARCH_FROM_MS)[0]
    return out


# --------------------------------------------------------------------------- main job

def main_job_force(net_single, run_cfg, config, seed, progress=None) -> dict:
    """The FORCE halves of R6 and R7 for one seed, as cheaply as the criteria allow.

    One FORCE readout (lambda = 1) is trained on block 0 (``n1`` trials, P = p1, latency L)
    once and forked at the switch four ways: timing switch without / with reset (each
    stopped as soon as R2 is re-satisfied; without reset also stopped at ``ceil(0.5 n1)``
    trials, which is all R6 asks) and probability switch without / with reset (+55 trials,
    the end of R7's window). The three-factor rule is also run on the single-channel timing
    switch (stopped when it recovers), so that R6 compares both rules on one stream.
    Normalisation: each amplitude is divided by that learner's own gain, estimated as its
    pre-switch amplitude (last 40 trials of block 0) divided by p1 (see ``gain_note``).
    """
    par, fcfg = config["paradigm"], config["force"]
    dt = run_cfg.dt_ms
    n1 = int(par["switch_trials"][0])
    p1, p2 = (float(v) for v in par["switch_probabilities"])
    lat, moved = float(par["single_latency_ms"]), float(par["single_switched_latency_ms"])
    cap = int(math.ceil(0.5 * n1))
    n_prob = R7_TRIALS[1] + 1
    if int(par["switch_trials"][1]) < n_prob:
        from ..config import ConfigError
        raise ConfigError(f"paradigm.switch_trials[1] = {par['switch_trials'][1]}: R7 needs "
                          f">= {n_prob} trials after the switch")
    specs = family_specs(par, dt, max(cap, 50))
    stop = stop_when_timing_met(moved, dt)
    t0 = time.perf_counter()
    fam = run_family(net_single, run_cfg, specs, force_learner(fcfg), seed + 1, [
        ("timing", "timing", False, cap, stop), ("timing_reset", "timing", True, 50, stop),
        ("probability", "probability", False, n_prob, None),
        ("probability_reset", "probability", True, n_prob, None)], progress=progress)
    tf = run_family(net_single, run_cfg, specs, _three_factor(config), seed + 1,
                    [("timing", "timing", False, 50, stop)], progress=progress)
    pre = float(np.mean(amplitude_curve(fam["prefix"], lat, dt)[-40:]))
    gain = pre / p1
    out = {
        "n1": n1, "cap": cap, "p1": p1, "p2": p2, "latency_ms": lat, "moved_ms": moved,
        "force_r6": trials_to_timing(fam["timing"], moved, dt),
        "force_reset_r6": trials_to_timing(fam["timing_reset"], moved, dt),
        "three_factor_single_r6": trials_to_timing(tf["timing"], moved, dt),
        "force_gain": gain,
        "force_r7": r7_amplitude(fam["probability"], lat, dt, gain),
        "force_reset_r7": r7_amplitude(fam["probability_reset"], lat, dt, gain),
        "cumulative_mean": cumulative_mean_prediction(n1, p1, p2),
        "force_curves": {k: amplitude_curve(fam[k], lat, dt) / gain
                         for k in ("probability", "probability_reset")},
        "wall_s": time.perf_counter() - t0,
    }
    return out


# --------------------------------------------------------------------------- --compare force

def compare_seed(net_single, run_cfg, config, seed, progress=None) -> dict:
    """All four conditions on both switches for one network seed (full-length branches).

    Returns per condition: R6 trials (None = not within the branch), R7 amplitude (own gain),
    R7 amplitude normalised by the three-factor gain, own gain at P = 1, pre-switch
    normalised amplitude, and curves for the figure.
    """
    par, fcfg, ccfg = config["paradigm"], config["force"], config["compare"]
    dt = run_cfg.dt_ms
    n1 = int(par["switch_trials"][0])
    p1, p2 = (float(v) for v in par["switch_probabilities"])
    lat, moved = float(par["single_latency_ms"]), float(par["single_switched_latency_ms"])
    n_t, n_p = int(ccfg["timing_trials"]), int(ccfg["probability_trials"])
    specs = family_specs(par, dt, n_t, n_p)
    both = [("timing", "timing", False, n_t, None),
            ("probability", "probability", False, n_p, None)]
    learners = {"three_factor": _three_factor(config), "force": force_learner(fcfg),
                "force_forget": force_learner(fcfg, float(fcfg["forgetting"]))}
    runs = {}
    t0 = time.perf_counter()
    runs["three_factor"] = run_family(net_single, run_cfg, specs, learners["three_factor"],
                                      seed + 1, both, progress=progress)
    fam = run_family(net_single, run_cfg, specs, learners["force"], seed + 1, both + [
        ("timing_reset", "timing", True, n_t, None),
        ("probability_reset", "probability", True, n_p, None)], progress=progress)
    runs["force"] = {k: fam[k] for k in ("prefix", "timing", "probability")}
    runs["force_reset"] = {"prefix": fam["prefix"], "timing": fam["timing_reset"],
                           "probability": fam["probability_reset"]}
    runs["force_forget"] = run_family(net_single, run_cfg, specs, learners["force_forget"],
                                      seed + 1, both, progress=progress)
    # Own gain at P = 1 on a fresh run: RLS converges within a few trials, so FORCE gets
    # ``gain_trials``; the slower three-factor rule gets R4's P = 1 block length.
    n_gain = {k: int(ccfg["gain_trials"]) for k in learners}
    n_gain["three_factor"] = int(par["probability_trials"])
    gains = {k: gain_at_p1(net_single, run_cfg, par, lrn, seed + 101, n_gain[k],
                           progress=progress)
             for k, lrn in learners.items()}
    gains["force_reset"] = gains["force"]
    out = {"seed": seed, "n1": n1, "p1": p1, "p2": p2, "latency_ms": lat, "moved_ms": moved,
           "timing_trials": n_t, "probability_trials": n_p,
           "cumulative_mean": cumulative_mean_prediction(n1, p1, p2), "conditions": {}}
    for name in CONDITIONS:
        r = runs[name]
        gain = gains[name]
        out["conditions"][name] = {
            "r6": trials_to_timing(r["timing"], moved, dt),
            "r7": r7_amplitude(r["probability"], lat, dt, gain),
            "r7_three_factor_gain": r7_amplitude(r["probability"], lat, dt,
                                                 gains["three_factor"]),
            "gain": gain,
            "pre": float(np.mean(amplitude_curve(r["prefix"], lat, dt)[-40:]) / gain),
            "r7_pre_gain": r7_amplitude(r["probability"], lat, dt, float(np.mean(
                amplitude_curve(r["prefix"], lat, dt)[-40:])) / p1),
            "amp_curve": _amplitude_after(r["probability"], lat, dt, gain, n_p),
            "peak_curve": _running_peak_after(r["timing"], dt, n_t),
        }
    out["wall_s"] = time.perf_counter() - t0
    return out


def expected(name: str, c: dict, res: dict):
    """(expected signature text, passed or None) for one condition of one seed."""
    n1, p2, cap = res["n1"], res["p2"], res["timing_trials"]
    r6, r7 = c["r6"], c["r7"]
    if name in ("three_factor", "force_reset"):
        ok = r6 is not None and r6 <= 50 and abs(r7 - p2) <= 0.1
        return f"R6 <= 50; R7 within 0.1 of {p2}", ok
    if name == "force":
        slow = (r6 is None and cap >= 0.5 * n1) or (r6 is not None and r6 >= 0.5 * n1)
        return f"R6 >= {0.5 * n1:.0f}; R7 > 0.4 (~cum. mean)", slow and r7 > 0.4
    return "none (reported)", None


def compare_rows(results) -> list[dict]:
    """Rows (one per seed and condition) of the comparison table."""
    rows = []
    for res in results:
        for name in CONDITIONS:
            c = res["conditions"][name]
            text, ok = expected(name, c, res)
            rows.append({"seed": res["seed"], "condition": name,
                         "r6_trials": c["r6"], "r6_cap": res["timing_trials"],
                         "r7_amplitude": c["r7"], "r7_three_factor_gain": c["r7_three_factor_gain"],
                         "r7_pre_switch_gain": c["r7_pre_gain"],
                         "gain": c["gain"], "pre_switch": c["pre"],
                         "cumulative_mean": res["cumulative_mean"], "expected": text,
                         "passed": ok})
    return rows


def format_compare(rows) -> str:
    head = (f"{'seed':>4}  {'condition':<24} {'R6 trials':>9} {'R7 amp':>7} {'(pre/p1)':>8} "
            f"{'(3f gain)':>9} {'gain':>5} {'pre':>5} {'cum.mean':>8}  {'expected signature':<34} "
            "result")
    lines = [head]
    for r in rows:
        verdict = {True: "PASS", False: "FAIL", None: "-"}[r["passed"]]
        lines.append(f"{r['seed']:>4}  {CONDITION_LABELS[r['condition']]:<24} "
                     f"{fmt_trials(r['r6_trials'], r['r6_cap']):>9} {r['r7_amplitude']:>7.2f} "
                     f"{r['r7_pre_switch_gain']:>8.2f} {r['r7_three_factor_gain']:>9.2f} "
                     f"{r['gain']:>5.2f} {r['pre_switch']:>5.2f} "
                     f"{r['cumulative_mean']:>8.2f}  {r['expected']:<34} {verdict}")
    return "\n".join(lines)


def write_compare(out, results, rows, resolved, run_cfg):
    """Comparison tables into the results file, run ``compare_force`` (metrics only)."""
    from .common import open_run
    writer, rw = open_run(out, "whatwhen_compare", resolved, run_cfg,
                          {"conditions": ",".join(CONDITIONS),
                           "seeds": ",".join(str(r["seed"]) for r in results)},
                          run_id="compare_force")
    try:
        def grid(key, fill=np.nan):
            return np.array([[fill if res["conditions"][c][key] is None
                              else res["conditions"][c][key] for c in CONDITIONS]
                             for res in results], dtype=float)
        tables = {"r6_trials": grid("r6"), "r7_amplitude": grid("r7"),
                  "r7_amplitude_three_factor_gain": grid("r7_three_factor_gain"),
                  "r7_amplitude_pre_switch_gain": grid("r7_pre_gain"),
                  "gain_p1": grid("gain"), "pre_switch_amplitude": grid("pre"),
                  "r7_curves": np.array([[res["conditions"][c]["amp_curve"]
                                          for c in CONDITIONS] for res in results]),
                  "r6_peak_curves": np.array([[res["conditions"][c]["peak_curve"]
                                               for c in CONDITIONS] for res in results]),
                  "seeds": np.array([res["seed"] for res in results])}
        scalars = {"cumulative_mean_prediction": results[0]["cumulative_mean"],
                   "r6_cap_trials": results[0]["timing_trials"],
                   "n1": results[0]["n1"], "curves_start_trial": -20}
        summary = {"conditions": list(CONDITIONS), "rows": rows,
                   "note": "r6_trials NaN = not re-satisfied within r6_cap_trials; curves "
                           "start 20 trials before the switch; axis 0 seeds, axis 1 conditions"}
        rw.write_metrics(scalars=scalars, tables=tables, summary=summary)
        rw.finish(wall_time_s=sum(r["wall_s"] for r in results), duration_ms=0.0)
    finally:
        writer.close()
