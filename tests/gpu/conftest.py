"""Run the GPU tests only where they can run: under numba's CUDA simulator or on a real GPU.

The simulator must be switched on before numba is imported, so these tests run in their
own pytest process::

    NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/gpu -q -m "not gpu"

In the main run (``python -m pytest tests``) without a GPU every test here is skipped at
collection, without importing numba.cuda or CuPy.
"""
import os

import pytest

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def _real_gpu() -> bool:
    if SIMULATED:
        return False
    from neurosim.backends import cuda_available
    return cuda_available()


REAL_GPU = _real_gpu()


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    mine = [it for it in items if str(it.fspath).startswith(here + os.sep)]
    if not (SIMULATED or REAL_GPU):
        skip = pytest.mark.skip(reason="GPU tests need NUMBA_ENABLE_CUDASIM=1 (own pytest "
                                       "process) or a visible CUDA GPU with CuPy")
        for it in mine:
            it.add_marker(skip)
        return
    if not REAL_GPU:
        skip = pytest.mark.skip(reason="needs a real CUDA GPU")
        for it in mine:
            if it.get_closest_marker("gpu") is not None:
                it.add_marker(skip)
