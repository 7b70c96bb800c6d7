"""Independent jobs (grid points, method x seed runs) over a process pool, stoppable.

SIGINT and SIGTERM (:mod:`neurosim.interrupts`) are the parent's to handle: workers ignore
them. On a stop request the parent cancels the jobs not yet started, lets the running ones
finish and hands their results to ``on_done`` (so a resumable experiment keeps them), then
raises :class:`~neurosim.interrupts.Interrupted`.
"""
from __future__ import annotations

import signal
from concurrent.futures import ProcessPoolExecutor, as_completed

from .. import interrupts


def _ignore_signals():
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)


def run_jobs(fn, jobs: list, workers: int, on_done=None) -> list:
    """``[fn(job) for job in jobs]``, in ``workers`` processes when more than one.

    ``on_done(index, result)`` is called as each job finishes (completion order in a pool).
    Returns the results in job order.
    """
    results = [None] * len(jobs)

    def done(k, result):
        results[k] = result
        if on_done is not None:
            on_done(k, result)

    if workers <= 1 or len(jobs) <= 1:
        for k, job in enumerate(jobs):
            interrupts.check()
            done(k, fn(job))
        return results
    with ProcessPoolExecutor(max_workers=workers, initializer=_ignore_signals) as pool:
        futures = {pool.submit(fn, job): k for k, job in enumerate(jobs)}
        finished = set()
        for fut in as_completed(futures):
            done(futures[fut], fut.result())
            finished.add(fut)
            if interrupts.requested() is not None:
                break
        if interrupts.requested() is not None:
            for fut in futures:
                fut.cancel()                   # not started: dropped
            for fut in futures:                # running: finish and keep
                if fut not in finished and not fut.cancelled():
                    done(futures[fut], fut.result())
    interrupts.check()
    return results
