"""The parallel CPU kernel gives the NumPy reference's bits, whatever the thread count.

The kernel is forced parallel at these small sizes (``PARALLEL_MIN_NEURONS`` = 1), so the
neurons are cut into one range per thread; a race or an order-dependent sum would show as a
differing spike or state.
"""
import numpy as np
import pytest

from conftest import simulate
from neurosim.config import ChannelConfig, FeaturesConfig, NetworkConfig
from neurosim.simulator import n_features, new_readout
from neurosim.streams import ArrayStream
from test_engine_equivalence import CASES


@pytest.mark.parametrize("case", sorted(CASES))
def test_parallel_equals_numpy_bitwise(case, parallel):
    cfg = CASES[case]
    dt = 0.1 if cfg.neuron_model == "nicola_clopath2017" else 1.0
    duration = 100.0 if dt < 1 else 400.0
    sim_a, rec_a = simulate(cfg, "numpy", duration_ms=duration, dt_ms=dt, traces=(0, 7))
    threads = parallel(2)
    if threads < 2:
        pytest.skip("numba has a single thread here")
    sim_b, rec_b = simulate(cfg, "numba", duration_ms=duration, dt_ms=dt, traces=(0, 7))
    assert rec_a.spikes.num_spikes > 20, "the case must actually spike"
    np.testing.assert_array_equal(rec_a.spikes.i, rec_b.spikes.i)
    np.testing.assert_array_equal(rec_a.spikes.t, rec_b.spikes.t)
    for f in ("v", "u", "isyn", "hsyn"):
        np.testing.assert_array_equal(getattr(sim_a.state, f), getattr(sim_b.state, f), f)
    np.testing.assert_array_equal(rec_a.traces, rec_b.traces)


def test_parallel_readout_features_and_learning_bitwise(parallel):
    """Features (fast and slow bank, centring, bias), inputs, feedback and the three-factor
    rule: 1 thread, 2 threads and NumPy agree bitwise."""
    cfg = NetworkConfig(n_neurons=90, bias_excitatory=(3.5, 5.5), bias_inhibitory=(1, 3),
                        noise_excitatory=0.5, noise_inhibitory=0.2, scale_weights_with_n=True,
                        features=FeaturesConfig(tau_slow_ms=200.0, centering=True, bias=True),
                        inputs=(ChannelConfig("cue", 30.0, 0.5),))
    steps = 600
    drive = np.zeros((steps, 1))
    drive[50:100] = 1.0
    gate = np.zeros(steps)
    gate[50:400] = 1.0
    target = np.zeros((steps, 2))
    target[200:250, 0] = 1.0

    def readout(net):
        enc = 0.1 * np.random.default_rng(0).standard_normal((2, net.n_neurons))
        return new_readout(2, n_features(net), net.n_neurons, net.a.dtype, rule="online",
                           eta=1e-3, e_decay=0.5, online=[1.0, 0.0], encoders=enc)

    out = {}
    for name, threads in (("numpy", 1), ("numba1", 1), ("numba2", 2)):
        got = parallel(threads)
        if got < threads:
            pytest.skip("numba has a single thread here")
        sim, rec = simulate(cfg, name.rstrip("12"), readout=readout,
                            stream=ArrayStream(drive, 200, gate=gate, target=target))
        out[name] = (sim.readout.W.copy(), rec.z, rec.spikes.i.copy(), sim.state.x.copy())
    assert np.abs(out["numpy"][0][0]).sum() > 0, "the online output must have learned"
    for name in ("numba1", "numba2"):
        for a, b in zip(out["numpy"], out[name]):
            np.testing.assert_array_equal(a, b)
