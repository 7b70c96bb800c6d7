"""Oja's rule, the plug-in readout rule of ``neurosim/learners/oja.py``: what it learns (the
leading principal direction, unit norm), the same bits on every CPU backend and thread count,
and that a rule defined outside the package (here, in this file) plugs in the same way."""
import numpy as np
import pytest
from numba.extending import register_jitable

from conftest import simulate
from neurosim.config import ConfigError, FeaturesConfig, NetworkConfig
from neurosim.kernels.plugins import RULES, register_rule, rule, rule_code
from neurosim.learners import make_learner
from neurosim.learners.oja import update
from neurosim.simulator import n_features, new_readout
from neurosim.streams import ArrayStream

CFG = NetworkConfig(n_neurons=150, bias_excitatory=(3.5, 5.5), bias_inhibitory=(1, 3),
                    noise_excitatory=0.5, noise_inhibitory=0.2, scale_weights_with_n=True,
                    features=FeaturesConfig(tau_fast_ms=20.0, centering=True))


def test_update_finds_the_leading_principal_direction_with_unit_norm():
    """The per-synapse update, applied to a whole weight row per sample (as the NumPy
    reference does), on Gaussian inputs of known covariance."""
    rng = np.random.default_rng(1)
    n = 6
    basis, _ = np.linalg.qr(rng.standard_normal((n, n)))
    scales = np.array([3.0, 1.5, 1.0, 0.7, 0.5, 0.3])
    w = rng.standard_normal(n) * 0.1
    for eta in (2e-3, 2e-4, 2e-5):    # smaller rates at the end narrow the fluctuations
        h = np.array([eta, 0.0, 0.0, 0.0])
        for x in rng.standard_normal((20000, n)) * scales @ basis.T:
            z = w @ x
            w, _ = update(w, 0.0, x, x, z, 0.0, 1.0, h)
    assert np.linalg.norm(w) == pytest.approx(1.0, abs=0.02)
    cos = abs(w @ basis[:, 0]) / np.linalg.norm(w)
    assert np.degrees(np.arccos(min(cos, 1.0))) < 1.5


def _oja_readout(net, eta=2e-4):
    readout = make_learner("oja", init_seed=3).init_state(
        n_features(net), 2, net.n_neurons, net.a.dtype, 1.0)
    readout.hyper[0] = eta
    return readout


def _run(backend, steps=1500, readout=_oja_readout, cfg=CFG, n_out=2):
    stream = ArrayStream(np.zeros((steps, 0)), 250, gate=np.ones(steps),
                         target=np.zeros((steps, n_out)))
    return simulate(cfg, backend, readout=readout, stream=stream)


def test_oja_is_the_same_on_numpy_and_numba_at_1_and_2_threads(parallel):
    out = {}
    for name, n in (("numpy", 1), ("numba", 1), ("numba", 2)):
        if parallel(n) < n:
            pytest.skip("numba has a single thread here")
        sim, rec = _run(name)
        out[(name, n)] = (sim.readout.W.copy(), rec.z.copy(), rec.spikes.i.copy())
    ref = out[("numpy", 1)]
    w0 = _oja_readout(simulate(CFG, "numpy", duration_ms=0.0)[0].network).W
    assert np.abs(ref[0] - w0).max() > 1e-3, "the weights must have moved"
    for key, got in out.items():
        for a, b in zip(ref, got):
            np.testing.assert_array_equal(a, b, err_msg=str(key))


def test_oja_on_the_reservoir_holds_unit_norm_and_finds_a_high_variance_direction():
    """Oja's rule maximises the output variance at unit norm. Against the same run with the
    rule's rate at zero (same activity: the readout feeds nothing back), the learned outputs
    vary far more than the initial random unit vectors' outputs, and both outputs find the
    same direction (up to sign)."""
    sim, rec = _run("numba", steps=6000, readout=lambda net: _oja_readout(net, 1e-4))
    _, frozen = _run("numba", steps=6000, readout=lambda net: _oja_readout(net, 0.0))
    W = sim.readout.W
    norms = np.linalg.norm(W, axis=1)
    assert np.all(np.abs(norms - 1.0) < 0.01), norms
    gain = rec.z[-1000:].var(axis=0) / frozen.z[-1000:].var(axis=0)
    assert np.all(gain > 20.0), gain
    cos = abs(W[0] @ W[1]) / (norms[0] * norms[1])
    assert cos > 0.99, cos


def test_a_rule_defined_outside_the_package_plugs_in():
    """Adding a rule is one function and one call: a decay towards zero at rate h[1]."""
    @register_jitable
    def shrink(w, s, x, elig, z, e, g, h):
        return w - (h[1] * g) * w, s + g

    code = register_rule("test_shrink", shrink, __file__)
    assert rule(code).name == "test_shrink" and code == rule_code("test_shrink")

    def readout(net):
        r = new_readout(1, n_features(net), net.n_neurons, net.a.dtype, rule="test_shrink",
                        W=np.ones((1, n_features(net))))
        r.hyper[1] = 1e-3
        return r
    for backend in ("numpy", "numba"):
        sim, _ = _run(backend, steps=500, readout=readout, n_out=1)
        np.testing.assert_allclose(sim.readout.W, (1 - 1e-3) ** 500, rtol=1e-12)
        np.testing.assert_array_equal(sim.readout.U, 500.0)
    RULES.pop(code)


def test_oja_settings_are_checked_and_unknown_rules_are_named():
    with pytest.raises(ConfigError, match="learner.eta0"):
        make_learner("oja", eta0=-1.0)
    with pytest.raises(KeyError, match="no plug-in rule with code 3"):
        rule(3)
    with pytest.raises(ConfigError, match="rule 'nope' is unknown"):
        new_readout(1, 4, 4, np.float64, rule="nope")
