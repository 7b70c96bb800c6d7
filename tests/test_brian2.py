"""Cross-validation of the engine against Brian2, and numba == numpy (bitwise) at N = 1000.

The Brian2 tests build the same network in Brian2 (the helper below is self-contained, so
the tests do not depend on ``benchmarks/``): identical per-neuron parameters, initial state,
weights (one Brian2 synapse per nonzero of ``net.weights``, ``on_pre='v_post += w'``), and
identical noise: the run's noise matrix ``sigma * standard_normal((n_steps, N))`` from the
simulator's noise stream, handed to Brian2 as a TimedArray indexed ``noise(t, i)``.
Both use forward Euler (``integration='euler'`` / ``method='euler'``) and the same order
within a step (state update, threshold, ``v_post += w``, reset).
"""
from __future__ import annotations

import numpy as np
import pytest

from neurosim.config import NetworkConfig, RunConfig
from neurosim.network import build_network, seed_streams
from neurosim.simulator import Simulator

DT_MS = 0.5
DURATION_MS = 1000.0
IDENTICAL_FOR_MS = 200.0  # required; MODEL.md reports ~500 ms for a NumPy prototype
RUN_SEED = 3


def _network(n_neurons: int):
    cfg = NetworkConfig(n_neurons=n_neurons, integration="euler", scale_weights_with_n=True,
                        noise_excitatory=5.0, noise_inhibitory=2.0)
    return build_network(cfg, seed=1, dtype="float64")


def _neurosim_spikes(net, backend="numba", dt_ms=DT_MS, duration_ms=DURATION_MS, seed=RUN_SEED):
    sim = Simulator(net, RunConfig(backend=backend, dtype="float64", dt_ms=dt_ms,
                                   duration_ms=duration_ms, seed=seed))
    rec = sim.run()
    steps = np.round(rec.spikes.t / dt_ms).astype(np.int64)
    return steps, np.asarray(rec.spikes.i, dtype=np.int64), sim


def _noise_matrix(net, n_steps: int, seed=RUN_SEED, dt_ms=DT_MS) -> np.ndarray:
    """The run's noise current, (n_steps, N): what the simulator draws step by step (the
    counter-based draws of the run's key, times sigma scaled to the step)."""
    from neurosim.kernels.rng import key_words, normals_host
    from neurosim.simulator import noise_scale
    sigma = net.noise_sigma.astype(np.float64) * noise_scale(dt_ms)
    draws = normals_host(key_words(seed_streams(seed)["noise"]), 0, n_steps, net.n_neurons)
    return sigma[None, :] * draws


def _brian2_spikes(net, noise: np.ndarray, dt_ms=DT_MS, duration_ms=DURATION_MS):
    """Run ``net`` in Brian2 (numpy target) with the given noise; return (steps, ids, v_end)."""
    b2 = pytest.importorskip("brian2")
    old_target = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    try:
        ms = b2.ms
        clock = b2.Clock(dt=dt_ms * ms)
        noise_ta = b2.TimedArray(noise, dt=dt_ms * ms)
        eqs = """
        dv/dt = (0.04*v**2 + 5*v + 140 - u + I)/ms : 1
        du/dt = a*(b*v - u)/ms : 1
        I = bias + noise_ta(t, i) : 1
        a : 1
        b : 1
        c : 1
        d : 1
        bias : 1
        """
        group = b2.NeuronGroup(net.n_neurons, eqs, threshold="v >= 30", reset="v = c; u += d",
                               method="euler", clock=clock,
                               namespace={"noise_ta": noise_ta, "ms": ms})
        group.a, group.b, group.c, group.d = net.a, net.b, net.c, net.d
        group.bias = net.bias
        group.v, group.u = net.v0, net.u0
        pre, post = np.nonzero(net.weights)  # row-major: synapses sorted by pre, then post
        syn = b2.Synapses(group, group, "w : 1", on_pre="v_post += w", clock=clock)
        syn.connect(i=pre, j=post)
        syn.w = net.weights[pre, post]
        mon = b2.SpikeMonitor(group)
        network = b2.Network(group, syn, mon)
        network.run(duration_ms * ms)
        steps = np.round(np.asarray(mon.t / ms) / dt_ms).astype(np.int64)
        return steps, np.asarray(mon.i, dtype=np.int64), np.asarray(group.v[:])
    finally:
        b2.prefs.codegen.target = old_target


def _canonical(steps, ids):
    order = np.lexsort((ids, steps))
    return steps[order], ids[order]


def first_divergence_ms(a_steps, a_ids, b_steps, b_ids, dt_ms=DT_MS):
    """Time (ms) of the first spike present in one train but not the other; None if equal."""
    a_steps, a_ids = _canonical(a_steps, a_ids)
    b_steps, b_ids = _canonical(b_steps, b_ids)
    m = min(a_steps.size, b_steps.size)
    bad = np.flatnonzero((a_steps[:m] != b_steps[:m]) | (a_ids[:m] != b_ids[:m]))
    if bad.size:
        k = bad[0]
        return min(a_steps[k], b_steps[k]) * dt_ms
    if a_steps.size != b_steps.size:
        longer = a_steps if a_steps.size > m else b_steps
        return longer[m] * dt_ms
    return None


@pytest.mark.brian2
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pyparsing, inside Brian2
@pytest.mark.parametrize("n_neurons", [200, 1000])
def test_spike_trains_match_brian2(n_neurons):
    pytest.importorskip("brian2")
    net = _network(n_neurons)
    n_steps = int(round(DURATION_MS / DT_MS))
    ns_steps, ns_ids, sim = _neurosim_spikes(net)
    b2_steps, b2_ids, b2_v_end = _brian2_spikes(net, _noise_matrix(net, n_steps))

    rate_ns = ns_ids.size / n_neurons / (DURATION_MS / 1000.0)
    rate_b2 = b2_ids.size / n_neurons / (DURATION_MS / 1000.0)
    diverge = first_divergence_ms(ns_steps, ns_ids, b2_steps, b2_ids)
    print(f"\nN={n_neurons}: neurosim {ns_ids.size} spikes ({rate_ns:.3f} Hz), Brian2 "
          f"{b2_ids.size} spikes ({rate_b2:.3f} Hz); spike trains identical "
          + (f"until {diverge} ms" if diverge is not None else f"for all {DURATION_MS:g} ms")
          + f"; max |v_end difference| = {np.max(np.abs(sim.state.v - b2_v_end)):.3g} mV")

    assert 0.5 < rate_ns < 50.0, "the validation network should fire at a few Hz"
    assert diverge is None or diverge >= IDENTICAL_FOR_MS, \
        f"spike trains differ from {diverge} ms (required identical for {IDENTICAL_FOR_MS} ms)"
    assert abs(rate_ns - rate_b2) <= 0.05 * rate_b2


def test_numba_equals_numpy_bitwise_izhikevich2003_n1000():
    """Same seed, float64, default ``izhikevich2003`` scheme: identical spikes and state, 1 s."""
    net = build_network(NetworkConfig(), seed=5, dtype="float64")
    results = {}
    for backend in ("numba", "numpy"):
        steps, ids, sim = _neurosim_spikes(net, backend=backend, dt_ms=1.0, duration_ms=1000.0,
                                           seed=11)
        results[backend] = (steps, ids, sim.state.v.copy(), sim.state.u.copy())
    (s1, i1, v1, u1), (s2, i2, v2, u2) = results["numba"], results["numpy"]
    assert s1.size > 1000  # the benchmark network fires (~10 Hz)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(v1, v2)
    np.testing.assert_array_equal(u1, u2)
