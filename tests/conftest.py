"""Shared fixtures: small networks built the same way on every backend."""
import numpy as np
import pytest

from neurosim.config import ChannelConfig, FeaturesConfig, NetworkConfig, RunConfig, SynapseConfig
from neurosim.monitors import Recorder
from neurosim.network import build_network
from neurosim.simulator import Simulator

BACKENDS = ["numpy", "numba"]


@pytest.fixture
def parallel(monkeypatch):
    """Run the numba backend with ``threads`` threads, parallel at every size: ``use(n)``
    sets the thread count and returns the count numba granted (may be fewer)."""
    import numba
    from neurosim.kernels import cpu
    before = numba.get_num_threads()
    monkeypatch.setattr(cpu, "PARALLEL_MIN_NEURONS", 1)

    def use(threads):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        return numba.get_num_threads()
    yield use
    numba.set_num_threads(before)


def simulate(cfg: NetworkConfig, backend: str, dtype="float64", duration_ms=1000.0, dt_ms=1.0,
             seed=3, readout=None, stream=None, traces=()):
    """Build and run ``cfg``; returns (simulator, recorder)."""
    net = build_network(cfg, seed=seed, dtype=dtype)
    run = RunConfig(backend=backend, dtype=dtype, dt_ms=dt_ms, duration_ms=duration_ms,
                    chunk_ms=250.0, seed=seed, record_traces=tuple(traces))
    sim = Simulator(net, run, readout=readout(net) if callable(readout) else readout)
    rec = Recorder(net.n_neurons, dt_ms)
    sim.run(stream=stream, recorder=rec)
    return sim, rec


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


__all__ = ["simulate", "ChannelConfig", "FeaturesConfig", "NetworkConfig", "SynapseConfig", "np"]
