"""Continual-learning metrics in the GEM convention (Lopez-Paz & Ranzato 2017; CONTINUAL.md).

``R[b, k]`` is the performance on task ``k`` measured right after block ``b`` on probe
trials with learning frozen (higher is better, e.g. R^2 or accuracy in [0, 1]). In the
GEM setting block ``b`` trains task ``b``, so ``R`` is square and its diagonal is the
performance on each task just after learning it.
"""
import numpy as np

__all__ = ["accuracy_matrix", "average_accuracy", "backward_transfer", "forward_transfer",
           "trials_to_criterion", "fraction_updated"]


def accuracy_matrix(rows, n_tasks=None):
    """Stack per-block performance vectors into ``R``, padding unseen tasks with NaN.

    Parameters
    ----------
    rows : sequence of sequences of float, or of mappings {task index: performance}
        ``rows[b]`` is what was measured right after block ``b``. A sequence gives tasks
        ``0 .. len - 1`` (e.g. only the tasks seen so far); a mapping gives any subset.
    n_tasks : int, optional
        Number of columns; default: the largest task index + 1.

    Returns
    -------
    R : ndarray, shape (n_blocks, n_tasks), float64
        NaN where nothing was measured.
    """
    items = [dict(r) if hasattr(r, "keys") else dict(enumerate(r)) for r in rows]
    largest = max((k for r in items for k in r), default=-1)
    n_tasks = largest + 1 if n_tasks is None else int(n_tasks)
    if largest >= n_tasks:
        raise ValueError(f"task index {largest} does not fit n_tasks={n_tasks}")
    R = np.full((len(items), n_tasks), np.nan)
    for b, r in enumerate(items):
        for k, value in r.items():
            R[b, int(k)] = value
    return R


def average_accuracy(R, b=-1, tasks_seen=None):
    """``ACC_b = mean_k R[b, k]`` over the tasks seen by block ``b``.

    Parameters
    ----------
    R : ndarray, shape (n_blocks, n_tasks)
    b : int
        Block (row); negative values count from the end.
    tasks_seen : sequence of int, optional
        Tasks to average; default (GEM): tasks ``0 .. b``.
    """
    R = np.asarray(R, dtype=float)
    b = range(R.shape[0])[b]
    cols = np.arange(min(b + 1, R.shape[1])) if tasks_seen is None else np.asarray(tasks_seen)
    return float(np.mean(R[b, cols]))


def backward_transfer(R):
    """``BWT = mean_{k < T-1} (R[T-1, k] - R[k, k])`` with ``T = n_tasks``.

    Negative values measure forgetting. Uses row ``T - 1`` (the block that trained the last
    task), so ``R`` needs at least ``T`` rows; NaN if ``T < 2``.
    """
    R = np.asarray(R, dtype=float)
    T = R.shape[1]
    if R.shape[0] < T:
        raise ValueError(f"R has {R.shape[0]} rows but {T} tasks; need one block per task")
    if T < 2:
        return float("nan")
    k = np.arange(T - 1)
    return float(np.mean(R[T - 1, k] - R[k, k]))


def forward_transfer(first_block_perf, fresh_perf):
    """Mean over tasks of (performance after the task's first block in the sequence) minus
    (performance after one block of that task from a fresh readout).

    Positive: earlier tasks helped; negative: they hindered. NaN entries are ignored.

    Parameters
    ----------
    first_block_perf, fresh_perf : array_like, shape (n_tasks,)
    """
    diff = np.asarray(first_block_perf, float) - np.asarray(fresh_perf, float)
    return float(np.nanmean(diff)) if np.any(np.isfinite(diff)) else float("nan")


def trials_to_criterion(curve, criterion, window=1, higher_is_better=True):
    """Trials needed until a running window of ``curve`` first meets ``criterion``.

    With ``m[t] = mean(curve[t - window + 1 : t + 1])`` defined for ``t >= window - 1``,
    the answer is ``n = t* + 1`` for the smallest ``t*`` with ``m[t*] >= criterion``
    (``<=`` when ``higher_is_better`` is False): the number of trials, counted from the
    start of ``curve`` (e.g. from a task switch), after which the last ``window`` trials
    met the criterion on average. So ``n >= window``; ``window = 1`` gives the first
    trial index (1-based) that meets the criterion.

    Parameters
    ----------
    curve : array_like, shape (n_trials,)
        Per-trial performance (or error, with ``higher_is_better=False``).
    criterion : float
    window : int
        Length of the running mean, >= 1.

    Returns
    -------
    int or None
        ``None`` if the criterion is never met (censored).
    """
    curve = np.asarray(curve, dtype=float)
    window = int(window)
    if window < 1:
        raise ValueError("window must be >= 1")
    if curve.size < window:
        return None
    sums = np.convolve(curve, np.ones(window), mode="valid") / window
    met = sums >= criterion if higher_is_better else sums <= criterion
    hits = np.flatnonzero(met)
    return int(hits[0]) + window if hits.size else None


def fraction_updated(W_before, W_after, tol=0.0):
    """Fraction of weights that changed by more than ``tol`` (absolute) between snapshots.

    Per-call fractions are also returned by the CLASSP kernels directly.
    """
    W_before = np.asarray(W_before)
    W_after = np.asarray(W_after)
    if W_before.shape != W_after.shape:
        raise ValueError(f"shapes differ: {W_before.shape} vs {W_after.shape}")
    if W_before.size == 0:
        return float("nan")
    return float(np.count_nonzero(np.abs(W_after - W_before) > tol)) / W_before.size
