"""Parameter sweeps on Dask distributed: ``neurosim sweep SWEEP.toml`` or :func:`run`.

>>> import neurosim.sweep as sw
>>> result = sw.run("examples/sweep_seeds.toml", workers=2)   # LocalCluster, 2 processes
>>> result.metric("rate_excitatory_hz"), result.path           # per point; the index file
>>> sw.read_index(result.path)["aggregates"]                   # mean/std/95 % over seeds

Spec format: :mod:`neurosim.sweep.spec`; checks: :mod:`neurosim.sweep.validate`; one point:
:mod:`neurosim.sweep.point`; the index file: :mod:`neurosim.sweep.index`; execution:
:mod:`neurosim.sweep.engine` and :mod:`neurosim.sweep.cluster`.
"""
from .engine import SweepResult, paths_for, run
from .index import describe_sweep, is_sweep_file, read_index
from .spec import SweepError, SweepSpec, expand, load_spec
from .validate import Point, point_id, points

__all__ = ["run", "SweepResult", "paths_for", "read_index", "describe_sweep", "is_sweep_file",
           "SweepError", "SweepSpec", "load_spec", "expand", "points", "Point", "point_id"]
