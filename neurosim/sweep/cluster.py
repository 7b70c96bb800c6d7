"""Where the points run: a Dask client for a local cluster, an existing one, or a batch system.

* default: ``dask.distributed.LocalCluster`` with one worker process per core (or
  ``workers``), one thread each, no dashboard (each point's Numba kernels get cores /
  workers threads: :func:`neurosim.sweep.point.run_point`);
* ``scheduler="tcp://host:8786"``: an existing cluster (its workers must import neurosim and
  see the sweep's directory at the same path: a shared file system);
* ``cluster="slurm"`` (or ``pbs``, ``sge``, ``lsf``, ``htcondor``): workers started as batch
  jobs by ``dask-jobqueue`` (extra ``sweep-hpc``), with the spec's ``[cluster]`` table as
  the cluster's options and ``jobs`` (default 1) the number of jobs.
"""
from __future__ import annotations

import contextlib
import logging
import os

from .spec import SweepError

CONNECT_TIMEOUT = "20s"   # --scheduler: how long to try to reach it
JOBQUEUE = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster",
            "lsf": "LSFCluster", "htcondor": "HTCondorCluster"}


def _distributed():
    try:
        import distributed
    except ImportError:
        raise SweepError("neurosim sweep needs Dask distributed, which is not installed; "
                         "install it with: pip install 'neurosim[sweep]'") from None
    return distributed


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:   # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def preflight(workers: int | None, scheduler: str | None, cluster: str | None,
              client=None) -> None:
    """Refuse, before any file is touched, what cannot start: Dask or dask-jobqueue missing,
    an unknown cluster kind, both a scheduler and a cluster."""
    if client is not None or (workers == 0 and scheduler is None and cluster is None):
        return
    _distributed()
    if scheduler is not None and cluster is not None:
        raise SweepError("give either --scheduler or --cluster, not both")
    if cluster is not None:
        _jobqueue(cluster)


def _jobqueue(kind: str):
    if kind not in JOBQUEUE:
        raise SweepError(f"--cluster {kind!r} is unknown; valid: {', '.join(JOBQUEUE)}")
    try:
        import dask_jobqueue
    except ImportError:
        raise SweepError(f"--cluster {kind} needs dask-jobqueue, which is not installed; "
                         "install it with: pip install 'neurosim[sweep-hpc]'") from None
    return dask_jobqueue


def jobqueue_cluster(kind: str, options: dict):
    """A dask-jobqueue cluster of ``kind`` scaled to ``options["jobs"]`` jobs (lazy import)."""
    dask_jobqueue = _jobqueue(kind)
    options = dict(options)
    jobs = options.pop("jobs", 1)
    try:
        cluster = getattr(dask_jobqueue, JOBQUEUE[kind])(**options)
    except (TypeError, ValueError) as err:
        raise SweepError(f"--cluster {kind}: the spec's [cluster] options are invalid: "
                         f"{err}") from None
    cluster.scale(jobs=int(jobs))
    return cluster


@contextlib.contextmanager
def client_for(workers: int | None = None, scheduler: str | None = None,
               cluster: str | None = None, cluster_options: dict | None = None, client=None):
    """A ``distributed.Client`` for the sweep (closed afterwards unless ``client`` was given)."""
    if client is not None:
        yield client
        return
    distributed = _distributed()
    if scheduler is not None and cluster is not None:
        raise SweepError("give either --scheduler or --cluster, not both")
    if scheduler is not None:
        try:
            c = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as err:
            raise SweepError(f"--scheduler {scheduler}: cannot connect ({err})") from None
        with c:
            yield c
        return
    if cluster is not None:
        with jobqueue_cluster(cluster, cluster_options or {}) as jq, distributed.Client(jq) as c:
            yield c
        return
    n = workers or default_workers()
    with distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.ERROR) as lc, \
            distributed.Client(lc) as c:
        yield c
