"""``neurosim run whatwhen``: the what/when prediction model and criteria R0-R10 (MODEL.md).

One timing reservoir; each phase trains a fresh three-factor readout on its own stream:

* ``main``: 2 identities, 2 cue variants, then a timing switch (R2, R3, R5, R6, R8);
* ``probability``: one cue and identity, blocks at P = 1, 0.75, 0.5, 0.25 (R4);
* ``switch``: P = 0.8 then 0.2 (R7); ``ablation_no_gate``: the R4 phase, gate always open (R9).
R0 (regime) and R1 (time-since-cue decodability) run first. Criteria use z0, the output with
the weights frozen when the gate opened, on the anticipatory window.

The FORCE halves of R6 and R7 (``force.in_main``; off by default, on with ``--compare force``
or ``--set force.in_main=true``) run FORCE (RLS, MODEL.md:
P(0) = I / 10, an update every 20 gated steps, "when" output only) on the single-channel
switch family of ``whatwhen_compare``: block 0 of the ``switch`` phase, then forks for the
timing switch (``single_latency_ms`` -> ``single_switched_latency_ms``) and the probability
switch, each without and with ``P <- P(0)`` at the switch. ``--compare force`` adds the full
comparison (with FORCE with forgetting) over ``compare.seeds`` seeds: table, HDF5 run
``compare_force``, figure ``<figure stem>_compare.png``.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from ..config import ConfigError, check_choice, user_keys
from ..learners import make_learner
from ..network import build_network
from ..simulator import DivergenceError
from ..paradigms.whatwhen import EVENT_GATES, WhatWhenSpec, switch_blocks
from .common import full_config, move_aside, network_and_run, open_run, resolve
from .whatwhen_criteria import evaluate, format_table
from .whatwhen_phases import TIMING_NETWORK, readout_names, run_phase, timing_inputs

DEFAULT_CONFIG = {
    "network": dict(TIMING_NETWORK, inputs=timing_inputs(2, 2)),
    "run": {"dt_ms": 1.0, "dtype": "float32", "backend": "numba", "seed": 0, "chunk_ms": 2000.0},
    # eta0 120 (was 80): on the full robustness grid R7 misses 1 of 54 points instead of 2
    # (median error 0.030 vs 0.055) with R2, R5, R6 intact; R7 0.8 -> 0.2 holds on 10 of 10
    # seeds instead of 4 (docs/model.md)
    "learner": {"name": "three_factor", "eta0": 120.0, "tau_e_ms": 0.0, "eta_what0": 0.15},
    "paradigm": {
        "latencies_ms": [400.0, 800.0], "switched_latency_ms": 600.0,
        "cue_identity_probs": [[0.8, 0.2], [0.2, 0.8]], "p_stimulus": 0.8,
        "main_trials": [200, 60], "probability_levels": [1.0, 0.75, 0.5, 0.25],
        "probability_trials": 80, "switch_probabilities": [0.8, 0.2], "switch_trials": [200, 60],
        "single_latency_ms": 600.0, "single_switched_latency_ms": 900.0,
        "iti_ms": [500.0, 1000.0],
        # the attention gate closes while a stimulus is on and, on every trial, at the
        # latencies recently observed after the same cue (docs/model.md, issue 10): the
        # "when" readout learns to predict onsets, not to follow the stimulus-driven
        # response, and stimulus and omission trials train it symmetrically
        "event_gate": "expected", "gate_memory_trials": 20,
    },
    # FORCE baseline (MODEL.md): alpha = 10 (P(0) = I/10), RLS every 20 gated steps.
    # forgetting: lambda of the "FORCE with forgetting" condition (--compare force only).
    # 0.9995 per update = a memory of 2000 updates = 40 trials at 50 updates per trial: the
    # shortest memory that still holds about as many samples as there are features (2001 at
    # N = 1000), so the windowed least-squares problem stays determined; shorter memories
    # chase single-trial noise (and RLS "winds up" in weakly excited directions).
    # in_main: FORCE halves of R6/R7 in the main table. Off by default: they add ~430 FORCE
    # trials (1 prefix of 200, branches of 100 + ~20 + 56 + 56) = ~21,500 RLS updates on 2001
    # features. Measured back to back on the shared 2-core machine: main job 67 s without,
    # 121 s with them (user CPU 68 s vs 119 s), past the main job's 2-minute budget.
    # --compare force switches it on.
    "force": {"alpha": 10.0, "rls_every": 20, "forgetting": 0.9995, "in_main": False},
    # --compare force: seeds run.seed .. run.seed + seeds - 1; branch lengths after each
    # switch (timing_trials >= 0.5 n1 so that FORCE without reset can fail R6 visibly);
    # gain_trials: fresh P = 1 run per FORCE learner for its own gain (last half averaged;
    # the three-factor rule gets paradigm.probability_trials, R4's P = 1 block).
    "compare": {"seeds": 3, "timing_trials": 150, "probability_trials": 60, "gain_trials": 40},
    "seeds": {"full_network_seeds": 10},
}


# Allowed intervals of the experiment's own numeric settings (neurosim.config_check); the
# paradigm's interplay (sums, lengths, latencies inside the window) is checked by its records.
BOUNDS = {
    "paradigm.latencies_ms": (0, None, "lo_open"), "paradigm.switched_latency_ms":
    (0, None, "lo_open"), "paradigm.single_latency_ms": (0, None, "lo_open"),
    "paradigm.single_switched_latency_ms": (0, None, "lo_open"),
    "paradigm.p_stimulus": (0, 1, "lo_open"), "paradigm.probability_levels": (0, 1),
    "paradigm.switch_probabilities": (0, 1), "paradigm.main_trials": (1, None),
    "paradigm.probability_trials": (1, None), "paradigm.switch_trials": (1, None),
    "paradigm.iti_ms": (0, None), "paradigm.gate_memory_trials": (1, None),
    "force.alpha": (0, None, "lo_open"), "force.rls_every": (1, None),
    "force.forgetting": (0, 1, "lo_open"),
    "compare.seeds": (1, None), "compare.timing_trials": (1, None),
    "compare.probability_trials": (1, None), "compare.gain_trials": (1, None),
    "seeds.full_network_seeds": (1, None),
}


def stream_options(par: dict, dt_ms: float) -> dict:
    """The WhatWhenSpec settings every stream of the experiment shares (from ``paradigm``),
    checked under the user's key names."""
    check_choice("paradigm.event_gate", par["event_gate"], EVENT_GATES)
    return dict(dt_ms=dt_ms, iti_ms=tuple(par["iti_ms"]), event_gate=par["event_gate"],
                gate_memory_trials=par["gate_memory_trials"])


_SHARED_KEYS = {"WhatWhenSpec.iti_ms": "paradigm.iti_ms",
                "WhatWhenSpec.gate_memory_trials": "paradigm.gate_memory_trials"}


def _specs(par: dict, dt_ms: float) -> dict[str, WhatWhenSpec]:
    """The three streams of the experiment; errors name the ``paradigm`` keys they come from."""
    lat = tuple(par["latencies_ms"])
    moved = (par["switched_latency_ms"],) + lat[1:]
    probs = tuple(tuple(r) for r in par["cue_identity_probs"])
    common = stream_options(par, dt_ms)
    # R4 normalises by the amplitude at the largest probability level (BOUNDS keeps the main
    # stream's p_stimulus > 0: R2, R3, R5, R6 and R8 are measured on its stimulus trials)
    levels = par["probability_levels"]
    if not levels or max(levels) <= 0:
        raise ConfigError(f"paradigm.probability_levels = {levels!r} is invalid: needs a "
                          "level > 0 (the readout's gain is measured at the largest)")
    with user_keys(dict(_SHARED_KEYS, **{
            "Block.n_trials": "paradigm.main_trials", "Block.p_stimulus": "paradigm.p_stimulus",
            "Block.identity_probs": "paradigm.cue_identity_probs",
            "Block.latencies_ms": "paradigm.latencies_ms (or switched_latency_ms)",
            "switch_blocks": "paradigm.main_trials"})):
        main = WhatWhenSpec(n_identities=len(lat), n_cues=len(probs), blocks=switch_blocks(
            par["main_trials"], par["p_stimulus"], [lat, moved], probs), **common)
    single = ((1.0,),)
    one = (par["single_latency_ms"],)
    with user_keys(dict(_SHARED_KEYS, **{
            "Block.n_trials": "paradigm.probability_trials",
            "Block.p_stimulus": "paradigm.probability_levels",
            "Block.latencies_ms": "paradigm.single_latency_ms"})):
        prob = WhatWhenSpec(n_identities=1, n_cues=1, blocks=switch_blocks(
            [par["probability_trials"]] * len(levels), levels, one, single), **common)
    with user_keys(dict(_SHARED_KEYS, **{
            "Block.n_trials": "paradigm.switch_trials",
            "Block.p_stimulus": "paradigm.switch_probabilities",
            "Block.latencies_ms": "paradigm.single_latency_ms",
            "switch_blocks": "paradigm.switch_trials / switch_probabilities"})):
        switch = WhatWhenSpec(n_identities=1, n_cues=1, blocks=switch_blocks(
            par["switch_trials"], par["switch_probabilities"], one, single), **common)
    return {"main": main, "probability": prob, "switch": switch}


def _single_channel_network(net_cfg):
    """The same reservoir with one cue and one identity channel (first cue, first identity)."""
    cues = [c for c in net_cfg.inputs if c.name.startswith("cue")]
    ids = [c for c in net_cfg.inputs if not c.name.startswith("cue")]
    if not cues or not ids:
        raise ConfigError("network.inputs must hold cue channels (name 'cue*') and identity "
                          "channels for the what/when experiment")
    return dataclasses.replace(net_cfg, inputs=(cues[0], ids[0]))


def run_seed(config: dict, out: Path | None, report, seed: int, tag: str = "",
             job: dict | None = None) -> dict:
    """All phases and criteria for one network seed; returns the evaluation dict.

    With ``out``, every part (R0, R1, each phase) is written to its own run as soon as it
    ends; parts already complete in ``out`` are read back, not run again
    (:mod:`~neurosim.experiments.whatwhen_parts`). ``job``: attributes stored on the first run
    so that ``resume`` can start the same job again (its config and flags).
    """
    from . import whatwhen_parts as parts
    from .whatwhen_checks import regime_check, decodability_check
    net_cfg, run_cfg = network_and_run(config)
    run_cfg = dataclasses.replace(run_cfg, seed=seed)
    learner_cfg = dict(config["learner"])
    learner = make_learner(learner_cfg.pop("name"), **learner_cfg)
    specs = _specs(config["paradigm"], run_cfg.dt_ms)
    net = build_network(net_cfg, seed, run_cfg.dtype)
    net_single = build_network(_single_channel_network(net_cfg), seed, run_cfg.dtype)
    n_trials = sum(s.n_trials for s in specs.values()) + specs["probability"].n_trials
    with_force = bool(config["force"]["in_main"])
    if with_force:   # upper bound: prefixes + capped branches
        n1 = config["paradigm"]["switch_trials"][0]
        n_trials += 2 * n1 + 2 * 56 + 50 + 50 + int(np.ceil(0.5 * n1))
    bar = _progress(report, n_trials + 60)
    resolved = full_config(net_cfg, run_cfg, learner=config["learner"],
                           paradigm=config["paradigm"], force=config["force"])

    def part(name, network, **attrs):   # a new run for one part; (writer, run_writer)
        if out is None:
            return None, None
        return open_run(out, "whatwhen", resolved, run_cfg,
                        {"phase": name, "n_neurons": network.n_neurons, **attrs},
                        run_id=f"{name}{tag}", network=network)

    # R0's spontaneous run is kept, so that R0 can be checked from the file
    if parts.status(out, f"spontaneous{tag}") == "complete":
        stats = {"R0": parts.r0(out, f"spontaneous{tag}")}
    else:
        writer, run_writer = part("spontaneous", net, **(job or {}))
        try:
            stats = {"R0": regime_check(net, run_cfg, run_writer=run_writer)}
        finally:
            if writer is not None:
                writer.close()
    if parts.status(out, f"decodability{tag}") == "complete":
        stats["R1"] = parts.r1(out, f"decodability{tag}")
        bar(60)
    else:
        t0 = time.perf_counter()
        stats["R1"] = decodability_check(net_single, run_cfg, seed, progress=bar)
        writer, run_writer = part("decodability", net_single)
        if writer is not None:
            with writer:
                parts.save_r1(run_writer, stats["R1"])
                run_writer.finish(wall_time_s=time.perf_counter() - t0,
                                  duration_ms=stats["R1"]["duration_ms"])
    phases = {}
    main_last = specs["main"].blocks[0].n_trials
    keep = range(main_last - 6, main_last)
    plan = [("main", net, specs["main"], learner, False),
            ("probability", net_single, specs["probability"], learner, False),
            ("switch", net_single, specs["switch"], learner, False),
            ("ablation_no_gate", net_single, specs["probability"], learner, True)]
    for name, network, spec, lrn, no_gate in plan:
        done = parts.status(out, f"{name}{tag}")
        if done is not None:
            if done == "complete":
                phases[name] = parts.phase(out, f"{name}{tag}")
            else:
                phases[name] = None
                stats["no_gate_diverged"] = parts.diverged_step(out, f"{name}{tag}")
            bar(spec.n_trials)
            continue
        writer, run_writer = part(name, network, readout_names=readout_names(spec))
        try:
            try:
                phases[name] = run_phase(network, run_cfg, spec, lrn, seed + 1, run_writer,
                                         gate_everywhere=no_gate,
                                         keep_spikes_of=keep if name == "main" else (),
                                         progress=bar)
            except DivergenceError as err:
                if not no_gate:
                    raise
                # without the gate the rule also learns in the cue transient, where |x|^2 is
                # ~30x its mean: at these rates it can diverge, which is the ablation's result
                phases[name] = None
                stats["no_gate_diverged"] = err.step
                if run_writer is not None:
                    run_writer.set_attrs(stopped=f"diverged: {err}", diverged_step=err.step)
                continue
            if run_writer is not None:
                parts.save_phase(run_writer, phases[name])
                run_writer.finish(wall_time_s=phases[name].wall_s,
                                  duration_ms=float(np.sum(phases[name].table["n_steps"]))
                                  * run_cfg.dt_ms)
        finally:
            if writer is not None:
                writer.close()
    if with_force:
        from .whatwhen_compare import main_job_force
        stats["force"] = main_job_force(net_single, run_cfg, config, seed, progress=bar)
    bar.close()
    result = evaluate(phases, specs, stats, net, run_cfg, config)
    if out is not None:
        from ..results import ResultsWriter
        with ResultsWriter(out, mode="a") as w:
            rw = w.open_run(f"main{tag}")
            # what_pred and angle_curve: with the series and trials, the summary figure is
            # redrawn from the file alone (neurosim plot FILE --kind summary)
            rw.write_metrics(scalars=result["scalars"], summary={"criteria": result["rows"]},
                             tables={"amplitude_vs_probability": result["amplitude_table"],
                                     "r1_decodability": result["r1_table"],
                                     "what_pred": phases["main"].what_pred,
                                     "angle_curve": np.asarray(result["angle_curve"],
                                                               dtype=np.float64)})
    result["phases"] = phases
    result["R1"] = stats["R1"]
    result["specs"] = specs
    result["force"] = stats.get("force")
    return result


def _progress(report, total):
    """Trial counter: a tqdm bar on a terminal; without one (logs), a line every 10 %."""
    import sys

    class _Bar:
        def __init__(self):
            self.bar, self.done, self.next = None, 0, 0.1
            self.lines = report == "tqdm" and not sys.stderr.isatty()
            if report == "tqdm" and not self.lines:
                from tqdm.auto import tqdm
                self.bar = tqdm(total=total, unit="trial", leave=False)

        def __call__(self, n):
            self.done += n
            if self.bar is not None:
                self.bar.update(n)
            elif self.lines and self.done >= self.next * total:
                print(f"{self.done} of about {total} trials", flush=True)
                while self.next * total <= self.done:
                    self.next += 0.1

        def close(self):
            if self.bar is not None:
                self.bar.close()
    return _Bar()


def run(config: dict | None, out: Path, figure: Path | None = None, report="tqdm",
        full: bool = False, compare: str | None = None) -> dict:
    """Run the experiment, print the R0-R10 table, write ``out`` and ``figure``.

    ``compare="force"`` then runs the FORCE / three-factor switch comparison on
    ``compare.seeds`` network seeds, prints its table, stores it in ``out`` (run
    ``compare_force``) and draws ``<figure stem>_compare.png``. An interrupted job continues
    with :func:`resume`.
    """
    if compare is not None and compare != "force":
        raise ConfigError(f"--compare {compare!r}: the only comparison is 'force'")
    config = resolve(DEFAULT_CONFIG, config, bounds=BOUNDS)
    _specs(config["paradigm"], network_and_run(config)[1].dt_ms)   # bad input: nothing moved
    move_aside(out)   # the phases have fixed run ids: keep the old file, never delete it
    return _job(config, out, figure, report, full, compare)


def resume(path: Path, run_id: str | None = None, figure: Path | None = None,
           report="tqdm") -> dict:
    """Continue an interrupted main job in ``path`` with its stored config and flags.

    Parts complete in the file are read back; the part that was cut short runs again from
    its start; the rest, R0-R10 and the figures follow as in :func:`run`
    (:mod:`~neurosim.experiments.whatwhen_parts`). Returns the same summary.
    """
    import json
    from . import whatwhen_parts as parts
    if run_id is not None:
        raise ConfigError("--run does not apply to whatwhen: the main job's runs continue "
                          "together")
    stored = parts.job_attrs(path)
    if "experiment_config" not in stored:
        raise ConfigError(f"--resume {str(path)!r}: no resumable what/when main job in it (its "
                          "first run, 'spontaneous', is missing or was written by a version "
                          "that did not store the job's config)")
    config = resolve(DEFAULT_CONFIG, json.loads(stored["experiment_config"]), bounds=BOUNDS)
    compare = stored.get("job_compare") or None
    return _job(config, path, figure, report, bool(stored.get("job_full", False)), compare)


def _job(config: dict, out: Path, figure, report, full: bool, compare: str | None) -> dict:
    """The main job on a resolved ``config``: criteria for the seed, R10's seeds with
    ``full``, the table, the figures and the FORCE comparison with ``compare``."""
    from ..results.schema import to_json
    job = {"experiment_config": to_json(config), "job_full": bool(full),
           "job_compare": compare or ""}
    if compare == "force":
        config = dict(config, force=dict(config["force"], in_main=True))
    t0 = time.perf_counter()
    _, run_cfg = network_and_run(config)
    result = run_seed(config, out, report, run_cfg.seed, job=job)
    rows = result["rows"]
    if full:
        from .whatwhen_criteria import seeds_row
        seeds = [run_cfg.seed + s for s in range(1, config["seeds"]["full_network_seeds"])]
        others = other_seeds(config, seeds, out, report)
        rows.append(seeds_row([result] + others))
    else:
        rows.append({"id": "R10", "experiment": "seeds", "value": "not run (use --full)",
                     "criterion": "R2-R8 on >= 8 of 10 seeds", "passed": None})
    print(format_table(rows))
    print(f"wall time {time.perf_counter() - t0:.1f} s")
    if figure is not None:
        from .whatwhen_figure import draw, draw_r1
        draw(result, figure)
        figure = Path(figure)
        draw_r1(result["R1"], figure.with_name(figure.stem + "_r1.png"))
    summary = {"table": rows}
    if compare == "force":
        summary["compare"] = run_compare(config, out, figure, report)
    return summary


def other_seeds(config: dict, seeds: list[int], out: Path, report) -> list[dict]:
    """R10's further network seeds, run as a sweep (:mod:`neurosim.sweep`) over ``run.seed``:
    one results file per seed, kept, in ``<out stem>_seeds_points/`` with the index
    ``<out stem>_seeds.h5``; a rerun skips the seeds already finished. On a LocalCluster
    (one worker per core) when Dask is installed, else one after another in this process.
    Returns ``[{"rows": criteria rows R0-R9}]``, one per seed, in ``seeds`` order."""
    from .. import sweep
    from ..results import load
    if not seeds:
        return []
    try:
        import distributed  # noqa: F401
        workers = None
    except ImportError:
        workers = 0
        print("R10: Dask is not installed (pip install 'neurosim[sweep]'): the seeds run one "
              "after another in this process")
    index = Path(out).with_name(Path(out).stem + "_seeds.h5")
    # the seed count stays out of each point's config (and hash): more seeds reuse the others
    base = dict(config, seeds=dict(config["seeds"], full_network_seeds=1))
    spec = {"experiment": "whatwhen", "base": base, "product": {"run.seed": list(seeds)}}
    result = sweep.run(spec, out=index, workers=workers, report=None if report is None
                       else "auto")
    if result.failures:
        raise RuntimeError(f"R10: {len(result.failures)} of {len(seeds)} seeds failed (reported "
                           f"above); rerun to retry them (finished seeds are kept in "
                           f"{result.points_dir})")
    print(f"R10: {len(seeds)} further seeds in {result.points_dir}/ (index {index})")
    return [{"rows": load(f)["main"].metrics["summary"]["criteria"]} for f in result.files()]


def run_compare(config: dict, out: Path | None, figure: Path | None, report="tqdm") -> list:
    """FORCE (no reset, reset, forgetting) vs three-factor on both switches, several seeds."""
    from .whatwhen_compare import compare_rows, compare_seed, format_compare, write_compare
    t0 = time.perf_counter()
    net_cfg, run_cfg = network_and_run(config)
    n_seeds = int(config["compare"]["seeds"])
    if n_seeds < 1:
        raise ConfigError(f"compare.seeds = {n_seeds}: need at least 1")
    results = []
    for s in range(n_seeds):
        seed = run_cfg.seed + s
        rc = dataclasses.replace(run_cfg, seed=seed)
        net_single = build_network(_single_channel_network(net_cfg), seed, rc.dtype)
        c = config["compare"]
        n1 = config["paradigm"]["switch_trials"][0]
        bar = _progress(report, 3 * n1 + 4 * c["timing_trials"] + 4 * c["probability_trials"]
                        + 2 * c["gain_trials"] + config["paradigm"]["probability_trials"])
        results.append(compare_seed(net_single, rc, config, seed, progress=bar))
        bar.close()
    rows = compare_rows(results)
    print()
    print(f"FORCE vs three-factor on the switches (n1 = {results[0]['n1']}; R6: trials after "
          f"the timing switch {results[0]['latency_ms']:.0f} -> {results[0]['moved_ms']:.0f} ms "
          f"until R2 holds; R7: amplitude over trials +25..+55 after {results[0]['p1']} -> "
          f"{results[0]['p2']}, normalised by each learner's own gain at P = 1 (fresh run); "
          "(pre/p1): by its pre-switch amplitude / p1; (3f gain): by the three-factor gain; "
          "pre: pre-switch amplitude / own gain)")
    print(format_compare(rows))
    print(f"comparison wall time {time.perf_counter() - t0:.1f} s")
    if out is not None:
        resolved = full_config(net_cfg, run_cfg, learner=config["learner"],
                               paradigm=config["paradigm"], force=config["force"],
                               compare=config["compare"])
        from .whatwhen_parts import drop
        drop(out, "compare_force")     # a resumed job writes the comparison again
        write_compare(out, results, rows, resolved, run_cfg)
    if figure is not None:
        from .whatwhen_figure import draw_compare
        figure = Path(figure)
        draw_compare(results, figure.with_name(figure.stem + "_compare.png"))
    return rows
