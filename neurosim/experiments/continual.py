"""``neurosim run continual``: continual learning of recurring what/when tasks (CONTINUAL.md).

Protocol
--------
Reservoir: the MODEL.md ``timing`` network (N = 500 by default, to fit the 2-core budget),
with one cue channel per task, each into ``cue_fraction`` (0.4) of E, disjoint subsets
(``cue_exclusive``; False: independent random subsets sharing ~``cue_fraction**2`` of E),
and one identity channel.

Task k: cue k is followed, with probability ``p_stimulus``, by the stimulus at latency
``latency_ms[k]`` (one identity). The tasks are jointly solvable (the cues differ), but they
interfere through the shared part of the reservoir's response: neurons driven by both cues
carry the same time-since-cue code, and task A wants a bump there at 400 ms and nothing at
800 ms while task B wants the reverse. A readout trained on A alone, then B alone, forgets A.

Schedule (``continual.schedule``, ``paradigms/schedules.py``):

* ``"blocks"``: ``fixed_blocks(block_tasks)`` (default A B A B);
* ``"power_law"``: ``power_law_recurrence`` (Gandhi et al. 2024): tasks enter in order, then
  each block picks a task other than the last one with weight ``(lag + c - 1)^-alpha``
  (``continual.power_law``: ``n_blocks``, ``alpha``, ``c``);
* ``"exponential"`` / ``"uniform"``: its controls, same ``n_blocks`` and tasks, weight
  ``exp(-lag / tau)`` (``continual.power_law.tau``, in blocks) or 1;
* ``"scole"``: SCoLe-style re-occurrence (Lesort et al. 2022; ``scole_sequence``): each of
  ``continual.scole.n_blocks`` blocks trains a uniform random subset of
  ``continual.scole.subset_size`` tasks, their trials interleaved in random order
  (``trials_per_block`` split as evenly as possible).

Random schedules draw from the run seed, so each seed sees its own sequence. Before the first
block and after every block, **probe trials** measure each task with the
readout frozen (rule "frozen"; learner counters restored afterwards): ``probe_trials``
omission trials per task (no stimulus, so the whole window is anticipatory).

Performance (R[b, k]): on the trial-averaged frozen "when" output z(t) of task k's probe
trials, over ``t`` in [``score_from_ms``, window) after the cue (skipping the cue's own
transient), against the expected profile ``T(t) = gain * p_k * exp(-(t - L_k)^2 / 2 sigma^2)``:
``R = clip(1 - sum (z - T)^2 / sum T^2, 0, 1)``: 1 = the expected anticipatory profile,
0 = no better than a flat zero output (or worse: a bump at the wrong time). ``gain`` (0.5)
is MODEL.md's measured readout gain (z0 at onset reaches ~half the target at P = 1).

Metrics per method and seed: R (``accuracy_matrix``), ACC = mean_k R[-1, k]; BWT (GEM, first
pass: R[B, k] - R[f_k, k], f_k the first block training task k, B = max_k f_k; = R[K-1, k] -
R[k, k] in the GEM order); FWT (GEM: R[f_k - 1, k] - R_0[k], R_0 the untrained readout's
score, over tasks with f_k >= 1); BWT_rec, the mean over all block switches of the change in the
previous block's tasks (R[b+1, k] - R[b, k] for the tasks trained in block b but not in
b + 1), which uses every recurrence; adaptation
speed = trials to criterion after each switch (the running score over the last
``criterion_window`` training trials' z0, masked after stimulus onset, reaching
``criterion``; censored switches count as the block length, and are counted); the mean
per-trial fraction of "when" weights updated; extra memory per synapse. The summary gives
each metric's mean, sd and 95 % Student-t interval over seeds.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from ..analysis.continual import (backward_transfer_first_pass, first_occurrence,
                                  forward_transfer_gem, fraction_updated, t_interval,
                                  trials_to_criterion)
from ..analysis.whatwhen import masked_mean
from ..config import ConfigError
from ..kernels.continual import memory_per_synapse
from ..kernels.records import CODES
from ..learners import make_learner
from ..network import build_network
from ..paradigms.schedules import fixed_blocks, power_law_recurrence, scole_sequence
from ..paradigms.whatwhen import Block, WhatWhenSpec, WhatWhenStream
from ..simulator import Simulator, n_features
from ..streams import Chunk
from .common import full_config, move_aside, network_and_run, resolve
from .whatwhen_phases import TIMING_NETWORK, timing_inputs

METHODS = ("three_factor", "plain_trial", "classp", "fast_slow", "ewc", "force", "force_reset",
           "kappatune")
SCHEDULES = ("blocks", "power_law", "exponential", "uniform", "scole")

DEFAULT_CONFIG = {
    "network": dict(TIMING_NETWORK, n_neurons=500),
    "run": {"dt_ms": 1.0, "dtype": "float32", "backend": "numba", "seed": 0, "chunk_ms": 2000.0},
    "continual": {
        "latency_ms": [400.0, 800.0],
        "p_stimulus": 0.8,
        "cue_fraction": 0.4,
        "cue_exclusive": True,
        "schedule": "blocks",              # SCHEDULES
        "block_tasks": [0, 1, 0, 1],
        "trials_per_block": 80,
        # power_law and its controls exponential (tau, in blocks) and uniform
        "power_law": {"n_blocks": 8, "alpha": 0.8, "c": 1.0, "tau": 2.0},
        "scole": {"n_blocks": 8, "subset_size": 2},
        "learn_from_ms": 100.0,
        "probe_trials": 10,
        "gain": 0.5,
        "score_window_ms": 50.0,
        "criterion": 0.5,
        "criterion_window": 10,
        "seeds": 5,
        "methods": [m for m in METHODS if m != "kappatune"],   # kappatune: on request
        "iti_ms": [500.0, 1000.0],
        "workers": 2,                      # processes (one method x seed each)
    },
    # Per-method hyper-parameters (make_learner); force_reset = force + reset at each switch.
    "learners": {
        "three_factor": {"eta0": 80.0},
        "plain_trial": {"eta0": 8.0},
        "classp": {"eta0": 8.0, "eta_w": 1e-2, "theta": 1.0, "p": 1.0, "relative": True},
        "fast_slow": {"eta0": 8.0, "fast_rate": 1.25, "beta": 0.8, "pull": 0.5, "decay": 0.01},
        "ewc": {"eta0": 8.0, "pull": 0.5, "gamma": 1.0},
        "force": {"alpha": 10.0, "rls_every": 20, "online_outputs": [0]},
        "force_reset": {"alpha": 10.0, "rls_every": 20, "online_outputs": [0]},
        "kappatune": {"eta0": 8.0, "kappa_fraction": 0.25, "module_size": 25, "group": "bank",
                      "select": "switch"},
    },
}

# Each learner's table may name any of its hyper-parameters (checked by its record).
OPEN_PATHS = ("learners.*",)
# Allowed intervals of the numeric settings (neurosim.config_check); "learners.*" are also
# checked by each learner's record.
BOUNDS = {
    "continual.latency_ms": (0, None, "lo_open"), "continual.p_stimulus": (0, 1, "lo_open"),
    "continual.cue_fraction": (0, 1, "lo_open"), "continual.block_tasks": (0, None),
    "continual.trials_per_block": (1, None), "continual.power_law.n_blocks": (1, None),
    "continual.power_law.alpha": (0, None), "continual.power_law.c": (0, None, "lo_open"),
    "continual.power_law.tau": (0, None, "lo_open"), "continual.scole.n_blocks": (1, None),
    "continual.scole.subset_size": (1, None),
    "continual.learn_from_ms": (0, None), "continual.probe_trials": (1, None),
    "continual.gain": (0, None, "lo_open"), "continual.score_window_ms": (0, None, "lo_open"),
    "continual.criterion": (0, None, "lo_open"), "continual.criterion_window": (1, None),
    "continual.seeds": (1, None), "continual.iti_ms": (0, None), "continual.workers": (1, None),
    "learners.*.online_outputs": (0, None),
}

SIGMA_MS = 25.0  # WhatWhenSpec.target_sigma_ms

# after SIGINT/SIGTERM (the CLI prints it): finished runs are kept by the sweep
RESUME_HINT = ("rerun the same command: the method x seed runs already finished are kept in "
               "<out stem>_sweep_points/ and skipped")


# ------------------------------------------------------------------------------- pieces
def network_config(config: dict):
    """Network and run records, with one cue channel per task and one identity channel."""
    par = config["continual"]
    net = dict(config["network"])
    inputs = timing_inputs(len(par["latency_ms"]), 1, cue_fraction=par["cue_fraction"])
    for ch in inputs[:-1]:
        ch["exclusive"] = bool(par["cue_exclusive"])
    # the identity channel stays exclusive only where disjoint cue subsets leave room for it
    room = 1.0 - (len(inputs) - 1) * par["cue_fraction"] if par["cue_exclusive"] else 1.0
    inputs[-1]["exclusive"] = room >= inputs[-1]["fraction"] - 1e-9
    net["inputs"] = inputs
    return network_and_run(dict(config, network=net))


def make_method(config: dict, method: str):
    """The learner of ``method`` (``force_reset`` is FORCE, reset at every block end)."""
    if method not in METHODS:
        raise ConfigError(f"continual.methods: {method!r} is unknown; valid: {', '.join(METHODS)}")
    hyper = dict(config["learners"].get(method, {}))
    if "online_outputs" in hyper:
        hyper["online_outputs"] = tuple(hyper["online_outputs"])
    return make_learner("force" if method == "force_reset" else method,
                        key=f"learners.{method}", **hyper)


# the schedule functions' argument names -> config keys (their errors are re-raised naming
# the config key)
_KEYS = {"power_law_recurrence": {"n_tasks": "continual.latency_ms (number of tasks)",
                                  "n_blocks": "continual.power_law.n_blocks",
                                  "alpha": "continual.power_law.alpha",
                                  "c": "continual.power_law.c",
                                  "tau": "continual.power_law.tau"},
         "scole_sequence": {"n_conditions": "continual.latency_ms (number of tasks)",
                            "n_tasks": "continual.scole.n_blocks",
                            "subset_size": "continual.scole.subset_size"}}


def _renamed(fn: str, err: ValueError) -> ConfigError:
    msg = str(err)
    for arg, key in _KEYS[fn].items():
        if msg.startswith(f"{fn}.{arg} "):
            return ConfigError(key + msg[len(fn) + 1 + len(arg):])
    return ConfigError(f"continual.schedule = {fn}: {msg}")


def block_plan(par: dict, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(tasks, trials per block) of the configured schedule.

    ``tasks``: int array (n_blocks,), the task of each block; for ``"scole"``
    (n_blocks, subset_size), the tasks of each block, ascending. Raises ConfigError naming
    the key for a bad setting."""
    K = len(par["latency_ms"])
    name = par["schedule"]
    if name == "blocks":
        sched = fixed_blocks(par["block_tasks"], par["trials_per_block"])
        if np.any(sched.tasks >= K):
            raise ConfigError(f"continual.block_tasks = {list(par['block_tasks'])} uses task "
                              f"ids >= {K} (the number of latencies)")
        return sched.tasks, sched.trials_per_block
    if name in ("power_law", "exponential", "uniform"):
        pl = par["power_law"]
        kind = {"power_law": "power"}.get(name, name)
        try:
            tasks = power_law_recurrence(K, pl["n_blocks"], pl["alpha"], pl.get("c", 1.0),
                                         kind=kind, seed=seed, tau=pl.get("tau"))
        except ValueError as e:
            raise _renamed("power_law_recurrence", e) from None
        return tasks, np.full(len(tasks), int(par["trials_per_block"]), np.int64)
    if name == "scole":
        sc = par["scole"]
        try:
            subsets, _ = scole_sequence(K, sc["n_blocks"], sc["subset_size"], seed=seed)
        except ValueError as e:
            raise _renamed("scole_sequence", e) from None
        if int(par["trials_per_block"]) < subsets.shape[1]:
            raise ConfigError(f"continual.trials_per_block = {par['trials_per_block']} is "
                              f"below continual.scole.subset_size = {subsets.shape[1]}: every "
                              "task of a block needs a trial")
        return subsets, np.full(len(subsets), int(par["trials_per_block"]), np.int64)
    raise ConfigError(f"continual.schedule = {name!r} is unknown; valid: {', '.join(SCHEDULES)}")


def block_mask(tasks, n_tasks: int) -> np.ndarray:
    """(n_blocks, n_tasks) bool: the tasks each block trains (``tasks`` as from
    :func:`block_plan`, 1-D or 2-D)."""
    t = np.asarray(tasks, dtype=np.int64)
    t = t[:, None] if t.ndim == 1 else t
    m = np.zeros((t.shape[0], n_tasks), dtype=bool)
    np.put_along_axis(m, t, True, axis=1)
    return m


def check_schedule(par: dict) -> None:
    """Raise ConfigError (naming the key) if the configured schedule cannot be built."""
    block_plan(par, 0)


def task_chunks(par: dict, task: int, n_trials: int, p_stimulus: float, seed, dt_ms: float,
                n_tasks: int):
    """Trials of ``task`` as chunks over the network's channels (cue ``task``, identity).

    The learning gate opens ``learn_from_ms`` after the cue (all methods alike): the cue's
    synchronous transient holds ~60 % of a trial's feature energy in one direction
    (measured at N = 500), which limits a per-trial batch update to eta0 < ~3; without its
    first 100 ms the limit is ~10 (the when target is ~0 there anyway).
    """
    spec = WhatWhenSpec(n_identities=1, n_cues=1, dt_ms=dt_ms, iti_ms=tuple(par["iti_ms"]),
                        blocks=(Block(n_trials, p_stimulus, ((1.0,),),
                                      (float(par["latency_ms"][task]),)),))
    delay = int(round(par["learn_from_ms"] / dt_ms))
    for ch in WhatWhenStream(spec, seed):
        gate = ch.gate.copy()
        gate[ch.cue_step:ch.cue_step + delay] = 0.0
        drive = np.zeros((ch.n_steps, n_tasks + 1), np.float32)
        drive[:, task] = ch.drive[:, 0]
        drive[:, n_tasks] = ch.drive[:, 1]
        yield Chunk(ch.n_steps, drive=drive, target=ch.target, gate=gate, tag=ch.tag,
                    trial=ch.trial), ch.cue_step, ch.stim_step


def _block_trials(par: dict, here, n: int, p: float, seed, dt_ms: float, n_tasks: int):
    """[(task, (chunk, cue_step, stim_step))] of one block: one task's ``n`` trials (from
    ``seed``, as before SCoLe), or ``n`` split as evenly as possible over the tasks ``here``
    (the first ones get the remainder), each from its own child of ``seed``, interleaved in
    a random order."""
    if len(here) == 1:
        k = int(here[0])
        return [(k, t) for t in task_chunks(par, k, n, p, seed, dt_ms, n_tasks)]
    kids = seed.spawn(len(here) + 1)
    counts = [n // len(here) + (j < n % len(here)) for j in range(len(here))]
    per = {int(k): list(task_chunks(par, int(k), c, p, kids[j], dt_ms, n_tasks))
           for j, (k, c) in enumerate(zip(here, counts)) if c > 0}
    order = np.repeat([int(k) for k, c in zip(here, counts) if c > 0],
                      [c for c in counts if c > 0])
    np.random.default_rng(kids[-1]).shuffle(order)
    pos = {k: 0 for k in per}
    out = []
    for k in order:
        out.append((int(k), per[k][pos[k]]))
        pos[k] += 1
    return out


def score(trace, k, par, dt_ms) -> float:
    """Performance in [0, 1] of task ``k`` from a trial-averaged frozen "when" trace.

    ``h(L)`` = mean of the trace over the anticipatory window [L - ``score_window_ms``, L)
    after the cue (NaN steps ignored). With ``L_k`` the task's latency and ``L_o`` the other
    tasks' latencies: ``R = clip((h(L_k) - max_o h(L_o)) / h_T, 0, 1)``, ``h_T`` = the mean of
    the expected profile ``gain * p * exp(-(t - L_k)^2 / 2 sigma^2)`` over the same window.
    1: the output rises before the task's own stimulus time, to the expected height, and not
    before the other tasks' times; 0: no preference, or the other task's timing.
    """
    lat = [float(v) for v in par["latency_ms"]]
    w = par["score_window_ms"]

    def h(L):
        lo, hi = int(round((L - w) / dt_ms)), int(round(L / dt_ms))
        seg = trace[max(lo, 0):hi]
        return float(np.nanmean(seg)) if np.any(np.isfinite(seg)) else float("nan")

    L = lat[k]
    t = np.arange(int(round((L - w) / dt_ms)), int(round(L / dt_ms))) * dt_ms
    h_T = par["gain"] * par["p_stimulus"] * float(np.mean(np.exp(-(t - L) ** 2 / (2 * SIGMA_MS ** 2))))
    others = [h(Lo) for j, Lo in enumerate(lat) if j != k and Lo != L]
    off = max(others) if others else 0.0
    value = (h(L) - off) / h_T
    return float(np.clip(value, 0.0, 1.0)) if np.isfinite(value) else float("nan")


def probe(sim: Simulator, chunks) -> np.ndarray:
    """Run ``chunks`` with learning frozen; return cue-aligned "when" outputs (n, window).

    Learner bookkeeping the kernel updates on gated steps (feature-power sums, tag sums,
    counters, eligibility) is restored afterwards, so probing does not change learning.
    """
    r = sim.readout
    saved = {k: np.array(getattr(r, k)) for k in ("fsums", "counters", "tag_sum", "elig")}
    sim.readout = r._replace(rule=CODES["rule"]["frozen"])
    out = []
    try:
        for ch, cue, _ in chunks:
            res = sim.run_one_chunk(ch)
            out.append(res.z0[cue:, 0])
    finally:
        sim.readout = r
        for k, v in saved.items():
            np.copyto(getattr(r, k), v)
    n = min(len(o) for o in out)
    return np.array([o[:n] for o in out])


def memory_of(method: str, n_feat: int) -> float:
    """Extra floats per "when" synapse (FORCE: its P matrix, n_feat floats per synapse)."""
    if method in ("three_factor", "plain_trial"):
        return 0.0
    if method in ("force", "force_reset"):
        return float(n_feat + 2)  # P row + share of the RLS work array (2, n_feat + 2)
    return float(memory_per_synapse(method, during_block=True))


# ------------------------------------------------------------------------------- one run
def run_method(net, run_cfg, config: dict, method: str, seed: int) -> dict:
    """Train ``method`` over the schedule on ``net``; returns R, curves and metrics.

    A learner with ``wants_features()`` true (kappatune, at a block's first trial) gets
    that trial's features and gate through ``observe_features`` before its update."""
    par = config["continual"]
    K = len(par["latency_ms"])
    dt = run_cfg.dt_ms
    p = par["p_stimulus"]
    learner = make_method(config, method)
    nf = n_features(net)
    readout = learner.init_state(nf, 2, net.n_neurons, net.a.dtype, dt)
    sim = Simulator(net, dataclasses.replace(run_cfg, seed=seed), readout=readout)
    tasks, sizes = block_plan(par, seed)
    mask = block_mask(tasks, K)
    ss = np.random.SeedSequence([seed, 7]).spawn(len(tasks) + 1)
    probe_seed = ss[-1]
    t0 = time.perf_counter()

    def probe_all():
        out = np.empty(K)
        for k in range(K):
            Z = probe(sim, task_chunks(par, k, par["probe_trials"], 0.0, probe_seed, dt, K))
            out[k] = score(Z.mean(axis=0), k, par, dt)
        return out

    R0 = probe_all()                 # the untrained readout (FWT's baseline)
    R = np.full((len(tasks), K), np.nan)
    curves, fractions, to_crit, censored = [], [], [], 0
    w = par["criterion_window"]
    for b, n in enumerate(sizes):
        here = np.flatnonzero(mask[b])
        trials = _block_trials(par, here, int(n), p, ss[b], dt, K)
        traces = {int(k): [] for k in here}
        curve = np.empty(len(trials))
        for i, (k, (ch, cue, stim)) in enumerate(trials):
            sim.readout = learner.before_chunk(sim.readout, ch)
            if getattr(learner, "wants_features", lambda: False)():
                # kappatune: selects its plastic modules from this trial's features
                res, X = sim.run_one_chunk_features(ch)
                learner.observe_features(X, np.asarray(ch.gate, float))
            else:
                res = sim.run_one_chunk(ch)
            tr = np.array(res.z0[cue:, 0], dtype=float)
            if stim >= 0:
                tr[stim - cue:] = np.nan
            traces[k].append(tr)
            learner.consolidate(sim.readout, ch, res)
            fractions.append(fraction_updated(sim.readout.W0[0], sim.readout.W[0]))
            last = traces[k][-w:]    # running score of this trial's task over its last w
            win = min(len(t) for t in last)
            curve[i] = score(masked_mean(np.array([t[:win] for t in last]), min_trials=1),
                             k, par, dt)
        curves.append(curve)
        task_of = np.array([k for k, _ in trials])
        for k in here:               # tasks entering at this block (a switch to them)
            if b > 0 and not mask[b - 1, k]:
                n_c = trials_to_criterion(curve[task_of == k], par["criterion"])
                if n_c is None:
                    censored += 1
                    n_c = int(np.sum(task_of == k))
                to_crit.append(n_c)
        end_block = getattr(learner, "end_block", None)
        if end_block is not None:
            end_block(sim.readout)
        if method == "force_reset":
            learner.reset(sim.readout)
        R[b] = probe_all()
    bwt_rec = [R[b + 1, k] - R[b, k] for b in range(len(tasks) - 1)
               for k in np.flatnonzero(mask[b] & ~mask[b + 1])]
    first = first_occurrence(mask)
    return {
        "method": method, "seed": seed, "R": R, "R0": R0, "tasks": tasks, "curves": curves,
        "ACC": float(np.mean(R[-1])),
        "BWT": backward_transfer_first_pass(R, first),
        "FWT": forward_transfer_gem(R, R0, first),
        "BWT_rec": float(np.mean(bwt_rec)) if bwt_rec else float("nan"),
        "trials_to_criterion": float(np.mean(to_crit)) if to_crit else float("nan"),
        "censored": censored, "n_switches": len(to_crit),
        "fraction_updated": float(np.mean(fractions)),
        "memory_per_synapse": (learner.memory_per_synapse()
                               if hasattr(learner, "memory_per_synapse") else memory_of(method, nf)),
        "wall_s": time.perf_counter() - t0,
    }


def _worker(args):
    config, method, seed = args
    net_cfg, run_cfg = network_config(config)
    net = build_network(net_cfg, seed, run_cfg.dtype)
    return run_method(net, run_cfg, config, method, seed)


def sweep_point(config: dict, out: Path) -> dict:
    """One method x seed of the comparison as a sweep point (:mod:`neurosim.sweep`): the
    method is ``continual.methods[0]``, the seed ``run.seed``. Writes the run to ``out``
    (run ``<method>_seed<seed>``: scalars, ``accuracy_matrix`` (n_blocks, n_tasks),
    ``block_tasks``, one ``learning_curve_<b>`` per block) and returns its scalar metrics."""
    from .common import open_run
    check_schedule(config["continual"])
    r = _worker((config, config["continual"]["methods"][0], config["run"]["seed"]))
    net_cfg, run_cfg = network_config(config)
    writer, rw = open_run(out, "continual", config, run_cfg,
                          {"method": r["method"], "n_neurons": net_cfg.n_neurons},
                          run_id=f"{r['method']}_seed{r['seed']}")
    try:
        rw.write_metrics(scalars={k: r[k] for k in METRICS + ("censored", "n_switches")},
                         tables={"accuracy_matrix": r["R"], "baseline": r["R0"],
                                 "block_tasks": np.asarray(r["tasks"]),
                                 **{f"learning_curve_{b}": c for b, c in enumerate(r["curves"])}})
        rw.finish(wall_time_s=r["wall_s"], duration_ms=0.0)
    finally:
        writer.close()
    return {k: r[k] for k in METRICS + ("censored", "n_switches")}


# the sweep checks each point with the experiment's own rules
sweep_point.DEFAULT_CONFIG = DEFAULT_CONFIG
sweep_point.OPEN_PATHS = OPEN_PATHS
sweep_point.BOUNDS = BOUNDS


def _read_point(path: Path) -> dict:
    """A :func:`sweep_point` file back as the run dict :func:`run_method` returned."""
    from ..results import load
    run = load(path).latest
    m = run.metrics
    n_blocks = len(m["block_tasks"])
    out = {k: m[k] for k in METRICS + ("censored", "n_switches")}
    out.update(method=run.attrs["method"], seed=run.attrs["seed"], R=m["accuracy_matrix"],
               R0=m["baseline"], tasks=m["block_tasks"], wall_s=run.attrs["wall_time_s"],
               curves=[m[f"learning_curve_{b}"] for b in range(n_blocks)])
    return out


def run_jobs_as_sweep(config: dict, methods: list, seeds: list, out: Path, report) -> list:
    """Every method x seed as a sweep (:mod:`neurosim.sweep`): one file per run in
    ``<out stem>_sweep_points/`` (index ``<out stem>_sweep.h5``), kept, so a rerun skips
    the runs already finished; ``continual.workers`` processes on a Dask LocalCluster (one:
    in this process). Returns the run dicts in (seed, method) order."""
    from .. import sweep
    workers = int(config["continual"]["workers"])
    if workers > 1:
        try:
            import distributed  # noqa: F401
        except ImportError:
            print("continual: Dask is not installed (pip install 'neurosim[sweep]'): the runs "
                  "go one after another in this process")
            workers = 0
    else:
        workers = 0
    base = json.loads(json.dumps(config))
    base["run"]["seed"] = seeds[0]
    # a point is one method and one seed: settings of the whole comparison stay out of its
    # config (and hash), so more seeds or workers reuse the runs already finished
    base["continual"].update(workers=1, seeds=1)
    spec = {"experiment": sweep_point, "base": base,
            "product": {"continual.methods": [[m] for m in methods]}, "seeds": len(seeds)}
    result = sweep.run(spec, out=Path(out).with_name(Path(out).stem + "_sweep.h5"),
                       workers=workers, report=None if report is None else "auto")
    if result.failures:
        raise RuntimeError(f"continual: {len(result.failures)} runs failed (reported above); "
                           f"rerun to retry them (finished runs are kept in "
                           f"{result.points_dir})")
    runs = {(r["values"]["run.seed"], r["values"]["continual.methods"][0]):
            _read_point(result.points_dir / r["file"]) for r in result.records}
    return [runs[(seed, m)] for seed in seeds for m in methods]


# ------------------------------------------------------------------------------- summary
METRICS = ("ACC", "BWT", "BWT_rec", "FWT", "trials_to_criterion", "fraction_updated",
           "memory_per_synapse")
# per metric in the summary: mean, sd (ddof 0) and the 95 % t-interval over seeds
SUFFIXES = ("", "_sd", "_lo", "_hi")


def summarise(runs: list[dict], methods) -> list[dict]:
    """Mean, sd and 95 % Student-t interval (``_lo``, ``_hi``; NaN for one seed) over seeds
    of each metric, one row per method."""
    rows = []
    for m in methods:
        rs = [r for r in runs if r["method"] == m]
        row = {"method": m, "n_seeds": len(rs), "censored": int(sum(r["censored"] for r in rs)),
               "switches": int(sum(r["n_switches"] for r in rs))}
        for key in METRICS:
            v = np.array([r[key] for r in rs], dtype=float)
            row[key] = float(np.nanmean(v)) if np.any(np.isfinite(v)) else float("nan")
            row[key + "_sd"] = float(np.nanstd(v)) if np.sum(np.isfinite(v)) > 1 else 0.0
            _, row[key + "_lo"], row[key + "_hi"] = t_interval(v)
        rows.append(row)
    return rows


def interval(r: dict, k: str, fmt: str = "{:.2f}") -> str:
    """``mean [lo, hi]`` of metric ``k`` in a summary row (just the mean for one seed)."""
    if not np.isfinite(r[k + "_lo"]):
        return fmt.format(r[k])
    return f"{fmt.format(r[k])} [{fmt.format(r[k + '_lo'])}, {fmt.format(r[k + '_hi'])}]"


def format_table(rows) -> str:
    cols = [("ACC", "ACC", "{:.2f}"), ("BWT", "BWT (GEM)", "{:+.2f}"),
            ("BWT_rec", "BWT (all sw.)", "{:+.2f}"), ("FWT", "FWT (GEM)", "{:+.2f}"),
            ("trials_to_criterion", "trials to crit.", "{:.0f}"),
            ("fraction_updated", "frac. upd.", "{:.3f}")]
    cells = [[interval(r, k, f) + (f" ({r['censored']}c)"
                                   if k == "trials_to_criterion" and r["censored"] else "")
              for k, _, f in cols] for r in rows]
    width = [max([len(h)] + [len(c[j]) for c in cells]) for j, (_, h, _) in enumerate(cols)]
    head = f"{'method':<13} " + " ".join(f"{h:>{w}}" for (_, h, _), w in zip(cols, width)) \
        + f" {'mem/syn':>7}"
    lines = [head, "-" * len(head)]
    for r, c in zip(rows, cells):
        lines.append(f"{r['method']:<13} " + " ".join(f"{x:>{w}}" for x, w in zip(c, width))
                     + f" {r['memory_per_synapse']:>7.0f}")
    lines.append("mean [95 % t-interval] over seeds; BWT (GEM) = R[B,k]-R[f_k,k] on the first "
                 "pass (f_k: first block of task k, B = max f_k); BWT (all sw.) = mean change "
                 "of the previous block's tasks at every switch; FWT (GEM) = R[f_k-1,k] - "
                 "untrained score; trials to criterion after each switch ((n c) = censored, "
                 "counted as the task's trials in the block); mem/syn = extra floats per "
                 "synapse")
    return "\n".join(lines)


def write_results(out: Path, config: dict, runs: list[dict], rows: list[dict], run_cfg,
                  n_neurons: int, wall_s: float):
    """One run group per method and seed (metrics/accuracy_matrix, curves) and a summary run."""
    from .common import open_run
    for r in runs:
        writer, rw = open_run(out, "continual", config, dataclasses.replace(run_cfg, seed=r["seed"]),
                              {"method": r["method"], "n_neurons": n_neurons},
                              run_id=f"{r['method']}_seed{r['seed']}")
        try:
            rw.write_metrics(
                scalars={k: r[k] for k in METRICS + ("censored", "n_switches")},
                tables={"accuracy_matrix": r["R"], "baseline": r["R0"],
                        "block_tasks": np.asarray(r["tasks"]),
                        "learning_curve": np.concatenate(r["curves"])})
            rw.finish(wall_time_s=r["wall_s"], duration_ms=0.0)
        finally:
            writer.close()
    writer, rw = open_run(out, "continual_summary", config, run_cfg,
                          {"n_neurons": n_neurons}, run_id="summary")
    try:
        methods = [row["method"] for row in rows]
        columns = [k + s for s in SUFFIXES for k in METRICS]
        table = np.array([[row[c] for c in columns] for row in rows])
        R_mean = np.array([np.mean([r["R"] for r in runs if r["method"] == m], axis=0)
                           for m in methods])
        rw.write_metrics(scalars={"methods": ",".join(methods), "schedule": config[
                                      "continual"]["schedule"], "columns": ",".join(columns)},
                         tables={"summary_table": table, "accuracy_matrix": R_mean},
                         summary={"rows": rows})
        rw.finish(wall_time_s=wall_s, duration_ms=0.0)
    finally:
        writer.close()


def run(config: dict | None, out: Path, figure: Path | None = None, report="tqdm",
        full: bool = False) -> dict:
    """Run every method over the seeds, print the table, write ``out`` and ``figure``."""
    config = resolve(DEFAULT_CONFIG, config, open_paths=OPEN_PATHS, bounds=BOUNDS)
    par = config["continual"]
    t0 = time.perf_counter()
    net_cfg, run_cfg = network_config(config)
    methods = list(par["methods"])
    for m in sorted(set(methods) | set(config["learners"])):
        make_method(config, m)  # validate every method's settings before simulating
    if "kappatune" in methods:
        size = make_method(config, "kappatune").module_size
        if size > net_cfg.n_neurons:
            raise ConfigError(f"learners.kappatune.module_size = {size} exceeds network."
                              f"n_neurons = {net_cfg.n_neurons}: must lie in "
                              f"[1, {net_cfg.n_neurons}]")
    check_schedule(par)
    n_seeds = max(int(par["seeds"]), 10 if full else 0)
    seeds = [run_cfg.seed + s for s in range(n_seeds)]
    move_aside(out)
    runs = run_jobs_as_sweep(config, methods, seeds, out, report)
    if report is not None:
        for r in runs:
            print(f"seed {r['seed']} {r['method']:<13} ACC {r['ACC']:.2f} BWT_rec "
                  f"{r['BWT_rec']:+.2f} FWT {r['FWT']:+.2f} ttc {r['trials_to_criterion']:.0f} ({r['wall_s']:.1f} s)",
                  flush=True)
    rows = summarise(runs, methods)
    print(format_table(rows))
    wall = time.perf_counter() - t0
    print(f"N = {net_cfg.n_neurons}, schedule {par['schedule']}, {len(seeds)} seeds, "
          f"wall time {wall:.1f} s")
    resolved = full_config(net_cfg, run_cfg, continual=par, learners=config["learners"])
    write_results(out, resolved, runs, rows, run_cfg, net_cfg.n_neurons, wall)
    if figure is not None:
        from .continual_figure import draw
        draw(runs, rows, par, figure)
    return {"table": rows, "runs": runs}
