"""Backend registry: which ``run_chunk`` runs a chunk, and on which arrays."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .config import ConfigError


@dataclass(frozen=True)
class Backend:
    """A named kernel implementation. ``run_chunk(params, state, readout, io, rec, rng, t0, n)``."""
    name: str
    run_chunk: Callable
    description: str


def _numpy():
    from .kernels import reference
    return Backend("numpy", reference.run_chunk, "plain NumPy reference (the oracle)")


def _numba():
    from .kernels import cpu
    return Backend("numba", cpu.run_chunk, "Numba-compiled CPU kernel, whole chunk per call")


def cuda_available() -> bool:
    """True if CuPy imports and sees at least one CUDA device."""
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, CUDARuntimeError, missing driver ...
        return False


def cuda_simulated() -> bool:
    """True when numba's CUDA simulator is on (``NUMBA_ENABLE_CUDASIM=1``): 'cuda' runs there."""
    import os
    return os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def _cuda():
    if not (cuda_available() or cuda_simulated()):
        raise ConfigError("run.backend = 'cuda' needs CuPy and a visible CUDA GPU; install the "
                          "'gpu' extra (pip install neurosim[gpu]) or use backend 'numba'")
    from .gpu import cuda_backend
    return cuda_backend()


_REGISTRY = {"numpy": _numpy, "numba": _numba, "cuda": _cuda}


def get_backend(name: str) -> Backend:
    """Return the backend called ``name`` ('auto' picks the fastest available CPU/GPU one)."""
    if name == "auto":
        name = "numba"
    if name not in _REGISTRY:
        raise ConfigError(f"backend {name!r} is unknown; valid names: {', '.join(_REGISTRY)}, auto")
    return _REGISTRY[name]()


def available_backends() -> list[str]:
    """Names of the backends usable on this machine."""
    names = ["numpy", "numba"]
    if cuda_available() or cuda_simulated():
        names.append("cuda")
    return names
