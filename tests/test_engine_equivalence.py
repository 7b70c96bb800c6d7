"""The compiled kernel equals the NumPy reference bitwise in float64 (same seed)."""
import numpy as np
import pytest

from conftest import simulate
from neurosim.config import ChannelConfig, FeaturesConfig, NetworkConfig, SynapseConfig
from neurosim.simulator import n_features, new_readout
from neurosim.streams import ArrayStream

CASES = {
    "izhikevich2003_dense": NetworkConfig(n_neurons=200),
    "euler_sparse_exponential": NetworkConfig(
        n_neurons=300, integration="euler", connectivity="sparse", connection_probability=0.2,
        synapse=SynapseConfig(model="exponential", tau_decay_ms=5.0), scale_weights_with_n=True,
        allow_self_connections=False),
    "double_exponential_2007": NetworkConfig(
        n_neurons=100, neuron_model="nicola_clopath2017", integration="euler",
        weight_distribution="gaussian", connection_probability=0.1, noise_excitatory=0.0,
        noise_inhibitory=0.0, gaussian_gain=2000.0,
        synapse=SynapseConfig(model="double_exponential", tau_rise_ms=2.0, tau_decay_ms=20.0),
        features=FeaturesConfig(kernel="double_exponential", tau_rise_ms=2.0, tau_fast_ms=20.0)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_numba_equals_numpy_float64(case):
    cfg = CASES[case]
    dt = 0.1 if cfg.neuron_model == "nicola_clopath2017" else 1.0
    duration = 200.0 if dt < 1 else 1000.0
    out = {b: simulate(cfg, b, duration_ms=duration, dt_ms=dt, traces=(0, 7)) for b in
           ("numpy", "numba")}
    (sim_a, rec_a), (sim_b, rec_b) = out["numpy"], out["numba"]
    assert rec_a.spikes.num_spikes > 50, "the case must actually spike"
    np.testing.assert_array_equal(rec_a.spikes.i, rec_b.spikes.i)
    np.testing.assert_array_equal(rec_a.spikes.t, rec_b.spikes.t)
    np.testing.assert_array_equal(sim_a.state.v, sim_b.state.v)
    np.testing.assert_array_equal(sim_a.state.u, sim_b.state.u)
    np.testing.assert_array_equal(rec_a.traces, rec_b.traces)


def test_readout_learning_and_inputs_equal_across_backends():
    cfg = NetworkConfig(n_neurons=120, bias_excitatory=(3.5, 5.5), bias_inhibitory=(1, 3),
                        noise_excitatory=0.25, noise_inhibitory=0.1, weight_excitatory=0.05,
                        weight_inhibitory=0.1, scale_weights_with_n=True,
                        features=FeaturesConfig(tau_slow_ms=200.0, centering=True, bias=True),
                        inputs=(ChannelConfig("cue", 30.0, 0.5),))
    steps = 1500
    drive = np.zeros((steps, 1), np.float32)
    drive[100:150] = 1.0
    drive[900:950] = 1.0
    gate = np.zeros(steps, np.float32)
    gate[100:600] = 1.0
    gate[900:1400] = 1.0
    target = np.zeros((steps, 2), np.float32)
    target[300:350, 0] = 1.0

    def readout(net):
        return new_readout(2, n_features(net), net.n_neurons, net.a.dtype, rule="online",
                           eta=1e-3, e_decay=0.5, online=[1.0, 0.0])

    res = {}
    for b in ("numpy", "numba"):
        sim, rec = simulate(cfg, b, readout=readout,
                            stream=ArrayStream(drive, 500, gate=gate, target=target))
        res[b] = (sim.readout.W.copy(), rec.z0, rec.spikes.num_spikes)
    np.testing.assert_array_equal(res["numpy"][0], res["numba"][0])
    np.testing.assert_array_equal(res["numpy"][1], res["numba"][1])
    assert np.abs(res["numba"][0][0]).sum() > 0, "the online output must have learned"
    assert np.all(res["numba"][0][1] == 0), "the offline output must not learn online"


def test_float32_close_to_float64_statistics():
    cfg = NetworkConfig(n_neurons=300, scale_weights_with_n=True)
    _, r64 = simulate(cfg, "numba", dtype="float64")
    _, r32 = simulate(cfg, "numba", dtype="float32")
    rate64 = r64.spikes.mean_rate(1000.0)
    rate32 = r32.spikes.mean_rate(1000.0)
    assert rate64 > 1.0
    assert abs(rate32 - rate64) / rate64 < 0.1


def test_numba_equals_numpy_float32_delta_synapses():
    """float32 state: the compiled float32 row additions equal the reference's rounded sums."""
    cfg = NetworkConfig(n_neurons=300, scale_weights_with_n=True)
    out = {b: simulate(cfg, b, dtype="float32", duration_ms=500.0) for b in ("numpy", "numba")}
    (sim_a, rec_a), (sim_b, rec_b) = out["numpy"], out["numba"]
    assert rec_a.spikes.num_spikes > 100
    np.testing.assert_array_equal(rec_a.spikes.i, rec_b.spikes.i)
    np.testing.assert_array_equal(sim_a.state.v, sim_b.state.v)
