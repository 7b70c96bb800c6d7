"""Hand-computed single-neuron cases and the Izhikevich (2003) firing patterns."""
import numpy as np
import pytest

from conftest import simulate
from neurosim.config import ChannelConfig, NetworkConfig
from neurosim.streams import ArrayStream


def single(model, current, duration_ms=600.0, dt_ms=0.25, onset_ms=50.0, integration="euler",
           backend="numba"):
    cfg = NetworkConfig(n_neurons=1, excitatory_fraction=1.0, neuron_model=model,
                        integration=integration, noise_excitatory=0.0, weight_excitatory=0.0,
                        inputs=(ChannelConfig("step", current, 1.0, "all"),))
    steps = int(duration_ms / dt_ms)
    drive = np.zeros((steps, 1))
    drive[int(onset_ms / dt_ms):] = 1.0
    sim, rec = simulate(cfg, backend, duration_ms=duration_ms, dt_ms=dt_ms,
                        stream=ArrayStream(drive, 400), traces=(0,))
    return rec.spikes.t, rec.traces[:, 0]


def test_one_euler_step_by_hand(backend):
    # v = -65, u = b v = -13, I = 10, dt = 0.5:
    # dv = 0.04*4225 + 5*(-65) + 140 - (-13) + 10 = 7 -> v = -61.5
    # du = 0.02 * (0.2 * -65 - (-13)) = 0 -> u = -13
    cfg = NetworkConfig(n_neurons=1, excitatory_fraction=1.0, neuron_model="regular_spiking",
                        integration="euler", noise_excitatory=0.0, weight_excitatory=0.0,
                        inputs=(ChannelConfig("step", 10.0, 1.0, "all"),))
    sim, rec = simulate(cfg, backend, duration_ms=0.5, dt_ms=0.5,
                        stream=ArrayStream(np.ones((1, 1)), 1))
    assert sim.state.v[0] == pytest.approx(-61.5, abs=1e-12)
    assert sim.state.u[0] == pytest.approx(-13.0, abs=1e-12)


def test_two_half_steps_by_hand(backend):
    # izhikevich2003 scheme, dt = 1: v1 = -65 + 0.5*7 = -61.5;
    # v2 = -61.5 + 0.5*(0.04*61.5^2 - 307.5 + 140 + 13 + 10) = -61.5 + 0.5*6.79 = -58.105
    # u = -13 + 0.02*(0.2*v2 + 13)
    cfg = NetworkConfig(n_neurons=1, excitatory_fraction=1.0, neuron_model="regular_spiking",
                        noise_excitatory=0.0, weight_excitatory=0.0,
                        inputs=(ChannelConfig("step", 10.0, 1.0, "all"),))
    sim, _ = simulate(cfg, backend, duration_ms=1.0, dt_ms=1.0,
                      stream=ArrayStream(np.ones((1, 1)), 1))
    v2 = -61.5 + 0.5 * (0.04 * 61.5 ** 2 - 307.5 + 140 + 13 + 10)
    assert sim.state.v[0] == pytest.approx(v2, abs=1e-12)
    assert sim.state.u[0] == pytest.approx(-13 + 0.02 * (0.2 * v2 + 13), abs=1e-12)


def isis(times):
    return np.diff(times)


def test_regular_spiking_adapts():
    t, _ = single("regular_spiking", 10.0)
    d = isis(t)
    assert len(t) >= 5
    assert d[0] < d[-1] * 0.8, "regular spiking: inter-spike intervals lengthen"
    assert d.min() > 10.0, "no bursts"


def test_intrinsically_bursting_starts_with_burst_then_tonic():
    t, _ = single("intrinsically_bursting", 10.0)
    d = isis(t)
    assert d[0] < 10.0, "initial burst"
    assert np.all(d[3:] > 15.0), "then single spikes"


def test_chattering_fires_repeated_bursts():
    t, _ = single("chattering", 10.0)
    d = isis(t)
    assert np.sum(d < 10.0) >= 6, "many short intra-burst intervals"
    assert np.sum(d > 15.0) >= 3, "separated by repeated long gaps"


def test_fast_spiking_is_fast_and_does_not_adapt():
    t_fs, _ = single("fast_spiking", 10.0)
    t_rs, _ = single("regular_spiking", 10.0)
    assert len(t_fs) > 3 * len(t_rs)
    steady = isis(t_fs)[-5:]
    assert steady.max() < 10.0, "above 100 Hz"
    assert steady.max() / steady.min() < 1.05, "steady tonic firing"


def test_low_threshold_spiking_fires_at_low_current_where_regular_spiking_is_silent():
    t_lts, _ = single("low_threshold_spiking", 3.0)
    t_rs, _ = single("regular_spiking", 3.0)
    assert len(t_lts) >= 10, "tonic firing at I = 3"
    assert len(t_rs) <= 1, "regular spiking: at most an onset spike"


def test_spikes_reset_and_peak():
    t, v = single("regular_spiking", 10.0)
    assert v.max() < 30.0, "recorded after reset"
    assert np.isclose(v.min(), -70.0, atol=10)
