"""``neurosim run whatwhen_robustness``: the what/when criteria over a grid of paradigms.

A result counts only if it holds at values nobody tuned. This experiment runs the criteria
that depend on the paradigm's timing and probabilities at every point of a grid, on several
network seeds, with the what/when experiment's own reservoir and learner (its config
sections ``network``, ``run``, ``learner``, ``paradigm`` and ``force`` apply unchanged):

* ``latency`` points (L_A, L_B): the main stream (2 identities, 2 cue variants) with those
  latencies; R2 (peak within +-50 ms of each L and specific: elsewhere <= 2/3 of the peak)
  and R5 ("what" within 0.1 of P(identity | cue));
* ``timing`` points (L -> L'): one cue, one identity, a latency switch after
  ``paradigm.switch_trials[0]`` trials; R6 (the three-factor rule re-satisfies the timing
  criterion within 50 trials);
* ``probability`` points (p1 -> p2): one cue, one identity, a probability switch; R7 (the
  normalised anticipatory amplitude over trials +25..+55 lies within 0.1 of p2);
* ``gain`` points (one per seed): R4 on the main job's probability phase; its amplitude at
  P = 1 (the learner's gain) normalises R7, as in the main job.

With ``--compare force`` timing and probability points also run FORCE without and with a
reset of P at the switch (same reservoir, features, targets and gate) and record whether the
paper's contrast holds there: FORCE without reset does not re-adapt (R6: not within
``ceil(0.5 n1)`` trials; R7: not within 0.1 of p2), with reset it does.

Every point is one run ``/runs/<point id>`` of the results file (metrics as attributes,
pass flags in the summary); points already complete in the file are skipped, so an
interrupted grid resumes where it stopped. Points run in ``robustness.workers`` processes.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from pathlib import Path

import numpy as np

from ..config import ConfigError, check_range
from .common import network_and_run, resolve
from .pool import run_jobs
from .whatwhen import BOUNDS as WHATWHEN_BOUNDS
from .whatwhen import DEFAULT_CONFIG as WHATWHEN_CONFIG

KIND = "whatwhen_robustness"

DEFAULT_CONFIG = dict(WHATWHEN_CONFIG, robustness={
    # latency pairs: every (L_A, L_B) on this grid with L_B - L_A >= min_separation_ms
    "latency_range_ms": [200.0, 900.0], "latency_step_ms": 50.0, "min_separation_ms": 200.0,
    # timing switches: L -> L + shift for every base and shift that stays in latency_range_ms
    "timing_bases_ms": [350.0, 600.0, 850.0],
    "timing_shifts_ms": [-300.0, -250.0, -200.0, -150.0, 150.0, 200.0, 250.0, 300.0],
    # probability switches: p1 -> p2 between any two levels differing by >= min change
    "probabilities": [0.2, 0.3, 0.5, 0.7, 0.8, 0.9], "min_probability_change": 0.3,
    "seeds": 3,
    "workers": 2,
    # --quick: these points on the first seed only
    "quick_latency_pairs": [[250.0, 500.0], [350.0, 650.0], [450.0, 750.0], [500.0, 900.0]],
    "quick_timing_switches": [[350.0, 650.0], [600.0, 400.0], [600.0, 850.0], [850.0, 600.0]],
    "quick_probability_switches": [[0.8, 0.2], [0.7, 0.3], [0.3, 0.7], [0.2, 0.9]],
})
RESUME_HINT = "run the same command again: points already complete are skipped"
BOUNDS = dict(WHATWHEN_BOUNDS, **{
    "robustness.latency_range_ms": (0, None, "lo_open"),
    "robustness.latency_step_ms": (0, None, "lo_open"),
    "robustness.min_separation_ms": (0, None, "lo_open"),
    "robustness.timing_bases_ms": (0, None, "lo_open"),
    "robustness.probabilities": (0, 1), "robustness.min_probability_change": (0, 1),
    "robustness.seeds": (1, None), "robustness.workers": (1, None)})

# --------------------------------------------------------------------------- the grid

def _check_latency(field, value, window_ms, stim_ms):
    check_range(field, value, 0.0, window_ms - stim_ms, lo_open=True)


def _check_probability(field, value):
    check_range(field, value, 0.0, 1.0)


def _pairs(field, pairs, check):
    out = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ConfigError(f"{field}[{i}] = {pair!r} is invalid: must be a pair [a, b]")
        for j, v in enumerate(pair):
            check(f"{field}[{i}][{j}]", v)
        out.append((float(pair[0]), float(pair[1])))
    return out


def build_grid(config: dict, quick: bool = False) -> list[dict]:
    """All grid points of a resolved config, in run order (gain points first).

    Each point is a dict with ``id`` (stable: kind, values and seed), ``kind``, ``seed`` and
    its values (``latencies_ms``, or ``from``/``to``). Raises ConfigError, naming the field,
    for a latency outside the trial window, a probability outside [0, 1], a step <= 0 or an
    empty grid.
    """
    from ..paradigms.whatwhen import WhatWhenSpec
    rob = config["robustness"]
    fields = WhatWhenSpec.__dataclass_fields__      # the trial window the streams use
    window, stim = fields["window_ms"].default, fields["stim_ms"].default
    lat_check = lambda f, v: _check_latency(f, v, window, stim)  # noqa: E731
    seeds_n = rob["seeds"]
    if not isinstance(seeds_n, int) or isinstance(seeds_n, bool) or seeds_n < 1:
        raise ConfigError(f"robustness.seeds = {seeds_n!r} is invalid: must be an integer >= 1")
    base_seed = int(network_and_run(config)[1].seed)
    if quick:
        seeds = [base_seed]
        lat_pairs = _pairs("robustness.quick_latency_pairs", rob["quick_latency_pairs"],
                           lat_check)
        timing = _pairs("robustness.quick_timing_switches", rob["quick_timing_switches"],
                        lat_check)
        prob = _pairs("robustness.quick_probability_switches",
                      rob["quick_probability_switches"], _check_probability)
    else:
        seeds = [base_seed + s for s in range(seeds_n)]
        lo, hi = (float(v) for v in rob["latency_range_ms"])
        lat_check("robustness.latency_range_ms[0]", lo)
        lat_check("robustness.latency_range_ms[1]", hi)
        if hi < lo:
            raise ConfigError(f"robustness.latency_range_ms = {rob['latency_range_ms']!r} is "
                              "invalid: must be [low, high] with low <= high")
        step = rob["latency_step_ms"]
        check_range("robustness.latency_step_ms", step, 0.0, lo_open=True)
        sep = rob["min_separation_ms"]
        check_range("robustness.min_separation_ms", sep, 0.0)
        levels = np.round(np.arange(lo, hi + 1e-9, float(step)), 6)
        lat_pairs = [(float(a), float(b)) for a, b in itertools.combinations(levels, 2)
                     if b - a >= sep - 1e-9]
        timing = []
        for i, base in enumerate(rob["timing_bases_ms"]):
            lat_check(f"robustness.timing_bases_ms[{i}]", base)
            for j, shift in enumerate(rob["timing_shifts_ms"]):
                check_range(f"robustness.timing_shifts_ms[{j}]", shift)
                if shift != 0 and lo <= base + shift <= hi:
                    timing.append((float(base), float(base + shift)))
        probs = [float(p) for p in rob["probabilities"]]
        for i, p in enumerate(probs):
            _check_probability(f"robustness.probabilities[{i}]", p)
        change = rob["min_probability_change"]
        check_range("robustness.min_probability_change", change, 0.0, 1.0, lo_open=True)
        prob = [(a, b) for a, b in itertools.permutations(probs, 2)
                if abs(a - b) >= change - 1e-9]
    for name, pts in (("latency pairs (robustness.latency_*)", lat_pairs),
                      ("timing switches (robustness.timing_*)", timing),
                      ("probability switches (robustness.probabilities)", prob)):
        if not pts:
            raise ConfigError(f"the robustness grid has no {name}: widen the range or "
                              "lower the minimum difference")
    points = []
    for seed in seeds:
        points.append({"id": f"gain_s{seed}", "kind": "gain", "seed": seed})
    for seed in seeds:
        points += [{"id": f"latency_{a:g}_{b:g}_s{seed}", "kind": "latency", "seed": seed,
                    "latencies_ms": [a, b]} for a, b in lat_pairs]
        points += [{"id": f"timing_{a:g}_to_{b:g}_s{seed}", "kind": "timing", "seed": seed,
                    "from": a, "to": b} for a, b in timing]
        points += [{"id": f"probability_{a:g}_to_{b:g}_s{seed}", "kind": "probability",
                    "seed": seed, "from": a, "to": b} for a, b in prob]
    return points


# --------------------------------------------------------------------------- one point

def run_point(config: dict, point: dict, gain: float | None = None,
              force: bool = False) -> dict:
    """Run one grid point; returns ``{"metrics": {...}, "passed": {...}, "wall_s": s}``.

    ``gain`` (probability points): the three-factor gain at P = 1 of the point's seed.
    Runs in a worker process: everything it needs is in its arguments.
    """
    from ..network import build_network
    from .whatwhen import _single_channel_network
    t0 = time.perf_counter()
    net_cfg, run_cfg = network_and_run(config)
    seed = int(point["seed"])
    run_cfg = dataclasses.replace(run_cfg, seed=seed)
    kind = point["kind"]
    if kind == "latency":
        net = build_network(net_cfg, seed, run_cfg.dtype)
        metrics, passed = _latency_point(net, run_cfg, config, point, seed)
    else:
        net = build_network(_single_channel_network(net_cfg), seed, run_cfg.dtype)
        fn = {"gain": _gain_point, "timing": _timing_point,
              "probability": _probability_point}[kind]
        metrics, passed = fn(net, run_cfg, config, point, seed, gain=gain, force=force)
    return {"metrics": metrics, "passed": passed, "wall_s": time.perf_counter() - t0}


def _three_factor(config):
    from ..learners import make_learner
    cfg = dict(config["learner"])
    return make_learner(cfg.pop("name"), **cfg)


def _latency_point(net, run_cfg, config, point, seed):
    from ..paradigms.whatwhen import WhatWhenSpec, switch_blocks
    from .whatwhen_criteria import _eval_trials, r5_errors, when_specificity
    from .whatwhen_phases import run_phase
    par = config["paradigm"]
    lat = tuple(float(v) for v in point["latencies_ms"])
    probs = tuple(tuple(r) for r in par["cue_identity_probs"])
    from .whatwhen import stream_options
    spec = WhatWhenSpec(n_identities=2, n_cues=len(probs), **stream_options(par, run_cfg.dt_ms),
                        blocks=switch_blocks(
                            [par["main_trials"][0]], par["p_stimulus"], lat, probs))
    phase = run_phase(net, run_cfg, spec, _three_factor(config), seed + 1)
    trials = _eval_trials(phase.table, 0)
    r2 = when_specificity(phase, trials, lat, run_cfg.dt_ms)
    r5 = max(r5_errors(phase, trials, spec.blocks[0]))
    metrics = {"r5_max_error": r5}
    for k, row in enumerate(r2):
        metrics[f"r2_peak_ms_{k}"] = row["peak_ms"]
        metrics[f"r2_ratio_{k}"] = row["ratio"]
        metrics[f"r2_height_{k}"] = row["height"]
    return metrics, {"R2": all(r["passed"] for r in r2), "R5": r5 <= 0.1}


def _gain_point(net, run_cfg, config, point, seed, gain=None, force=False):
    """R4 on the probability phase of the main job; its gain at P = 1 normalises R7."""
    from .whatwhen import _specs
    from .whatwhen_compare import force_learner, gain_at_p1
    from .whatwhen_criteria import _r4
    from .whatwhen_phases import run_phase
    spec = _specs(config["paradigm"], run_cfg.dt_ms)["probability"]
    phase = run_phase(net, run_cfg, spec, _three_factor(config), seed + 1)
    _, _, g, fit, ok = _r4(phase, spec, run_cfg.dt_ms)
    metrics = {"gain": g, "r4_r": fit["r"], "r4_slope": fit["slope"]}
    if force:
        metrics["force_gain"] = gain_at_p1(net, run_cfg, config["paradigm"],
                                           force_learner(config["force"]), seed + 1,
                                           int(config["compare"]["gain_trials"]))
    return metrics, {"R4": bool(ok)}


def _timing_point(net, run_cfg, config, point, seed, gain=None, force=False):
    from .whatwhen_compare import (family_specs, force_learner, run_family,
                                   stop_when_timing_met, trials_to_timing)
    par = dict(config["paradigm"], single_latency_ms=point["from"],
               single_switched_latency_ms=point["to"])
    dt = run_cfg.dt_ms
    n1 = int(par["switch_trials"][0])
    cap = int(math.ceil(0.5 * n1))
    specs = family_specs(par, dt, max(cap, 50))
    stop = stop_when_timing_met(point["to"], dt)
    tf = run_family(net, run_cfg, specs, _three_factor(config), seed + 1,
                    [("timing", "timing", False, 50, stop)], prefix="timing")
    n_tf = trials_to_timing(tf["timing"], point["to"], dt)
    metrics = {"r6_trials": np.nan if n_tf is None else n_tf}
    passed = {"R6": n_tf is not None and n_tf <= 50}
    if force:
        fam = run_family(net, run_cfg, specs, force_learner(config["force"]), seed + 1, [
            ("timing", "timing", False, cap, stop), ("timing_reset", "timing", True, 50, stop)],
            prefix="timing")
        n_f = trials_to_timing(fam["timing"], point["to"], dt)
        n_r = trials_to_timing(fam["timing_reset"], point["to"], dt)
        metrics.update(r6_force_trials=np.nan if n_f is None else n_f,
                       r6_force_reset_trials=np.nan if n_r is None else n_r)
        passed["R6_force_contrast"] = bool(passed["R6"] and (n_f is None or n_f >= cap)
                                           and n_r is not None and n_r <= 50)
    return metrics, passed


def _probability_point(net, run_cfg, config, point, seed, gain=None, force=False):
    from .whatwhen_compare import (R7_TRIALS, cumulative_mean_prediction, family_specs,
                                   force_learner, r7_amplitude, run_family)
    p1, p2 = float(point["from"]), float(point["to"])
    par = dict(config["paradigm"], switch_probabilities=[p1, p2])
    dt = run_cfg.dt_ms
    lat = float(par["single_latency_ms"])
    n_after = R7_TRIALS[1] + 1
    specs = family_specs(par, dt, 1, n_after)
    tf = run_family(net, run_cfg, specs, _three_factor(config), seed + 1,
                    [("probability", "probability", False, n_after, None)])
    g = gain["gain"]
    amp = r7_amplitude(tf["probability"], lat, dt, g)
    metrics = {"r7_amplitude": amp, "gain": g,
               "cumulative_mean": cumulative_mean_prediction(int(par["switch_trials"][0]),
                                                             p1, p2)}
    passed = {"R7": abs(amp - p2) <= 0.1}
    if force:
        fg = gain["force_gain"]
        fam = run_family(net, run_cfg, specs, force_learner(config["force"]), seed + 1, [
            ("probability", "probability", False, n_after, None),
            ("probability_reset", "probability", True, n_after, None)])
        a_f = r7_amplitude(fam["probability"], lat, dt, fg)
        a_r = r7_amplitude(fam["probability_reset"], lat, dt, fg)
        metrics.update(r7_force_amplitude=a_f, r7_force_reset_amplitude=a_r, force_gain=fg)
        passed["R7_force_contrast"] = bool(passed["R7"] and abs(a_f - p2) > 0.1
                                           and abs(a_r - p2) <= 0.1)
    return metrics, passed


# --------------------------------------------------------------------------- the driver

def grid_hash(config: dict, force: bool) -> str:
    """Stable hash of everything that decides a point's result (not ``robustness.workers``
    nor the grid lists: a point's id carries its values)."""
    import hashlib
    keep = {k: v for k, v in config.items() if k != "robustness"}
    return hashlib.sha256(json.dumps([keep, bool(force)], sort_keys=True,
                                     default=str).encode()).hexdigest()[:16]


def _done_points(out: Path, digest: str) -> dict:
    """Complete points already in ``out``: id -> {"metrics", "passed"}; drops incomplete ones.

    Raises ConfigError when ``out`` holds points of another config (``digest``).
    """
    import h5py
    done = {}
    if not out.exists():
        return done
    with h5py.File(out, "a") as f:
        runs = f.get("runs")
        if runs is None:
            return done
        for rid in list(runs):
            g = runs[rid]
            if g.attrs.get("kind") != KIND:
                continue
            if not bool(g.attrs.get("complete", False)):
                del runs[rid]          # a point cut by a crash: it runs again
                continue
            if g.attrs.get("grid_hash") != digest:
                raise ConfigError(f"{out} holds robustness points of another config or "
                                  f"--compare setting (point {rid!r}); choose another --out "
                                  "or run with the config that wrote it")
            m = g.get("metrics")
            summary = json.loads(m["summary_json"][()]) if m is not None and \
                "summary_json" in m else {}
            done[rid] = {"metrics": {k: float(v) for k, v in m.attrs.items()} if m is not None
                         else {}, "passed": summary.get("passed", {}),
                         "point": summary.get("point", {})}
    return done


def _write_point(out: Path, config: dict, point: dict, result: dict, digest: str) -> None:
    from ..results import ResultsWriter
    _, run_cfg = network_and_run(config)
    attrs = dict(seed=int(point["seed"]), backend=run_cfg.backend, dtype=run_cfg.dtype,
                 dt_ms=run_cfg.dt_ms, point_kind=point["kind"], grid_hash=digest,
                 point=json.dumps({k: v for k, v in point.items() if k != "id"}))
    with ResultsWriter(out, mode="a") as w:
        rw = w.create_run(point["id"], KIND, attrs, config)
        rw.write_metrics(scalars=result["metrics"],
                         summary={"passed": result["passed"], "point": point})
        rw.finish(wall_time_s=result["wall_s"], duration_ms=0.0)


def _run_point_job(args):
    return run_point(*args)


def run(config: dict | None, out: Path, figure: Path | None = None, report="tqdm",
        full: bool = False, compare: str | None = None, quick: bool = False) -> dict:
    """Run (or resume) the grid, print the table, write ``out`` and the heatmap ``figure``."""
    if compare not in (None, "force"):
        raise ConfigError(f"--compare {compare!r}: the only comparison is 'force'")
    if full:
        raise ConfigError("--full does not apply to whatwhen_robustness (the default grid is "
                          "the full one; --quick runs a subset)")
    config = resolve(DEFAULT_CONFIG, config, bounds=BOUNDS)
    workers = config["robustness"]["workers"]   # an integer >= 1 (kind and BOUNDS)
    from .whatwhen import _specs
    _, run_cfg = network_and_run(config)  # validates network and run before anything runs
    _three_factor(config)                # validates the learner
    _specs(config["paradigm"], run_cfg.dt_ms)   # validates the paradigm
    points = build_grid(config, quick)
    force = compare == "force"
    out = Path(out)
    digest = grid_hash(config, force)
    done = _done_points(out, digest)
    todo = [p for p in points if p["id"] not in done]
    if done:
        print(f"{out}: {len(done)} of {len(points)} points already complete, "
              f"{len(todo)} to run")
    t0 = time.perf_counter()
    bar = None
    if report is not None and todo:   # a bar on a terminal, one line per point otherwise
        from ..sweep.progress import PointProgress
        bar = PointProgress(len(todo), 0, "text" if report == "text" else "auto")
    gains = {p["seed"]: done[p["id"]]["metrics"] for p in points
             if p["kind"] == "gain" and p["id"] in done}

    def record(point, result):
        _write_point(out, config, point, result, digest)
        done[point["id"]] = dict(result, point=point)
        if point["kind"] == "gain":
            gains[point["seed"]] = result["metrics"]
        if bar is not None:
            bar.done({"point_id": point["id"], "wall_s": result["wall_s"]})

    first = [p for p in todo if p["kind"] == "gain"]
    rest = [p for p in todo if p["kind"] != "gain"]
    try:   # gains first: the other points of a seed are normalised by its gain
        for batch in (first, rest):
            run_jobs(_run_point_job, [(config, p, gains.get(p["seed"]), force) for p in batch],
                     workers, on_done=lambda k, result, batch=batch: record(batch[k], result))
    finally:
        if bar is not None:
            bar.close()
    results = [dict(done[p["id"]], point=p) for p in points]
    from .whatwhen_robustness_table import format_points, summary_rows, format_summary
    rows = summary_rows(results)
    print(format_points(results))
    print()
    print(format_summary(rows))
    print(f"wall time {time.perf_counter() - t0:.1f} s")
    if figure is not None:
        from .whatwhen_robustness_figure import draw
        draw(results, figure)
    return {"table": rows}
