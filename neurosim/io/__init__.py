"""Bridges from neurosim results files to the tools of the field.

* :mod:`.sonata` -- SONATA spike and nodes files (read by libsonata, NEST, BMTK, ...);
* :mod:`.nwb` -- a Neurodata Without Borders file (needs ``pynwb``);
* :mod:`.neo_bridge` -- ``run.to_neo()``: a ``neo.Block`` for Elephant (needs ``neo``);
* :mod:`.frames` -- pandas views of spikes, series, trials and nodes with named columns.

The optional libraries come with ``pip install 'neurosim[io]'``; each module imports its
library only when called.
"""
from __future__ import annotations


def need(module: str, what: str):
    """Import ``module`` or raise ImportError naming the extra that installs it."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{what} needs {module.split('.')[0]}, which is not installed; "
                          "install it with: pip install 'neurosim[io]'") from None


def pick_run(path_or_run, run_id=None):
    """A ``Run`` from a Run, a Results, or a path (``run_id`` or the latest run)."""
    from ..results import Results, Run, load
    if isinstance(path_or_run, Run):
        return path_or_run
    results = path_or_run if isinstance(path_or_run, Results) else load(path_or_run)
    return results.latest if run_id is None else results[run_id]
