"""Continual-learning metrics in the GEM convention (Lopez-Paz & Ranzato 2017; CONTINUAL.md).

``R[b, k]`` is the performance on task ``k`` measured right after block ``b`` on probe
trials with learning frozen (higher is better, e.g. R^2 or accuracy in [0, 1]). In the
GEM setting block ``b`` trains task ``b``, so ``R`` is square and its diagonal is the
performance on each task just after learning it.
"""
import numpy as np

__all__ = ["accuracy_matrix", "average_accuracy", "backward_transfer", "forward_transfer",
           "first_occurrence", "backward_transfer_first_pass", "forward_transfer_gem",
           "t_interval", "trials_to_criterion", "fraction_updated"]


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


def first_occurrence(block_mask):
    """First block that trains each task (-1: never).

    Parameters
    ----------
    block_mask : bool array_like, shape (n_blocks, n_tasks)
        ``block_mask[b, k]``: block ``b`` trains task ``k`` (one True per row for single-task
        blocks; several for SCoLe-style blocks).

    Returns
    -------
    int array, shape (n_tasks,)
    """
    m = np.asarray(block_mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"block_mask must be 2-D (n_blocks, n_tasks), got shape {m.shape}")
    seen = m.any(axis=0)
    return np.where(seen, np.argmax(m, axis=0), -1).astype(np.int64)


def backward_transfer_first_pass(R, first):
    """GEM backward transfer for any order of first occurrences.

    With ``f_k`` = ``first[k]`` and ``B = max_k f_k`` (the block after which every task seen
    at all has been trained once): ``BWT = mean over tasks with 0 <= f_k < B of
    R[B, k] - R[f_k, k]``. In the GEM order (task ``k`` first trained in block ``k``) this is
    :func:`backward_transfer` of ``R[:n_tasks]``. NaN if fewer than two tasks were seen.
    """
    R = np.asarray(R, dtype=float)
    first = np.asarray(first, dtype=np.int64)
    seen = np.flatnonzero(first >= 0)
    if seen.size < 2:
        return float("nan")
    B = int(first[seen].max())
    ks = seen[first[seen] < B]
    return float(np.mean(R[B, ks] - R[first[ks], ks]))


def forward_transfer_gem(R, baseline, first=None):
    """GEM forward transfer (Lopez-Paz & Ranzato 2017): the performance on each task just
    before it is first trained, minus its performance before any training.

    ``FWT = mean over tasks with f_k >= 1 of R[f_k - 1, k] - baseline[k]``, ``f_k`` the
    first block that trains task ``k`` (default ``f_k = k``, the GEM order, which gives
    GEM's ``1/(T-1) sum_{i=2..T} R[i-1, i] - b_i``). Tasks first trained in block 0 (nothing
    before them) and tasks never trained are left out; NaN if none remains.

    Parameters
    ----------
    R : array_like, shape (n_blocks, n_tasks)
    baseline : array_like, shape (n_tasks,)
        Score of each task with the untrained readout.
    first : int array_like, shape (n_tasks,), optional
        See :func:`first_occurrence`.
    """
    R = np.asarray(R, dtype=float)
    b = np.asarray(baseline, dtype=float)
    T = R.shape[1]
    if b.shape != (T,):
        raise ValueError(f"baseline has shape {b.shape}; R has {T} tasks")
    first = np.arange(T) if first is None else np.asarray(first, dtype=np.int64)
    ks = np.flatnonzero(first >= 1)
    if ks.size == 0:
        return float("nan")
    if np.any(first[ks] > R.shape[0]):
        raise ValueError("a first occurrence lies beyond R's rows")
    return float(np.mean(R[first[ks] - 1, ks] - b[ks]))


def t_interval(values, level=0.95):
    """Mean and two-sided Student-t confidence interval over seeds (NaNs dropped).

    ``mean -+ t_{(1+level)/2, n-1} * sd / sqrt(n)``, ``sd`` with ``ddof = 1``.

    Returns
    -------
    (mean, lo, hi) : floats; lo = hi = NaN when fewer than two finite values (mean NaN
    when none); lo = hi = mean when all values are equal.
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(np.mean(v))
    if v.size < 2:
        return m, float("nan"), float("nan")
    from scipy.stats import t as student_t
    half = float(student_t.ppf(0.5 + level / 2.0, v.size - 1) * np.std(v, ddof=1)
                 / np.sqrt(v.size))
    return m, m - half, m + half


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
