"""The what/when probabilistic stimulus stream (Yamada & Chao, arXiv 2510.14382).

Design: MODEL.md, "Paradigm". Trial ``i`` is one *chunk* of ``iti_steps + window_steps``
steps: first the inter-trial interval (ITI, the **offline** phase: ``phase = 0``,
``gate = 0``), jittered uniformly over the integer steps ``round(iti_ms[0] / dt_ms) ..
round(iti_ms[1] / dt_ms)``; then, from ``cue_step = iti_steps``, the trial window (the
**online** phase: ``phase = 1``, ``gate = 1``). The trial's cue is on for ``cue_ms``; if a
stimulus occurs, identity ``k`` is on for ``stim_ms`` from ``cue_step + round(latency_k /
dt_ms)``. Durations become steps with ``round(ms / dt_ms)``. All randomness is drawn in
:class:`WhatWhenStream` ``__init__`` (the trial table); a chunk is a pure function of its
row, so ``chunk(i)`` is random access. Note that a chunk's ITI *precedes* its cue: the
offline update for trial ``i`` falls in chunk ``i + 1``'s ITI (keep chunk ``i``'s labels).

Blocked randomisation (``WhatWhenSpec.blocked_randomisation``), within each block:

* *occurrence*: runs ``[s, e)`` of ``randomisation_block`` trials (the last may be shorter)
  get ``H(p e) - H(p s)`` stimulus trials at shuffled positions, ``H(x) = floor(x + 1/2)``.
  If ``randomisation_block * p`` is an integer this is exactly ``round(randomisation_block
  * p)`` per run (``round(len * p)`` for a short last run); otherwise runs alternate between
  floor and ceiling and the block total is ``H(n_trials p)``: rounding each run would bias
  the rate (p = 0.25 in runs of 10 would give 0.2 or 0.3).
* *cue*: uniform, independent per trial (as without blocked randomisation).
* *identity*: per cue, stimulus trials are assigned run by run (in random order within a
  run), each to the identity with the largest deficit ``m p_k - count_k`` (``m`` = that
  cue's stimulus trials so far in the block; ties at random). At the end of every run each
  identity's count per cue is within 1 of ``m p_k``; identities of probability 0 never occur.

Without blocked randomisation occurrence is i.i.d. Bernoulli(p) and identity i.i.d. from
the cue's row of ``identity_probs``.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ._validate import (check_bool, check_int, check_real, check_seq, fail, make_rng)

EVENT_GATES = ("open", "stimulus", "expected")
"""Values of ``WhatWhenSpec.event_gate``."""

PROB_TOL = 1e-9
"""Tolerance on each row of ``Block.identity_probs`` summing to 1."""


def ms_to_steps(ms: float, dt_ms: float) -> int:
    """Duration in ms -> integer steps, ``round(ms / dt_ms)``."""
    return int(round(ms / dt_ms))


def _half_up(x: float) -> int:
    return int(math.floor(x + 0.5 + 1e-9))


@dataclass(frozen=True)
class Block:
    """A run of trials under one stimulus-statistics regime.

    Parameters
    ----------
    n_trials : int >= 1
    p_stimulus : float in [0, 1]
        P(stimulus follows the cue).
    identity_probs : tuple of tuple of float, shape (n_cues, n_identities)
        ``identity_probs[c][k]`` = P(identity k | stimulus, cue c); each row sums to 1
        (tolerance ``PROB_TOL``).
    latencies_ms : tuple of float, shape (n_identities,)
        Latency (ms, > 0) from cue onset to the onset of stimulus k. That latency +
        ``stim_ms`` fits the trial window is checked by :class:`WhatWhenSpec`.
    """

    n_trials: int
    p_stimulus: float
    identity_probs: tuple
    latencies_ms: tuple

    def __post_init__(self):
        n = check_int("Block.n_trials", self.n_trials, lo=1)
        p = check_real("Block.p_stimulus", self.p_stimulus, 0.0, 1.0)
        rows = check_seq("Block.identity_probs", self.identity_probs)
        probs = []
        for c, row in enumerate(rows):
            row = check_seq(f"Block.identity_probs[{c}]", row,
                            None if c == 0 else len(probs[0]))
            row = tuple(check_real(f"Block.identity_probs[{c}][{k}]", v, 0.0, 1.0)
                        for k, v in enumerate(row))
            if abs(math.fsum(row) - 1.0) > PROB_TOL:
                fail(f"Block.identity_probs[{c}]", row,
                     f"sums to {math.fsum(row)!r}, not 1 (tolerance {PROB_TOL:g})")
            probs.append(row)
        lats = check_seq("Block.latencies_ms", self.latencies_ms, len(probs[0]))
        lats = tuple(check_real(f"Block.latencies_ms[{k}]", v, 0.0, lo_open=True)
                     for k, v in enumerate(lats))
        for name, v in (("n_trials", n), ("p_stimulus", p),
                        ("identity_probs", tuple(probs)), ("latencies_ms", lats)):
            object.__setattr__(self, name, v)

    @property
    def n_cues(self) -> int:
        """Number of cue variants (rows of ``identity_probs``)."""
        return len(self.identity_probs)

    @property
    def n_identities(self) -> int:
        """Number of stimulus identities (columns of ``identity_probs``)."""
        return len(self.latencies_ms)

    @property
    def min_latency_ms(self) -> float:
        """Shortest latency over identities (ms): the end of the fixed tag window."""
        return min(self.latencies_ms)


@dataclass(frozen=True)
class WhatWhenSpec:
    """Everything that defines a what/when stream except the seed. Times in ms.

    Parameters
    ----------
    n_identities, n_cues : int >= 1
        Stimulus identities and cue variants.
    blocks : tuple of Block, each with ``identity_probs`` of shape (n_cues, n_identities)
        Required (the default ``()`` is rejected); see :func:`default_spec`.
    dt_ms : float > 0
        Time step.
    iti_ms : (float, float)
        Range of the inter-trial interval (offline phase), ``dt_ms <= min <= max``.
    cue_ms, stim_ms : float
        Durations of the cue and of a stimulus (at least one step each).
    window_ms : float
        Trial window (online phase, gate open) from cue onset; ``cue_ms <= window_ms`` and
        every ``latency + stim_ms <= window_ms`` (also in steps).
    target_sigma_ms : float > 0
        Width of the Gaussian "when" target at stimulus onset.
    blocked_randomisation : bool
        See the module docstring; False = i.i.d. sampling.
    randomisation_block : int >= 1
        Run length for blocked randomisation.
    event_gate : {"open", "stimulus", "expected"}
        What the attention gate does around stimuli within the trial window. ``"open"``: it
        stays open. ``"stimulus"``: it closes while a stimulus is on (``stim_ms`` from its
        onset). ``"expected"``: it also closes, on every trial and whether or not a stimulus
        comes, for ``stim_ms`` from each latency at which a stimulus followed the same cue
        within the previous ``gate_memory_trials`` trials (onsets already observed, so the
        gate carries no information about the current trial).
    gate_memory_trials : int >= 1
        How many past trials ``event_gate = "expected"`` remembers.
    """

    n_identities: int = 2
    n_cues: int = 1
    blocks: tuple = ()
    dt_ms: float = 1.0
    iti_ms: tuple = (500.0, 1000.0)
    cue_ms: float = 50.0
    stim_ms: float = 50.0
    window_ms: float = 1000.0
    target_sigma_ms: float = 25.0
    blocked_randomisation: bool = True
    randomisation_block: int = 10
    event_gate: str = "open"
    gate_memory_trials: int = 20

    def __post_init__(self):
        S = "WhatWhenSpec"
        set_ = lambda name, v: object.__setattr__(self, name, v)  # noqa: E731
        set_("n_identities", check_int(f"{S}.n_identities", self.n_identities, lo=1))
        set_("n_cues", check_int(f"{S}.n_cues", self.n_cues, lo=1))
        dt = check_real(f"{S}.dt_ms", self.dt_ms, 0.0, lo_open=True)
        set_("dt_ms", dt)
        for name in ("cue_ms", "stim_ms", "window_ms", "target_sigma_ms"):
            v = check_real(f"{S}.{name}", getattr(self, name), 0.0, lo_open=True)
            if name != "target_sigma_ms" and ms_to_steps(v, dt) < 1:
                fail(f"{S}.{name}", v, f"is shorter than one step (dt_ms = {dt:g})")
            set_(name, v)
        if self.cue_ms > self.window_ms:
            fail(f"{S}.cue_ms", self.cue_ms, f"exceeds window_ms = {self.window_ms:g}")
        iti = check_seq(f"{S}.iti_ms", self.iti_ms, 2)
        iti = tuple(check_real(f"{S}.iti_ms[{j}]", v, dt) for j, v in enumerate(iti))
        if iti[0] > iti[1]:
            fail(f"{S}.iti_ms", iti, f"has min {iti[0]:g} > max {iti[1]:g}")
        set_("iti_ms", iti)
        set_("blocked_randomisation",
             check_bool(f"{S}.blocked_randomisation", self.blocked_randomisation))
        set_("randomisation_block",
             check_int(f"{S}.randomisation_block", self.randomisation_block, lo=1))
        if self.event_gate not in EVENT_GATES:
            fail(f"{S}.event_gate", self.event_gate, f"is not one of {', '.join(EVENT_GATES)}")
        set_("gate_memory_trials",
             check_int(f"{S}.gate_memory_trials", self.gate_memory_trials, lo=1))
        blocks = check_seq(f"{S}.blocks", self.blocks)
        win, stim = self.window_steps, self.stim_steps
        for b, blk in enumerate(blocks):
            f = f"{S}.blocks[{b}]"
            if not isinstance(blk, Block):
                fail(f, blk, "is not a Block")
            if blk.n_cues != self.n_cues:
                fail(f"{f}.identity_probs", blk.identity_probs,
                     f"has {blk.n_cues} rows but n_cues = {self.n_cues}")
            if blk.n_identities != self.n_identities:
                fail(f"{f}.identity_probs", blk.identity_probs,
                     f"has {blk.n_identities} columns but n_identities = {self.n_identities}")
            for k, lat in enumerate(blk.latencies_ms):
                ls = ms_to_steps(lat, dt)
                if ls < 1:
                    fail(f"{f}.latencies_ms[{k}]", lat,
                         f"is shorter than one step (dt_ms = {dt:g})")
                if lat + self.stim_ms > self.window_ms or ls + stim > win:
                    fail(f"{f}.latencies_ms[{k}]", lat,
                         f"+ stim_ms {self.stim_ms:g} exceeds window_ms = {self.window_ms:g}")
        set_("blocks", blocks)

    @property
    def n_channels(self) -> int:
        """Input channels: ``n_cues`` cue channels, then ``n_identities`` identity channels."""
        return self.n_cues + self.n_identities

    @property
    def n_targets(self) -> int:
        """Target columns: the "when" target, then one "what" label per identity."""
        return 1 + self.n_identities

    @property
    def n_trials(self) -> int:
        """Total trials over all blocks."""
        return sum(b.n_trials for b in self.blocks)

    window_steps = property(lambda self: ms_to_steps(self.window_ms, self.dt_ms))
    cue_steps = property(lambda self: ms_to_steps(self.cue_ms, self.dt_ms))
    stim_steps = property(lambda self: ms_to_steps(self.stim_ms, self.dt_ms))


@dataclass(frozen=True, eq=False)
class TrialChunk:
    """One trial of the stream (arrays indexed by step within the chunk).

    Attributes
    ----------
    n_steps : int (ITI steps + window steps)
    drive : float32 array, shape (n_steps, n_channels)
        1.0 while a channel is on, else 0 (cue channels first, then identity channels).
    target : float32 array, shape (n_steps, 1 + n_identities)
        Column 0, "when": ``exp(-(t - t_onset)^2 / (2 sigma^2))`` (t in ms, peak exactly 1
        at ``stim_step``, truncated at the chunk's edges), all 0 on omission trials.
        Columns 1..: "what" labels, 1 for the identity that occurred, held over the chunk.
    gate : float32 array, shape (n_steps,)
        Attention gate: 1 on ``[cue_step, n_steps)`` (trial window), 0 in the ITI and, with
        ``event_gate`` other than ``"open"``, 0 in its event windows.
    phase : int8 array, shape (n_steps,)
        0 offline (ITI), 1 online (window).
    tag : bool array, shape (n_steps,)
        True on ``[cue_step, cue_step + round(min latency of the block / dt))``, the same
        for every trial of the block, so its length carries no identity information.
    cue_step, stim_step : int
        Cue onset and stimulus onset (-1 on omission) within the chunk.
    trial : dict, this trial's row of :meth:`WhatWhenStream.trial_table` (Python scalars)
    """

    n_steps: int
    drive: np.ndarray
    target: np.ndarray
    gate: np.ndarray
    phase: np.ndarray
    tag: np.ndarray
    cue_step: int
    stim_step: int
    trial: dict


def _blocked_draw(blk: Block, cues: np.ndarray, run: int, rng: np.random.Generator):
    """Occurrence and identity of one block's trials under blocked randomisation."""
    n, p = blk.n_trials, blk.p_stimulus
    probs = np.asarray(blk.identity_probs, dtype=float)
    occurred = np.zeros(n, dtype=bool)
    identity = np.full(n, -1, dtype=np.int64)
    counts = np.zeros(probs.shape, dtype=np.int64)   # (n_cues, n_identities), cumulative
    for s in range(0, n, run):
        e = min(s + run, n)
        pos = s + rng.permutation(e - s)[:_half_up(p * e) - _half_up(p * s)]
        occurred[pos] = True
        for i in pos:                                  # random order within the run
            c = cues[i]
            deficit = (counts[c].sum() + 1) * probs[c] - counts[c]
            best = np.flatnonzero(deficit >= deficit.max() - 1e-12)
            k = best[rng.integers(best.size)] if best.size > 1 else best[0]
            counts[c, k] += 1
            identity[i] = k
    return occurred, identity


def _iid_draw(blk: Block, cues: np.ndarray, rng: np.random.Generator):
    n = blk.n_trials
    occurred = rng.random(n) < blk.p_stimulus
    cum = np.cumsum(np.asarray(blk.identity_probs, dtype=float), axis=1)[cues]
    identity = np.minimum((rng.random(n)[:, None] >= cum).sum(axis=1), blk.n_identities - 1)
    return occurred, np.where(occurred, identity, -1).astype(np.int64)


class WhatWhenStream:
    """Deterministic stream of :class:`TrialChunk`, one per trial.

    Parameters
    ----------
    spec : WhatWhenSpec
    seed : int or numpy.random.SeedSequence
        Seeds ``numpy.random.default_rng``; the whole trial table is drawn here.

    Iterating yields ``chunk(0), chunk(1), ...``; ``len(stream)`` is the number of trials.
    """

    def __init__(self, spec: WhatWhenSpec, seed):
        if not isinstance(spec, WhatWhenSpec):
            fail("WhatWhenStream.spec", spec, "is not a WhatWhenSpec")
        rng = make_rng("WhatWhenStream.seed", seed)
        self.spec, self.seed = spec, seed
        n, dt = spec.n_trials, spec.dt_ms
        sizes = [b.n_trials for b in spec.blocks]
        block = np.repeat(np.arange(len(sizes)), sizes)
        cue = rng.integers(0, spec.n_cues, size=n)
        iti_steps = rng.integers(ms_to_steps(spec.iti_ms[0], dt),
                                 ms_to_steps(spec.iti_ms[1], dt) + 1, size=n)
        occurred, identity = np.zeros(n, dtype=bool), np.full(n, -1, dtype=np.int64)
        latency, lat_steps, p = np.full(n, np.nan), np.zeros(n, dtype=np.int64), np.zeros(n)
        start = 0
        for blk in spec.blocks:
            sl = slice(start, start + blk.n_trials)
            if spec.blocked_randomisation:
                occ, ident = _blocked_draw(blk, cue[sl], spec.randomisation_block, rng)
            else:
                occ, ident = _iid_draw(blk, cue[sl], rng)
            occurred[sl], identity[sl], p[sl] = occ, ident, blk.p_stimulus
            j = np.maximum(ident, 0)
            latency[sl] = np.where(occ, np.asarray(blk.latencies_ms)[j], np.nan)
            lat_steps[sl] = np.array([ms_to_steps(x, dt) for x in blk.latencies_ms])[j]
            start += blk.n_trials
        n_steps = iti_steps + spec.window_steps
        i64 = lambda a: np.asarray(a, dtype=np.int64)  # noqa: E731
        self._table = {
            "trial": i64(np.arange(n)), "block": i64(block), "cue": i64(cue),
            "identity": identity, "occurred": occurred, "latency_ms": latency,
            "iti_ms": iti_steps * dt, "cue_step": i64(iti_steps),
            "stim_step": i64(np.where(occurred, iti_steps + lat_steps, -1)),
            "start_step": i64(np.concatenate([[0], np.cumsum(n_steps)[:-1]])),
            "n_steps": i64(n_steps), "p_stimulus": p,
        }

    def __len__(self) -> int:
        return self.spec.n_trials

    @property
    def total_steps(self) -> int:
        """Steps over the whole stream (sum of ``n_steps``)."""
        return int(self._table["n_steps"].sum())

    def trial_table(self) -> dict:
        """All trials, one entry per trial in each column (copies).

        Returns
        -------
        dict of str -> ndarray, each of shape (n_trials,)
            ``trial, block, cue, identity`` (-1 on omission), ``occurred`` (bool),
            ``latency_ms`` (NaN on omission), ``iti_ms`` (realised, a multiple of dt),
            ``cue_step, stim_step`` (within the chunk; stim -1 on omission),
            ``start_step`` (global index of the chunk's first step), ``n_steps``,
            ``p_stimulus`` (the block's).
        """
        return {k: v.copy() for k, v in self._table.items()}

    def chunk(self, i: int) -> TrialChunk:
        """Build trial ``i``'s chunk (negative indices count from the end)."""
        n, i = len(self), operator.index(i)
        if not -n <= i < n:
            raise IndexError(f"trial index {i} out of range for {n} trials")
        i %= n
        spec, t = self.spec, self._table
        row = {k: v[i].item() for k, v in t.items()}
        ns, cs, ss = row["n_steps"], row["cue_step"], row["stim_step"]
        drive = np.zeros((ns, spec.n_channels), dtype=np.float32)
        drive[cs:cs + spec.cue_steps, row["cue"]] = 1.0
        target = np.zeros((ns, spec.n_targets), dtype=np.float32)
        if row["occurred"]:
            k = row["identity"]
            drive[ss:ss + spec.stim_steps, spec.n_cues + k] = 1.0
            t_ms = (np.arange(ns) - ss) * spec.dt_ms
            target[:, 0] = np.exp(-t_ms ** 2 / (2.0 * spec.target_sigma_ms ** 2))
            target[:, 1 + k] = 1.0
        phase = (np.arange(ns) >= cs).astype(np.int8)
        tag = np.zeros(ns, dtype=bool)
        tag_len = ms_to_steps(spec.blocks[row["block"]].min_latency_ms, spec.dt_ms)
        tag[cs:cs + tag_len] = True
        gate = phase.astype(np.float32)
        for onset in self._gate_off_steps(i):
            gate[cs + onset:cs + onset + spec.stim_steps] = 0.0
        return TrialChunk(n_steps=ns, drive=drive, target=target, gate=gate,
                          phase=phase, tag=tag, cue_step=cs, stim_step=ss, trial=row)

    def _gate_off_steps(self, i: int) -> list[int]:
        """Onsets (steps after the cue) where ``event_gate`` closes trial ``i``'s gate."""
        spec, t = self.spec, self._table
        lat_steps = t["stim_step"] - t["cue_step"]
        own = [int(lat_steps[i])] if t["occurred"][i] else []
        if spec.event_gate == "open":
            return []
        if spec.event_gate == "stimulus":
            return own
        lo = max(0, i - spec.gate_memory_trials)
        seen = (t["cue"][lo:i] == t["cue"][i]) & t["occurred"][lo:i]
        return sorted(set(own) | {int(v) for v in lat_steps[lo:i][seen]})

    def __iter__(self) -> Iterator[TrialChunk]:
        for i in range(len(self)):
            yield self.chunk(i)


def switch_blocks(n_trials, p_stimulus, latencies_ms, identity_probs) -> tuple:
    """Build a tuple of :class:`Block`; each argument is one value for all blocks or a list
    with one per block (all such lists of the same length).

    Parameters
    ----------
    n_trials : int, or sequence of int (n_blocks,)
    p_stimulus : float, or sequence of float (n_blocks,)
    latencies_ms : sequence of float (n_identities,), or (n_blocks, n_identities)
    identity_probs : nested sequence (n_cues, n_identities), or (n_blocks, n_cues, n_identities)

    Examples
    --------
    >>> switch_blocks([200, 150], [0.8, 0.2], (400.0, 800.0), ((0.8, 0.2), (0.2, 0.8)))
    """
    args = {"n_trials": (n_trials, 0), "p_stimulus": (p_stimulus, 0),
            "latencies_ms": (latencies_ms, 1), "identity_probs": (identity_probs, 2)}
    per_block = {k: v for k, (v, depth) in args.items() if _ndim(v) > depth}
    if len({len(v) for v in per_block.values()}) > 1:
        fail("switch_blocks", {k: len(v) for k, v in per_block.items()},
             "gives different numbers of blocks")
    nb = len(next(iter(per_block.values()))) if per_block else 1
    col = {k: per_block[k] if k in per_block else [v] * nb for k, (v, _) in args.items()}
    return tuple(Block(col["n_trials"][b], col["p_stimulus"][b],
                       tuple(tuple(r) for r in col["identity_probs"][b]),
                       tuple(col["latencies_ms"][b])) for b in range(nb))


def _ndim(value) -> int:
    try:
        return np.ndim(value)
    except ValueError:      # ragged nesting: Block reports the bad entry
        return 1 + _ndim(value[0]) if len(value) else 1


CUE_VARIANTS = ((0.8, 0.2), (0.2, 0.8))
"""Default P(identity | stimulus, cue): cue 0 predicts A (0.8), cue 1 predicts B (0.8)."""


def default_spec(**overrides) -> WhatWhenSpec:
    """The reference experiment: 2 identities (A, B), 2 cue variants, 500 trials.

    Blocks (A, B latencies in ms; ``CUE_VARIANTS`` throughout):

    ====  ======  ===========  ==========  =====================================
    blk   trials  P(stimulus)  latencies   purpose
    ====  ======  ===========  ==========  =====================================
    0     200     0.8          400, 800    learn (n1 = 200 before the first switch)
    1     150     0.8          600, 800    timing switch: A 400 -> 600 ms
    2     150     0.2          600, 800    probability switch 0.8 -> 0.2
    ====  ======  ===========  ==========  =====================================

    A trial lasts 1.75 s on average (ITI 500-1000 ms + window 1000 ms): ~875 s simulated,
    ~7 s of compute at N = 1000 (~120x real time). ``overrides`` go to :class:`WhatWhenSpec`
    (e.g. ``dt_ms=0.5``, ``blocked_randomisation=False``).
    """
    blocks = switch_blocks(n_trials=[200, 150, 150], p_stimulus=[0.8, 0.8, 0.2],
                           latencies_ms=[(400.0, 800.0), (600.0, 800.0), (600.0, 800.0)],
                           identity_probs=CUE_VARIANTS)
    kw = dict(n_identities=2, n_cues=2, blocks=blocks)
    kw.update(overrides)
    return WhatWhenSpec(**kw)
