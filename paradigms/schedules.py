"""Task schedules for continual learning on the readout (CONTINUAL.md, "Task schedules").

A *task* is a stimulus-statistics regime, identified by an int id; a *block* is a run of
trials under one task. Everything here is numpy only and reproducible from a seed (an int
>= 0, a ``numpy.random.SeedSequence`` or a ``numpy.random.Generator``, which is consumed).

* :func:`fixed_blocks` - a given list of tasks with switch points (the paper's switches).
* :func:`power_law_recurrence` - revisit old tasks with probability ~ (lag + c - 1)^-alpha
  (Gandhi et al. 2024), with exponential and uniform controls; :func:`fit_power_law_alpha`
  recovers alpha by maximum likelihood.
* :func:`power_law_rehearsal` - block b introduces task b and rehearses older tasks with
  integer shares of a budget ~ (b - i)^-alpha.
* :func:`scole_sequence` - SCoLe-style re-occurrence (Lesort et al. 2022): random subsets of
  conditions, and the mask of outputs that receive error.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import check_int, check_real, check_seq, fail, make_rng

KINDS = ("power", "exponential", "uniform")

# With c <= 1 and alpha at or above this, recency dominates so strongly that the schedule
# locks into alternating between the last two tasks (see power_law_recurrence).
COLLAPSE_ALPHA = 1.5


@dataclass(frozen=True, eq=False)
class BlockSchedule:
    """Blocks of trials, one task each.

    Attributes
    ----------
    tasks : int array, shape (n_blocks,)
        Task id of each block.
    trials_per_block : int array, shape (n_blocks,)
        Trials in each block (>= 1).
    """

    tasks: np.ndarray
    trials_per_block: np.ndarray

    @property
    def n_trials(self) -> int:
        return int(self.trials_per_block.sum())

    @property
    def block_starts(self) -> np.ndarray:
        """First trial index of each block, shape (n_blocks,)."""
        return np.concatenate([[0], np.cumsum(self.trials_per_block)[:-1]]).astype(np.int64)

    @property
    def switch_trials(self) -> np.ndarray:
        """Trial indices where the task changes (first trial of a block whose task differs
        from the previous block's), shape (n_switches,)."""
        changed = np.flatnonzero(self.tasks[1:] != self.tasks[:-1]) + 1
        return self.block_starts[changed]

    def task_of_trial(self) -> np.ndarray:
        """Task id of every trial, shape (n_trials,)."""
        return np.repeat(self.tasks, self.trials_per_block)


def switch_trials(tasks, trials_per_block) -> np.ndarray:
    """Trial indices at which the task changes (see :func:`fixed_blocks` for the arguments).

    Returns
    -------
    int array, shape (n_switches,)
    """
    return fixed_blocks(tasks, trials_per_block).switch_trials


def fixed_blocks(tasks, trials_per_block) -> BlockSchedule:
    """A fixed list of tasks, one per block.

    Parameters
    ----------
    tasks : sequence of int >= 0, shape (n_blocks,)
        Task of each block (consecutive equal ids are allowed: no switch between them).
    trials_per_block : int or sequence of int, shape (n_blocks,)
        Trials per block (>= 1), one value for all blocks or one per block.

    Returns
    -------
    BlockSchedule
    """
    t = check_seq("fixed_blocks.tasks", tasks)
    t = np.array([check_int(f"fixed_blocks.tasks[{i}]", v, lo=0) for i, v in enumerate(t)],
                 dtype=np.int64)
    if np.ndim(trials_per_block) == 0:
        n = np.full(t.size, check_int("fixed_blocks.trials_per_block", trials_per_block, lo=1))
    else:
        n = check_seq("fixed_blocks.trials_per_block", trials_per_block, t.size)
        n = np.array([check_int(f"fixed_blocks.trials_per_block[{i}]", v, lo=1)
                      for i, v in enumerate(n)])
    return BlockSchedule(tasks=t, trials_per_block=n.astype(np.int64))


def _log_weights(lags: np.ndarray, kind: str, alpha: float, c: float, tau: float) -> np.ndarray:
    if kind == "power":
        return -alpha * np.log(lags + c - 1.0)
    if kind == "exponential":
        return -lags / tau
    return np.zeros(lags.shape)


def power_law_recurrence(n_tasks: int, n_blocks: int, alpha: float, c: float = 1.0,
                         kind: str = "power", seed=None, tau: float | None = None) -> np.ndarray:
    """Task of each block, old tasks recurring with a power law of their lag.

    Introduction: tasks enter in order, task ``k`` at block ``k`` (blocks
    ``0 .. n_tasks - 1``), so all tasks are known after ``n_tasks`` blocks. Each later block
    ``b`` picks among all tasks except the one of block ``b - 1`` (no immediate repeats);
    task ``k`` last seen at block ``s_k`` has lag ``b - s_k >= 2`` and weight

    * ``kind='power'``: ``(lag + c - 1) ** -alpha`` (alpha ~ 0.5-1 for Gandhi et al.);
    * ``kind='exponential'``: ``exp(-lag / tau)`` (control; ``alpha``, ``c`` unused);
    * ``kind='uniform'``: 1 (control; ``alpha``, ``c``, ``tau`` unused).

    Collapse guard: ``kind='power'`` with ``c <= 1`` and ``alpha >= 1.5`` raises: the
    schedule locks into alternating between two tasks (A B A B ..., lag 2 each), i.e. it
    collapses onto one alternating task. The guard is deliberately narrow. Whenever the
    weights are summable over lags (alpha > 1, or any exponential) the chance of ever leaving
    such a pair is finite, so a long enough schedule collapses in the end. Measured with 10
    tasks and 5000 blocks, share of the two most frequent tasks (0.2 = balanced): power
    alpha 1.0: 0.27-0.31, 1.2: ~0.45, 1.4: 0.8-0.9, alpha 2 with c = 2 or 5: 0.86-0.99;
    exponential tau 3/8/10/20/50: 0.99/0.97/0.66/0.44/0.24. Check ``np.bincount(schedule)``.

    Parameters
    ----------
    n_tasks : int >= 2
    n_blocks : int >= 1
    alpha : float, finite, >= 0
    c : float > 0
    kind : {'power', 'exponential', 'uniform'}
    seed : int, SeedSequence or Generator (required)
    tau : float > 0, required for ``kind='exponential'`` (in blocks)

    Returns
    -------
    int array, shape (n_blocks,)
        Task id per block.
    """
    F = "power_law_recurrence"
    n_tasks = check_int(f"{F}.n_tasks", n_tasks, lo=2)
    n_blocks = check_int(f"{F}.n_blocks", n_blocks, lo=1)
    alpha = check_real(f"{F}.alpha", alpha, lo=0.0)
    c = check_real(f"{F}.c", c, lo=0.0, lo_open=True)
    if kind not in KINDS:
        fail(f"{F}.kind", kind, f"is not one of {KINDS}")
    if kind == "exponential":
        tau = check_real(f"{F}.tau", tau, lo=0.0, lo_open=True)
    if kind == "power" and c <= 1.0 and alpha >= COLLAPSE_ALPHA:
        fail(f"{F}.alpha", alpha,
             f"with c = {c:g} <= 1 is >= {COLLAPSE_ALPHA:g}: the schedule collapses into "
             "alternating between two tasks (recency dominates and old tasks never return); "
             f"use alpha < {COLLAPSE_ALPHA:g} or c > 1")
    rng = make_rng(f"{F}.seed", seed, allow_generator=True)
    out = np.empty(n_blocks, dtype=np.int64)
    intro = min(n_tasks, n_blocks)
    out[:intro] = np.arange(intro)
    last = np.arange(n_tasks, dtype=float)
    for b in range(n_tasks, n_blocks):
        lw = _log_weights(b - last, kind, alpha, c, tau)
        lw[out[b - 1]] = -np.inf
        w = np.exp(lw - lw.max())
        k = int(np.searchsorted(np.cumsum(w), rng.random() * w.sum(), side="right"))
        k = min(k, n_tasks - 1)
        while w[k] == 0.0:          # guard against landing on the excluded task at an edge
            k -= 1
        out[b] = k
        last[k] = b
    return out


def _lag_table(schedule: np.ndarray):
    """Lags of every task at every block after all tasks were seen.

    Returns (lags (n, K) float, candidate mask (n, K) bool, chosen index (n,))."""
    tasks = np.unique(schedule)
    idx = np.searchsorted(tasks, schedule)
    K, last = tasks.size, np.full(tasks.size, -1, dtype=np.int64)
    lags, masks, chosen = [], [], []
    for b, k in enumerate(idx):
        if (last >= 0).all():
            lags.append(b - last)
            m = np.ones(K, dtype=bool)
            m[idx[b - 1]] = False
            masks.append(m)
            chosen.append(k)
        last[k] = b
    return (np.array(lags, dtype=float).reshape(-1, K), np.array(masks).reshape(-1, K),
            np.array(chosen, dtype=np.int64))


def fit_power_law_alpha(schedule, c: float = 1.0, bounds: tuple = (0.0, 5.0)) -> float:
    """Maximum-likelihood alpha of the no-repeat power-law recurrence model.

    Uses every block after all of the schedule's tasks have appeared once: the chosen task's
    probability is ``(lag + c - 1)^-alpha`` normalised over all tasks except the previous
    block's. The log-likelihood is concave in alpha; it is maximised on a 101-point grid
    over ``bounds`` then refined by golden-section search (to ~1e-6).

    Parameters
    ----------
    schedule : sequence of int, shape (n_blocks,)
        Task per block; at least 3 distinct tasks and no immediate repeats.
    c : float > 0
    bounds : (float, float)
        Search interval for alpha (an estimate at a bound means the optimum may lie beyond).

    Returns
    -------
    float
    """
    F = "fit_power_law_alpha"
    s = np.asarray(check_seq(f"{F}.schedule", schedule))
    if s.ndim != 1 or not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"{F}.schedule (dtype {s.dtype}, shape {s.shape}) is not a 1-D "
                         "sequence of int task ids")
    if np.any(s[1:] == s[:-1]):
        raise ValueError(f"{F}.schedule has immediate repeats (first at block "
                         f"{np.flatnonzero(s[1:] == s[:-1])[0] + 1}); the model forbids them")
    if np.unique(s).size < 3:
        raise ValueError(f"{F}.schedule has {np.unique(s).size} distinct tasks; needs >= 3 "
                         "(with 2 the no-repeat schedule is forced)")
    c = check_real(f"{F}.c", c, lo=0.0, lo_open=True)
    bounds = check_seq(f"{F}.bounds", bounds, 2)
    lo, hi = (check_real(f"{F}.bounds[{j}]", v) for j, v in enumerate(bounds))
    if not lo < hi:
        fail(f"{F}.bounds", bounds, "must have lower < upper")
    lags, mask, chosen = _lag_table(s)
    if lags.shape[0] == 0:
        raise ValueError(f"{F}.schedule has no block after all of its tasks were seen")
    logl = np.log(lags + c - 1.0)                                    # (n, K)
    log_chosen = logl[np.arange(len(chosen)), chosen].sum()

    def nll(a: float) -> float:
        z = np.where(mask, -a * logl, -np.inf)
        zmax = z.max(axis=1, keepdims=True)
        lse = (zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1))).sum()
        return a * log_chosen + lse

    grid = np.linspace(lo, hi, 101)
    j = int(np.argmin([nll(a) for a in grid]))
    a, b = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]
    g = (np.sqrt(5.0) - 1.0) / 2.0
    x1, x2 = b - g * (b - a), a + g * (b - a)
    f1, f2 = nll(x1), nll(x2)
    while b - a > 1e-6:
        if f1 < f2:
            b, x2, f2 = x2, x1, f1
            x1 = b - g * (b - a)
            f1 = nll(x1)
        else:
            a, x1, f1 = x1, x2, f2
            x2 = a + g * (b - a)
            f2 = nll(x2)
    return float((a + b) / 2.0)


def power_law_rehearsal(n_tasks: int, alpha: float, budget: int,
                        new_trials: int = 0) -> np.ndarray:
    """Trials per task in each block of a rehearsal curriculum.

    Block ``b`` introduces task ``b`` (``new_trials`` trials, on the diagonal) and rehearses
    every older task ``i < b`` with an integer share of ``budget`` trials proportional to
    ``(b - i) ** -alpha``. Shares are apportioned by largest remainder (ties to the more
    recent task), so each row's rehearsal adds up exactly to ``budget`` (block 0 has nothing
    to rehearse) and shares never increase with age for alpha >= 0.

    Parameters
    ----------
    n_tasks : int >= 1
        Number of tasks = number of blocks.
    alpha : float >= 0
        0 spreads the budget evenly.
    budget : int >= 0
        Rehearsal trials per block.
    new_trials : int >= 0
        Trials of the new task per block (0: the caller schedules them).

    Returns
    -------
    int array, shape (n_tasks, n_tasks)
        ``trials[b, i]``: trials of task ``i`` in block ``b``; zero for ``i > b``.
    """
    F = "power_law_rehearsal"
    n_tasks = check_int(f"{F}.n_tasks", n_tasks, lo=1)
    alpha = check_real(f"{F}.alpha", alpha, lo=0.0)
    budget = check_int(f"{F}.budget", budget, lo=0)
    new_trials = check_int(f"{F}.new_trials", new_trials, lo=0)
    out = np.zeros((n_tasks, n_tasks), dtype=np.int64)
    for b in range(n_tasks):
        out[b, b] = new_trials
        if b == 0:
            continue
        age = b - np.arange(b)                       # age of tasks 0..b-1 (b .. 1)
        w = age ** -alpha
        quota = budget * w / w.sum()
        share = np.floor(quota + 1e-9).astype(np.int64)
        left = budget - int(share.sum())
        order = np.lexsort((age, -(quota - share)))  # largest remainder, then youngest
        share[order[:left]] += 1
        out[b, :b] = share
    return out


def scole_sequence(n_conditions: int, n_tasks: int, subset_size: int, seed=None):
    """SCoLe-style re-occurrence: each task is a uniform random subset of conditions.

    Over a long sequence every condition re-occurs many times in varying company; only
    outputs of the conditions present receive error.

    Parameters
    ----------
    n_conditions : int >= 1
    n_tasks : int >= 1
        Length of the sequence.
    subset_size : int in [1, n_conditions]
    seed : int, SeedSequence or Generator (required)

    Returns
    -------
    subsets : int array, shape (n_tasks, subset_size)
        Conditions of each task, sorted ascending, no duplicates.
    mask : bool array, shape (n_tasks, n_conditions)
        ``mask[t, j]``: output j receives error during task t (exactly ``subset_size`` per row).
    """
    F = "scole_sequence"
    n_conditions = check_int(f"{F}.n_conditions", n_conditions, lo=1)
    n_tasks = check_int(f"{F}.n_tasks", n_tasks, lo=1)
    subset_size = check_int(f"{F}.subset_size", subset_size, lo=1, hi=n_conditions)
    rng = make_rng(f"{F}.seed", seed, allow_generator=True)
    keys = rng.random((n_tasks, n_conditions))
    subsets = np.sort(np.argsort(keys, axis=1)[:, :subset_size], axis=1).astype(np.int64)
    mask = np.zeros((n_tasks, n_conditions), dtype=bool)
    np.put_along_axis(mask, subsets, True, axis=1)
    return subsets, mask
