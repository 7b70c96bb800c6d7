"""The what/when main job's parts in its results file: each kept as soon as it ends.

The job is a sequence of parts, one run each: ``spontaneous`` (R0), ``decodability`` (R1),
then the phases ``main``, ``probability``, ``switch`` and ``ablation_no_gate``. When a part
ends, everything the criteria need from it is written to its run (R0 and R1 as metrics, a
phase's :class:`~neurosim.experiments.whatwhen_phases.PhaseResult` as the run's
checkpoint) and the run is marked complete. A job started again on the same file
(``neurosim run whatwhen --resume FILE``) loads every complete part instead of running it,
runs a part that was cut short again from its start, and evaluates R0-R10 afresh. Each part
is deterministic given the seed (counter-based noise, seeded streams), so a resumed job gives
the same criteria and the same datasets as one that was never interrupted.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..results import ResultsWriter, load
from .whatwhen_phases import PhaseResult

PHASE_RESULT = "whatwhen_phase_result"     # checkpoint meta "kind" of a finished phase


def status(out: Path | None, run_id: str) -> str | None:
    """``"complete"``, ``"diverged"`` (the R9 ablation stopped on a divergence, which is its
    result), or None (absent, or cut short: such a run is deleted, to be run again)."""
    if out is None or not Path(out).exists():
        return None
    with ResultsWriter(out, mode="a") as w:
        if run_id not in w.run_ids:
            return None
        attrs = w.open_run(run_id).group.attrs
        if bool(attrs.get("complete", False)):
            return "complete"
        if "diverged_step" in attrs:
            return "diverged"
        w.delete_run(run_id)
    return None


def drop(out: Path, run_id: str) -> None:
    """Delete ``run_id`` from ``out`` if it is there (a run written again whole)."""
    if Path(out).exists():
        with ResultsWriter(out, mode="a") as w:
            if run_id in w.run_ids:
                w.delete_run(run_id)


def job_attrs(out: Path) -> dict:
    """The attributes the job stored on its first run (config, ``full``, ``compare``)."""
    run = load(out).runs.get("spontaneous")
    if run is None:
        return {}
    return {k: run.attrs[k] for k in ("experiment_config", "job_full", "job_compare")
            if k in run.attrs}


def r0(out: Path, run_id: str) -> dict:
    """R0's result as :func:`~neurosim.experiments.whatwhen_checks.regime_check` returned it."""
    return dict(load(out)[run_id].metrics)


def save_r1(run_writer, r1: dict) -> None:
    """R1's result (bumps, trial-averaged outputs, times) as metrics of its run."""
    run_writer.write_metrics(tables={"r1_mean": np.asarray(r1["mean"]),
                                     "r1_t_ms": np.asarray(r1["t_ms"])},
                             summary={"bumps": r1["bumps"]})


def r1(out: Path, run_id: str) -> dict:
    """R1's result read back (:func:`save_r1`)."""
    m = load(out)[run_id].metrics
    return {"bumps": m["summary"]["bumps"], "mean": m["r1_mean"], "t_ms": m["r1_t_ms"]}


def save_phase(run_writer, result: PhaseResult) -> None:
    """A finished phase's result as its run's checkpoint (arrays bitwise, float32 kept)."""
    arrays = {"z0": result.z0, "xbar": result.xbar, "what_pred": result.what_pred,
              "W": result.W,
              "snapshot_trials": np.array([n for n, _ in result.snapshots], np.int64),
              "snapshots": np.stack([w for _, w in result.snapshots])}
    arrays.update({f"table.{k}": np.asarray(v) for k, v in result.table.items()})
    if result.spikes is not None:
        arrays["spike_steps"], arrays["spike_ids"] = result.spikes
    run_writer.save_checkpoint(arrays, {"kind": PHASE_RESULT,
                                        "n_kept_steps": int(result.n_kept_steps),
                                        "wall_s": float(result.wall_s),
                                        "table_keys": list(result.table)})


def phase(out: Path, run_id: str) -> PhaseResult:
    """A phase's result read back (:func:`save_phase`)."""
    with ResultsWriter(out, mode="a") as w:
        arrays, meta = w.open_run(run_id).load_checkpoint()
    if meta.get("kind") != PHASE_RESULT:
        raise ValueError(f"run {run_id!r} in {out} holds no what/when phase result")
    spikes = ((arrays["spike_steps"], arrays["spike_ids"]) if "spike_steps" in arrays
              else None)
    snaps = list(zip(arrays["snapshot_trials"].tolist(), arrays["snapshots"]))
    return PhaseResult({k: arrays[f"table.{k}"] for k in meta["table_keys"]}, arrays["z0"],
                       arrays["xbar"], arrays["what_pred"], arrays["W"], snaps, spikes,
                       meta["n_kept_steps"], meta["wall_s"])


def diverged_step(out: Path, run_id: str) -> int:
    """The step at which the R9 ablation's readout diverged, as stored on its run."""
    return int(load(out)[run_id].attrs["diverged_step"])
