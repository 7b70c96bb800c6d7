"""kappatune: hand-computed condition numbers pick the expected modules, frozen modules do not
move during a block, the selection is redone at a switch, bad settings name their key, the
feature replay equals the kernel's features, kappa_fraction = 1 is plain_trial bitwise."""
import numpy as np
import pytest

from neurosim.config import ConfigError, FeaturesConfig, NetworkConfig, RunConfig
from neurosim.experiments import continual as C
from neurosim.learners import make_learner
from neurosim.learners.kappatune import module_kappas, module_layout, select_modules
from neurosim.network import build_network
from neurosim.simulator import Simulator, n_features
from neurosim.streams import Chunk

NET = NetworkConfig(n_neurons=40, weight_excitatory=0.05, weight_inhibitory=0.1,
                    bias_excitatory=(3.5, 5.5), bias_inhibitory=(1.0, 3.0),
                    noise_excitatory=0.25, noise_inhibitory=0.1,
                    features=FeaturesConfig(tau_fast_ms=20.0, tau_slow_ms=200.0, centering=True,
                                            bias=True))


def _hand_X(a, b):
    """N = 4 neurons, fast + slow + bias (9 features), modules of 2 neurons per bank:
    module m's two features are (a[m], 0) at step 0 and (0, b[m]) at step 1, so its Gram
    matrix is diag(a^2, b^2) and kappa = max / min of (a^2, b^2). Step 2 is huge but ungated."""
    X = np.zeros((3, 9))
    for m in range(4):
        X[0, 2 * m], X[1, 2 * m + 1] = a[m], b[m]
    X[2] = 1e3 * np.arange(1, 10)
    X[:, 8] = 1.0
    return X, np.array([1.0, 1.0, 0.0])


def test_layout():
    assert module_layout(9, 4, 2).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, -1]
    assert module_layout(9, 4, 2, "neuron").tolist() == [0, 0, 1, 1, 0, 0, 1, 1, -1]
    assert module_layout(8, 4, 3).tolist() == [0, 0, 0, 1, 2, 2, 2, 3]   # short last block
    assert module_layout(4, 4, 4).tolist() == [0, 0, 0, 0]                # fast bank only


def test_hand_computed_kappas_select_expected_modules():
    X, gate = _hand_X(a=[1.0, 1.0, 2.0, 1.0], b=[1.0, 3.0, 1.0, 10.0])
    kappa = module_kappas(X, gate, module_layout(9, 4, 2))
    np.testing.assert_allclose(kappa, [1.0, 9.0, 4.0, 100.0])
    assert select_modules(kappa, 0.5).tolist() == [True, False, True, False]
    assert select_modules(kappa, 0.25).tolist() == [True, False, False, False]
    assert select_modules(kappa, 0.01).tolist() == [True, False, False, False]   # >= 1 module
    # a silent feature (rank deficient) ranks after every full-rank module
    X2, _ = _hand_X(a=[1.0, 0.0, 2.0, 1.0], b=[1.0, 3.0, 1.0, 10.0])
    k2 = module_kappas(X2, gate, module_layout(9, 4, 2))
    assert k2[1] == pytest.approx(1e12) and np.argmax(k2) == 1


def test_learner_mask_and_switch():
    L = make_learner("kappatune", kappa_fraction=0.5, module_size=2)
    L.init_state(9, 2, 4, np.float32, 1.0)
    assert L.wants_features()
    X, gate = _hand_X(a=[1.0, 1.0, 2.0, 1.0], b=[1.0, 3.0, 1.0, 10.0])
    L.observe_features(X, gate)
    assert not L.wants_features()
    assert L.mask().tolist() == [1, 1, 0, 0, 1, 1, 0, 0, 1]    # modules 0, 2 and the bias
    W = np.zeros((1, 9), np.float32)
    U = np.arange(1, 10, dtype=np.float32)[None]
    assert L._apply(W, U, 0.5) == pytest.approx(5 / 9)
    assert W.tolist() == [[0.5, 1.0, 0, 0, 2.5, 3.0, 0, 0, 4.5]]
    L.end_block(make_learner("plain_trial").init_state(9, 2, 4, np.float32, 1.0))
    assert L.wants_features()                                  # a switch: select again
    X, gate = _hand_X(a=[1.0, 1.0, 2.0, 1.0], b=[10.0, 1.0, 5.0, 1.0])
    L.observe_features(X, gate)
    assert L.state["plastic"].tolist() == [False, True, False, True]
    assert [s["block"] for s in L.selections] == [0, 1]
    once = make_learner("kappatune", module_size=2, select="once")
    once.init_state(9, 2, 4, np.float32, 1.0)
    once.observe_features(X, gate)
    once._end_block(None, 1)
    assert not once.wants_features()


def test_no_selection_is_an_error():
    L = make_learner("kappatune", module_size=2)
    L.init_state(9, 2, 4, np.float32, 1.0)
    with pytest.raises(RuntimeError, match="observe_features"):
        L._apply(np.zeros((1, 9), np.float32), np.ones((1, 9), np.float32), 1.0)


@pytest.mark.parametrize("key,value,match", [
    ("kappa_fraction", 0.0, r"\(0, 1\]"), ("kappa_fraction", 1.5, r"\(0, 1\]"),
    ("module_size", 0, r"\[1, inf\]"), ("module_size", 2.5, "integer"),
    ("group", "kind", "bank, neuron"), ("select", "always", "once, switch"),
])
def test_bad_settings_name_the_key(key, value, match):
    with pytest.raises(ConfigError, match=rf"learners\.kappatune\.{key} = .*{match}"):
        C.make_method({"learners": {"kappatune": {key: value}}}, "kappatune")


def test_module_size_above_n_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"kappatune\.module_size = 50 .*\[1, 40\]"):
        make_learner("kappatune", module_size=50).init_state(81, 2, 40, np.float32, 1.0)
    with pytest.raises(ConfigError, match=r"learners\.kappatune\.module_size = 500 .*"
                                          r"\[1, 300\]"):
        C.run({"network": {"n_neurons": 300}, "continual": {"methods": ["kappatune"]},
               "learners": {"kappatune": {"module_size": 500}}}, out=tmp_path / "x.h5",
              figure=None, report=None)
    assert not list(tmp_path.iterdir())


def _trials(n, steps=300, seed=0):
    out = []
    for i in range(n):
        gate = np.zeros(steps)
        gate[100:] = 1.0
        target = np.zeros((steps, 2))
        target[:, 0] = np.exp(-((np.arange(steps) - 200 - 10 * (i % 2)) ** 2) / (2 * 15.0 ** 2))
        out.append(Chunk(steps, target=target, gate=gate))
    return out


def _sim(learner, dtype="float64"):
    net = build_network(NET, seed=1, dtype=dtype)
    readout = learner.init_state(n_features(net), 2, net.n_neurons, net.a.dtype, 1.0)
    return Simulator(net, RunConfig(dtype=dtype, dt_ms=1.0, seed=2), readout=readout)


def test_replayed_features_equal_the_kernel_and_change_nothing():
    twin = _sim(make_learner("plain_trial"))
    sim = _sim(make_learner("plain_trial"))
    sim.readout.W[:] = twin.readout.W[:] = 0.01
    for ch in _trials(2):
        a = twin.run_one_chunk(ch)
        b, X = sim.run_one_chunk_features(ch)
        np.testing.assert_array_equal(a.z, b.z)
        assert X.shape == (300, n_features(sim.network))
        np.testing.assert_allclose(X[-1], sim.state.x, rtol=1e-12, atol=1e-12)
        # the readout output is W . x at every step
        np.testing.assert_allclose(b.z[:, 0], X @ sim.readout.W[0], rtol=1e-9, atol=1e-12)


def test_frozen_modules_do_not_move_within_a_block_and_selection_changes():
    L = make_learner("kappatune", kappa_fraction=0.25, module_size=5)
    sim = _sim(L)
    trials = iter(_trials(8))
    masks = []
    for n in (4, 4):
        W_start = sim.readout.W[0].copy()
        for _ in sim.trials((next(trials) for _ in range(n)), L):
            pass
        mask = L.mask().astype(bool)
        moved = sim.readout.W[0] != W_start
        assert not np.any(moved[~mask])          # frozen modules untouched the whole block
        assert np.any(moved[mask])
        masks.append(mask)
        L.end_block(sim.readout)
    assert int(L.state["n_selections"]) == 2
    assert len(L.selections) == 2 and L.selections[1]["block"] == 1
    assert L.state["plastic"].sum() == 4          # 16 modules (8 blocks x 2 banks) x 0.25
    assert not np.array_equal(L.selections[0]["kappa"], L.selections[1]["kappa"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fraction_one_is_plain_trial_bitwise(dtype):
    Ws = []
    for learner in (make_learner("plain_trial"), make_learner("kappatune", kappa_fraction=1.0)):
        sim = _sim(learner, dtype)
        trials = iter(_trials(6))
        for n in (3, 3):
            for _ in sim.trials((next(trials) for _ in range(n)), learner):
                pass
            learner.end_block(sim.readout)
        Ws.append(sim.readout.W.copy())
    np.testing.assert_array_equal(Ws[0], Ws[1])


def test_in_the_continual_experiment(tmp_path):
    cfg = {"network": {"n_neurons": 100},
           "continual": {"block_tasks": [0, 1], "trials_per_block": 4, "probe_trials": 1,
                         "latency_ms": [300.0, 600.0], "seeds": 1, "workers": 1,
                         "methods": ["kappatune"]},
           "learners": {"kappatune": {"module_size": 10, "kappa_fraction": 0.5}}}
    summary = C.run(cfg, out=tmp_path / "k.h5", figure=None, report=None)
    row = summary["table"][0]
    assert row["method"] == "kappatune" and row["memory_per_synapse"] == 10.0
    # 10 of 20 modules (10 features each) and the bias: 101 of 201 features at most
    assert 0 < row["fraction_updated"] <= 101 / 201 + 1e-12
