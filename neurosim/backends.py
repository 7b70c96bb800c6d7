"""Backend registry: which ``run_chunk`` runs a chunk, and on which arrays."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .config import ConfigError


@dataclass(frozen=True)
class Backend:
    """A named kernel implementation. ``run_chunk(params, state, readout, io, rec, rng, t0, n)``.

    ``resident``: for a device backend, the runner that can keep state and readout on the
    device between chunks (``gpu.CudaChunkRunner``); the simulator then uses its resident
    API instead of ``run_chunk``. None for the CPU backends."""
    name: str
    run_chunk: Callable
    description: str
    resident: object = None


def _numpy():
    from .kernels import reference
    return Backend("numpy", reference.run_chunk, "plain NumPy reference (the oracle)")


def _numba():
    from .kernels import cpu
    return Backend("numba", cpu.run_chunk, "Numba-compiled CPU kernel, whole chunk per call")


def cuda_available() -> bool:
    """True if CuPy imports and sees at least one CUDA device."""
    from .gpu import cuda_available as available
    return available()


def cuda_simulated() -> bool:
    """True when numba's CUDA simulator is on (``NUMBA_ENABLE_CUDASIM=1``): 'cuda' runs there."""
    from .gpu import simulator_enabled
    return simulator_enabled()


def _cuda(threads=None, rls="auto"):
    """The cuda backend; ``threads``: threads per block (default ``gpu.default_threads``);
    ``rls``: where an RLS update runs (``gpu.rls_fused``: "auto", "fused", "split")."""
    if not (cuda_available() or cuda_simulated()):
        raise ConfigError("run.backend = 'cuda' needs CuPy and a visible CUDA GPU; install the "
                          "'gpu' extra (pip install neurosim[gpu]) or use backend 'numba'")
    from .gpu import CudaChunkRunner
    where = "CUDA simulator" if cuda_simulated() else "GPU"
    runner = CudaChunkRunner(threads=threads, rls=rls)
    return Backend("cuda", runner.run_chunk,
                   f"numba-cuda chunk kernel ({where}), one block per network", resident=runner)


_REGISTRY = {"numpy": _numpy, "numba": _numba, "cuda": _cuda}


def get_backend(name: str, **options) -> Backend:
    """Return the backend called ``name`` ('auto' picks the fastest available CPU/GPU one).

    ``options`` go to the backend's factory (``cuda``: ``threads`` per block, ``rls``).
    """
    if name == "auto":
        name = "numba"
    if name not in _REGISTRY:
        raise ConfigError(f"backend {name!r} is unknown; valid names: {', '.join(_REGISTRY)}, auto")
    accepted = {"cuda": ("threads", "rls")}.get(name, ())
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(f"backend {name!r} takes no option(s) {unknown}; it accepts: "
                          f"{', '.join(accepted) or 'none'}")
    return _REGISTRY[name](**options)


def available_backends() -> list[str]:
    """Names of the backends usable on this machine."""
    names = ["numpy", "numba"]
    if cuda_available() or cuda_simulated():
        names.append("cuda")
    return names
