"""The FORCE (RLS) readout inside a simulation: backends agree, reset, least-squares fit.

Fast: tiny networks, a few hundred to a few thousand steps.
"""
import numpy as np
import pytest

from neurosim.config import FeaturesConfig, NetworkConfig, RunConfig, SynapseConfig
from neurosim.kernels.rls import rls_init
from neurosim.learners.force import Force
from neurosim.monitors import Recorder
from neurosim.network import build_network
from neurosim.simulator import Simulator, n_features
from neurosim.streams import Chunk

DOUBLE_EXP = dict(
    synapse=SynapseConfig(model="double_exponential", tau_rise_ms=2.0, tau_decay_ms=20.0),
    features=FeaturesConfig(kernel="double_exponential", tau_rise_ms=2.0, tau_fast_ms=20.0),
    noise_excitatory=0.0, noise_inhibitory=0.0)


def nicola_clopath(n):
    """A small Nicola & Clopath (2017) network (the force_sinusoid model at size n)."""
    return NetworkConfig(n_neurons=n, neuron_model="nicola_clopath2017", integration="euler",
                         weight_distribution="gaussian", gaussian_gain=5000.0,
                         connection_probability=0.1, connectivity="dense", **DOUBLE_EXP)


def run_force(backend, n=80, dt=0.25, n_steps=400, chunk=100, gate_from=40, rls_every=2,
              seed=3, forgetting=1.0):
    net = build_network(nicola_clopath(n), seed, "float64")
    enc = (2.0 * np.random.default_rng(1).random((1, n)) - 1.0) * 5000.0
    learner = Force(alpha=0.5, rls_every=rls_every, forgetting=forgetting)
    readout = learner.init_state(n_features(net), 1, n, "float64", dt, encoders=enc)
    sim = Simulator(net, RunConfig(dt_ms=dt, dtype="float64", backend=backend, seed=seed),
                    readout=readout)
    t_ms = np.arange(n_steps) * dt
    target = np.sin(2.0 * np.pi * t_ms / 40.0)[:, None]
    gate = (np.arange(n_steps) >= gate_from).astype(float)
    rec = Recorder(n, dt)
    for lo in range(0, n_steps, chunk):
        sim.run_one_chunk(Chunk(chunk, target=target[lo:lo + chunk], gate=gate[lo:lo + chunk]),
                          rec)
    return sim, rec, learner


@pytest.mark.parametrize("forgetting", [1.0, 0.999])
def test_numba_equals_numpy_with_rls_and_feedback(forgetting):
    """Spikes identical; z, W, P equal to rounding (the RLS kernels sum P x in different
    orders, so they are not bitwise equal)."""
    a_sim, a, _ = run_force("numba", forgetting=forgetting)
    b_sim, b, _ = run_force("numpy", forgetting=forgetting)
    assert a.spikes.num_spikes > 100  # the network is active
    np.testing.assert_array_equal(a.spikes.i, b.spikes.i)
    np.testing.assert_array_equal(a.spikes.t, b.spikes.t)
    assert np.abs(a.z).max() > 0.05  # RLS changed the output and it was fed back
    np.testing.assert_allclose(a.z, b.z, rtol=0, atol=1e-9)
    np.testing.assert_allclose(a_sim.readout.W, b_sim.readout.W, rtol=0, atol=1e-9)
    np.testing.assert_allclose(a_sim.readout.P, b_sim.readout.P, rtol=0, atol=1e-9)
    # 400 steps, gate open from step 40, every 2nd gated step
    assert a_sim.readout.counters[2] == b_sim.readout.counters[2] == 360


def test_reset_restores_initial_P_and_keeps_weights():
    sim, _, learner = run_force("numba", n_steps=200)
    readout = sim.readout
    P0 = rls_init(readout.P.shape[0], learner.alpha)
    assert np.abs(readout.P - P0).max() > 1e-3  # learning moved P
    W = readout.W.copy()
    learner.reset(readout)
    np.testing.assert_array_equal(readout.P, P0)
    np.testing.assert_array_equal(np.diag(readout.P), np.full(P0.shape[0], 2.0))  # P(0) = 2 I
    np.testing.assert_array_equal(readout.W, W)


def double_exp_features(spike_steps, spike_ids, n, n_steps, dt, tau_r=2.0, tau_d=20.0):
    """Features rebuilt from the spike record (the documented unit-area recursion)."""
    spiked = np.zeros((n_steps, n))
    spiked[spike_steps, spike_ids] = 1.0
    r, h = np.zeros(n), np.zeros(n)
    out = np.empty((n_steps, n))
    for t in range(n_steps):
        r = r * np.exp(-dt / tau_r) + h * dt
        h = h * np.exp(-dt / tau_d) + spiked[t] / (tau_r * tau_d)
        out[t] = r
    return out


def test_rls_in_kernel_converges_to_least_squares_fit():
    """Uncoupled tonically spiking neurons (zero weights, no feedback, no noise), so the
    features are the same in every run. A first, frozen run gives them (rebuilt from the
    spike record); the target is a fixed combination of them plus a sine. The RLS readout
    trained through the kernel (gate opens at step 300, update every 3rd gated step) then
    equals the ridge regression on the features of the update steps, i.e. the least-squares
    fit for small alpha, and its a-priori output approaches the target."""
    n, dt, n_steps, gate_from, every, alpha = 40, 0.5, 3000, 300, 3, 1e-3
    cfg = NetworkConfig(n_neurons=n, excitatory_fraction=1.0, neuron_model="regular_spiking",
                        integration="euler", weight_excitatory=0.0, weight_inhibitory=0.0,
                        bias_excitatory=(6.0, 20.0), **DOUBLE_EXP)
    net = build_network(cfg, 5, "float64")
    t_s = np.arange(n_steps) * dt / 1000.0
    gate = (np.arange(n_steps) >= gate_from).astype(float)

    def simulate(target, rule):
        learner = Force(alpha=alpha, rls_every=every)
        readout = learner.init_state(n_features(net), 1, n, "float64", dt)
        if rule == "frozen":
            readout = readout._replace(rule=0)
        sim = Simulator(net, RunConfig(dt_ms=dt, dtype="float64", backend="numba"),
                        readout=readout)
        rec = Recorder(n, dt)
        for lo in range(0, n_steps, 1000):
            sim.run_one_chunk(Chunk(1000, target=target[lo:lo + 1000, None],
                                    gate=gate[lo:lo + 1000]), rec)
        steps = (rec.spikes.t / dt).round().astype(int)
        return sim, rec, double_exp_features(steps, rec.spikes.i, n, n_steps, dt)

    _, _, X = simulate(np.zeros(n_steps), "frozen")
    assert np.all(X[gate_from:].max(axis=0) > 0)  # every neuron spikes
    w_true = np.random.default_rng(0).standard_normal(n) * 10.0
    target = X @ w_true + 0.1 * np.sin(2 * np.pi * 3.0 * t_s)
    sim, rec, X2 = simulate(target, "rls")
    np.testing.assert_array_equal(X2, X)  # same spikes with the readout learning
    upd = np.arange(gate_from, n_steps, every)
    Xu, Tu = X[upd], target[upd]
    W_ridge = np.linalg.solve(Xu.T @ Xu + alpha * np.eye(n), Xu.T @ Tu)
    W = sim.readout.W[0]
    np.testing.assert_allclose(W, W_ridge, rtol=1e-6, atol=1e-6 * np.abs(W_ridge).max())
    # the ridge solution is (nearly) the least-squares fit
    W_ls = np.linalg.lstsq(Xu, Tu, rcond=None)[0]
    scale = np.std(target[gate_from:])
    assert np.sqrt(np.mean((X[gate_from:] @ (W - W_ls)) ** 2)) < 0.05 * scale
    # outputs: zero until the first update, then the a-priori output tracks the target
    np.testing.assert_array_equal(rec.z[:gate_from + 1, 0], 0.0)
    late = slice(n_steps - 1000, n_steps)
    assert np.sqrt(np.mean((rec.z[late, 0] - target[late]) ** 2)) < 0.2 * scale


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_rls_learns_nothing_with_gate_closed(backend):
    sim, rec, _ = run_force(backend, n_steps=200, gate_from=10**9)
    assert np.all(sim.readout.W == 0.0)
    np.testing.assert_array_equal(np.diag(sim.readout.P), 2.0)
    assert sim.readout.counters[2] == 0
