"""SONATA export: a spike file and a nodes file that libsonata (and NEST, BMTK, ...) read.

Our own results keep the spikes of a run under ``/runs/<id>/spikes``, gzip-compressed and
sorted by time; a SONATA reader wants them at the root, ``/spikes/<population>``, with
``sorting`` as the spec's enum, ``units`` on ``timestamps``, uint64 ``node_ids`` and no
filter its HDF5 may lack. :func:`export_sonata` copies one run into that layout (the values
are copied, never recomputed: times and ids equal those of ``neurosim.results.load``
bit for bit), plus the run's node table as a SONATA nodes file and its node-types CSV.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from . import pick_run

#: SONATA's ``sorting`` enumeration of spike populations.
SORTING = {"none": 0, "by_id": 1, "by_time": 2}
#: ``node_type_id`` of excitatory and inhibitory neurons in the nodes file.
NODE_TYPE_E, NODE_TYPE_I = 0, 1
MAGIC = 0x0A7A


def _stamp(group: h5py.Group) -> None:
    group.attrs["magic"] = np.uint32(MAGIC)
    group.attrs["version"] = np.array([0, 1], dtype=np.uint32)


def write_spikes(run, path) -> Path:
    """Write the spikes of ``run`` (every population) as a SONATA spike file at ``path``.

    Layout: ``/spikes/<population>/timestamps`` (n,) float64, attr ``units = "ms"``;
    ``node_ids`` (n,) uint64 (population-local); population attr ``sorting`` = enum
    ``by_time``. Uncompressed, so that every HDF5 build reads it.
    """
    path = Path(path)
    sorting = h5py.enum_dtype(SORTING, basetype="u1")
    with h5py.File(path, "w") as f:
        top = f.create_group("spikes")
        _stamp(top)
        for pop in run.populations:
            s = run.spikes(pop)
            if s.t.size > 1 and np.any(np.diff(s.t) < 0):
                raise ValueError(f"run {run.id!r}, population {pop!r}: spikes are not in "
                                 "time order; the file may be damaged")
            g = top.create_group(pop)
            g.attrs.create("sorting", SORTING["by_time"], dtype=sorting)
            g.create_dataset("timestamps", data=s.t).attrs["units"] = "ms"
            g.create_dataset("node_ids", data=s.i.astype(np.uint64))
    return path


def write_nodes(run, path, types_path=None) -> tuple[Path, Path]:
    """Write the node table of ``run`` as a SONATA nodes file and node-types CSV.

    Nodes file: ``/nodes/<population>/node_type_id`` (0 = excitatory, 1 = inhibitory),
    ``node_group_id`` (all 0), ``node_group_index`` (0..N-1) and group ``0`` with one
    dataset per neuron: ``ei`` ("e"/"i"), ``a``, ``b``, ``c`` (reset, mV), ``d``, ``bias``,
    ``noise_sigma`` (float64). The CSV (space separated, as the spec's examples) gives each
    node type its ``model_type`` (``point_neuron``), ``model_template`` and ``ei``.
    Raises ResultsKeyError for runs stored without node tables (format version 1).
    """
    path = Path(path)
    types_path = Path(types_path) if types_path else path.with_name(
        path.stem.replace("_nodes", "") + "_node_types.csv")
    model = None
    with h5py.File(path, "w") as f:
        top = f.create_group("nodes")
        _stamp(top)
        for pop in run.node_populations:
            table = run.nodes(pop)
            model = run.node_attrs(pop).get("model", model)
            exc = table["excitatory"]
            n = exc.size
            g = top.create_group(pop)
            g.create_dataset("node_type_id", data=np.where(exc, NODE_TYPE_E, NODE_TYPE_I)
                             .astype(np.int64))
            g.create_dataset("node_group_id", data=np.zeros(n, np.int64))
            g.create_dataset("node_group_index", data=np.arange(n, dtype=np.int64))
            grp = g.create_group("0")
            grp.create_dataset("ei", data=np.where(exc, "e", "i").astype(object),
                               dtype=h5py.string_dtype())
            for k, v in table.items():
                if k != "excitatory":
                    grp.create_dataset(k, data=np.asarray(v, dtype=np.float64))
    if not run.node_populations:
        from ..results import ResultsKeyError
        path.unlink()
        raise ResultsKeyError(f"run {run.id!r} has no node table (written before node tables "
                              "were stored, format version 1): no SONATA nodes file")
    template = f"neurosim:{model or 'izhikevich'}"
    types_path.write_text("node_type_id model_type model_template ei\n"
                          f"{NODE_TYPE_E} point_neuron {template} e\n"
                          f"{NODE_TYPE_I} point_neuron {template} i\n")
    return path, types_path


def export_sonata(source, out_dir=None, run_id=None) -> dict:
    """Export one run of a results file to SONATA.

    Parameters
    ----------
    source : path of a results file, a ``Results`` or a ``Run``
    out_dir : directory to write into (created); default ``<file stem>_<run>_sonata``
        beside the results file
    run_id : run to export (default: the latest)

    Returns ``{"spikes": path, "nodes": path or None, "node_types": path or None}``;
    the nodes files are skipped (None) for runs without a stored node table.
    """
    run = pick_run(source, run_id)
    if out_dir is None:
        out_dir = run.path.with_name(f"{run.path.stem}_{run.id}_sonata")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"spikes": write_spikes(run, out_dir / "spikes.h5"), "nodes": None,
             "node_types": None}
    if run.node_populations:
        paths["nodes"], paths["node_types"] = write_nodes(run, out_dir / "nodes.h5",
                                                          out_dir / "node_types.csv")
    return paths
