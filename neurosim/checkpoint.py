"""Checkpoint and resume of simulation runs through the HDF5 results layer (FORMAT.md).

A checkpoint is taken at a chunk boundary, right after the recorder has flushed, so the
run's datasets and the saved state describe the same step. It holds the simulator's full
state (:meth:`Simulator.checkpoint`: neuron, synapse, feature and readout/learner arrays,
the noise generator's state, step and chunk counters), the recorder's spike counts, any
arrays the experiment registers (per-trial results filled in place), and meta data:
``step``, ``chunk_index``, ``stream_position`` (chunks of the input stream consumed),
``n_trials`` (trials completed, for :meth:`RunWriter.truncate_to`) and ``wall_time_s``.

Resuming (:func:`reopen`) picks the interrupted run, loads its checkpoint and truncates
everything recorded after it; the caller rebuilds the network and simulator from the run's
stored config, calls :meth:`Resumed.restore`, skips ``stream_position`` chunks of the same
stream (:func:`skip_chunks`) and continues. Same config, seed and backend give a result
bitwise equal to an uninterrupted run.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

from . import interrupts
from .config import ConfigError
from .results import ResultsError
from .results import schema as S

EXTRA = "extra."  # key prefix of experiment-registered arrays in the checkpoint group


class Checkpointer:
    """Saves the state of one run every ``every_chunks`` chunks of its stream.

    Use as the simulator's ``on_chunk`` callback (``sim.run(..., on_chunk=ckpt)``) or call
    :meth:`maybe_save` / :meth:`save` from a trial loop.

    Parameters
    ----------
    run_writer : RunWriter
        The run's writer; ``save_checkpoint`` replaces its previous checkpoint.
    recorder : Recorder or None
        Flushed before every checkpoint; its spike counts are saved.
    every_chunks : int
        Save when the stream position is a multiple of this (0: never).
    arrays : dict of str -> ndarray, optional
        Experiment arrays saved with the state and restored *in place* by
        :meth:`Resumed.restore` (e.g. per-trial outputs of shape (n_trials, ...)).
    wall_time_s : float
        Wall-clock time (s) spent before this session (from a resumed checkpoint).
    chunk_offset : int
        ``sim.chunk_index`` at the start of this run's stream (when one simulator runs
        several streams); stream position = ``sim.chunk_index - chunk_offset``.
    """

    def __init__(self, run_writer, recorder, every_chunks: int, arrays: dict | None = None,
                 wall_time_s: float = 0.0, chunk_offset: int = 0):
        self.run_writer, self.recorder = run_writer, recorder
        self.every_chunks = int(every_chunks)
        self.arrays = dict(arrays or {})
        self.wall_before, self.t_start = float(wall_time_s), time.perf_counter()
        self.chunk_offset = int(chunk_offset)
        self.n_saved = 0
        self.saved_step = None

    @property
    def wall_time_s(self) -> float:
        """Wall-clock time of the run so far, earlier sessions included (s)."""
        return self.wall_before + time.perf_counter() - self.t_start

    def on_stop(self, sim) -> None:
        """The run stops here (SIGINT/SIGTERM): save unless this step is saved already."""
        if self.every_chunks > 0 and self.saved_step != sim.step:
            self.save(sim)

    def __call__(self, sim, chunk=None, result=None) -> None:
        """``on_chunk`` callback: save when the stream position is a multiple of K."""
        self.maybe_save(sim)

    def maybe_save(self, sim, n_trials: int = 0, meta: dict | None = None,
                   arrays: dict | None = None) -> bool:
        """Save if the stream position is a multiple of ``every_chunks``, or at once when a
        stop was requested (SIGINT/SIGTERM, :mod:`neurosim.interrupts`); True if saved."""
        position = sim.chunk_index - self.chunk_offset
        stop = interrupts.requested() is not None
        if self.every_chunks <= 0 or position == 0 or (position % self.every_chunks
                                                        and not stop):
            return False
        self.save(sim, n_trials, meta, arrays)
        return True

    def save(self, sim, n_trials: int = 0, meta: dict | None = None,
             arrays: dict | None = None) -> None:
        """Flush the recorder, then write the full state as the run's checkpoint.

        ``meta`` (JSON-serialisable) is stored under ``meta["extra"]``; ``arrays`` are saved
        once, next to the registered ones (read back from ``Resumed.extra_arrays``).
        """
        sim_arrays, full_meta = sim.checkpoint()
        if self.recorder is not None:
            self.recorder.flush()
            rec_arrays, rec_meta = self.recorder.checkpoint()
            sim_arrays.update(rec_arrays)
            full_meta.update(rec_meta)
        extras = {**self.arrays, **(arrays or {})}
        sim_arrays.update({EXTRA + k: np.asarray(v) for k, v in extras.items()})
        full_meta.update(stream_position=sim.chunk_index - self.chunk_offset,
                         n_trials=int(n_trials), wall_time_s=self.wall_time_s,
                         extra=meta or {})
        self.run_writer.save_checkpoint(sim_arrays, full_meta)
        self.n_saved += 1
        self.saved_step = sim.step


@dataclass
class Resumed:
    """An interrupted run reopened for writing, truncated to its last checkpoint.

    Attributes
    ----------
    run_writer : RunWriter
    config : dict
        The run's stored, fully resolved config (``config_json``).
    arrays, meta : dict
        The checkpoint (empty when the run had none: it restarts from step 0).
    """
    run_writer: object
    config: dict
    arrays: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    @property
    def has_checkpoint(self) -> bool:
        return bool(self.meta)

    @property
    def step(self) -> int:
        """First step to simulate (the checkpoint's step, 0 without one)."""
        return int(self.meta.get("step", 0))

    @property
    def stream_position(self) -> int:
        """Chunks of the input stream already consumed (to skip)."""
        return int(self.meta.get("stream_position", 0))

    @property
    def n_trials(self) -> int:
        return int(self.meta.get("n_trials", 0))

    @property
    def wall_time_s(self) -> float:
        return float(self.meta.get("wall_time_s", 0.0))

    @property
    def extra_meta(self) -> dict:
        return dict(self.meta.get("extra", {}))

    @property
    def extra_arrays(self) -> dict:
        """Experiment arrays of the checkpoint (registered and one-off), by name."""
        return {k[len(EXTRA):]: v for k, v in self.arrays.items() if k.startswith(EXTRA)}

    def restore(self, sim, recorder=None, arrays: dict | None = None) -> None:
        """Put the checkpoint into a freshly built ``sim``, ``recorder`` and ``arrays``.

        ``arrays`` are the experiment arrays registered with the :class:`Checkpointer`
        under the same names; they are overwritten in place. No-op without a checkpoint.
        """
        if not self.has_checkpoint:
            return
        sim.restore(self.arrays, self.meta)
        if recorder is not None:
            recorder.restore(self.arrays, self.meta)
        for name, target in (arrays or {}).items():
            saved = self.arrays.get(EXTRA + name)
            if saved is None or saved.shape != target.shape:
                raise ResultsError(f"checkpoint array {name!r} is missing or has another shape "
                                   f"than {target.shape}")
            np.copyto(target, saved)

    def checkpointer(self, recorder, every_chunks: int, arrays: dict | None = None,
                     chunk_offset: int = 0) -> Checkpointer:
        """A :class:`Checkpointer` that continues this run's wall-clock count."""
        return Checkpointer(self.run_writer, recorder, every_chunks, arrays,
                            wall_time_s=self.wall_time_s, chunk_offset=chunk_offset)


def _pick_run(runs: dict, path, kind: str | None, run_id: str | None) -> str:
    """``run_id`` if given and resumable, else the latest incomplete run (of ``kind``)."""
    if run_id is not None:
        if run_id not in runs:
            raise ResultsError(f"no run {run_id!r} in {path}; runs: {', '.join(runs) or 'none'}")
        g = runs[run_id]
        if bool(g.attrs.get("complete", False)):
            raise ResultsError(f"run {run_id!r} in {path} is complete: nothing to resume")
        if kind is not None and g.attrs.get("kind") != kind:
            raise ResultsError(f"run {run_id!r} is a {g.attrs.get('kind')!r} run, not {kind!r}")
        return run_id
    candidates = [rid for rid, g in runs.items() if not bool(g.attrs.get("complete", False))
                  and (kind is None or g.attrs.get("kind") == kind)]
    if not candidates:
        raise ResultsError(f"{path} holds no incomplete {kind or ''} run to resume; "
                           f"runs: {', '.join(runs) or 'none'}")
    return candidates[-1]  # runs are kept in creation order


def _refuse_without_checkpoint(group, run_id: str, path) -> None:
    """A run with checkpoints off that recorded data cannot resume without discarding them.

    (With checkpoints on, a run stopped before its first checkpoint restarts from step 0, as
    its checkpoint interval implies; the result is the same as an uninterrupted run.)
    """
    tmp = group.get(S.CHECKPOINT_TMP)
    has = S.CHECKPOINT in group or (tmp is not None and bool(tmp.attrs.get("written", False)))
    recorded = float(group.attrs.get("duration_ms", 0.0))
    every = json.loads(group.attrs["config_json"]).get("run", {}).get(
        "checkpoint_every_chunks", 0)
    if not has and recorded > 0 and every == 0:
        raise ConfigError(
            f"run {run_id!r} in {path} has no checkpoint (it recorded {recorded:g} ms with "
            f"run.checkpoint_every_chunks = {every}): it cannot be resumed, and resuming would "
            "discard what it recorded; the file is unchanged. Run it again with checkpoints "
            "on (run.checkpoint_every_chunks > 0)")


def check_resumable(path, kind: str | None = None, run_id: str | None = None) -> str:
    """Read-only check, before a file is opened for writing: the id of the run to resume,
    or a ResultsError / ConfigError that leaves the file byte for byte as it was."""
    import h5py
    with h5py.File(path, "r", locking=False) as f:
        runs = dict(f[S.RUNS]) if S.RUNS in f else {}
        rid = _pick_run(runs, path, kind, run_id)
        _refuse_without_checkpoint(runs[rid], rid, path)
    return rid


def find_resumable(writer, kind: str | None = None, run_id: str | None = None) -> str:
    """The id of the run to resume: ``run_id`` if given, else the latest incomplete run
    (of ``kind`` if given). Raises ResultsError with the available runs otherwise."""
    runs = {rid: writer.open_run(rid).group for rid in writer.run_ids}
    return _pick_run(runs, writer.path, kind, run_id)


def reopen(writer, kind: str | None = None, run_id: str | None = None) -> Resumed:
    """Open the run to resume in ``writer`` (a ``ResultsWriter`` in mode "a"), load its
    checkpoint and truncate its datasets to the checkpoint's step and trial count.

    A run without a checkpoint starts again only if it recorded nothing; otherwise this is a
    ConfigError (call :func:`check_resumable` first to refuse before opening for writing).
    """
    run_writer = writer.open_run(find_resumable(writer, kind, run_id))
    config = json.loads(run_writer.group.attrs["config_json"])
    _refuse_without_checkpoint(run_writer.group, run_writer.run_id, writer.path)
    try:
        arrays, meta = run_writer.load_checkpoint()
    except ResultsError:  # nothing recorded before the interruption: start again
        arrays, meta = {}, {}
    run_writer.truncate_to(int(meta.get("step", 0)), int(meta.get("n_trials", 0)))
    return Resumed(run_writer, config, arrays, meta)


def resume_or_start(run_writer, sim, recorder, every_chunks: int,
                    arrays: dict | None = None) -> tuple[Checkpointer, Resumed]:
    """Checkpointing for a hand-written chunk (trial) loop, resuming if the run allows.

    If ``run_writer``'s run holds a checkpoint (a run reopened after an interruption), the
    run is truncated to it and ``sim``, ``recorder`` and ``arrays`` are restored in place;
    otherwise nothing changes. Skip the first ``resumed.stream_position`` chunks of the
    stream, and call ``ckpt.maybe_save(sim, n_trials)`` where the loop has flushed its trial
    rows (``sim`` must be the loop's only simulator, started at chunk 0).

    Returns
    -------
    ckpt : Checkpointer
    resumed : Resumed
        ``resumed.stream_position`` chunks are done (0 for a fresh run).
    """
    try:
        ck_arrays, meta = run_writer.load_checkpoint()
    except ResultsError:
        ck_arrays, meta = {}, {}
    resumed = Resumed(run_writer, json.loads(run_writer.group.attrs["config_json"]),
                      ck_arrays, meta)
    if resumed.has_checkpoint:
        run_writer.truncate_to(resumed.step, resumed.n_trials)
        resumed.restore(sim, recorder, arrays)
    return resumed.checkpointer(recorder, every_chunks, arrays), resumed


class _Skipped:
    """``stream`` without its first ``n`` chunks (same chunk boundaries afterwards)."""

    def __init__(self, stream, n: int):
        self.stream, self.n = stream, int(n)
        if hasattr(stream, "total_steps") and hasattr(stream, "chunk_steps"):
            self.total_steps = max(0, stream.total_steps - self.n * stream.chunk_steps)

    def __len__(self):
        return max(0, len(self.stream) - self.n)

    def __iter__(self):
        for i, chunk in enumerate(self.stream):
            if i >= self.n:
                yield chunk


def skip_chunks(stream, n: int):
    """Iterate ``stream`` from its chunk ``n`` on (earlier chunks are generated and dropped,
    so streams that draw from their own generator while iterating stay in step)."""
    if n < 0:
        raise ConfigError(f"cannot skip {n} chunks")
    return _Skipped(stream, n) if n else stream
