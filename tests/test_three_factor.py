"""The three-factor learner: hand-computed online and offline updates on a 3-neuron network."""
import numpy as np
import pytest

from conftest import simulate
from neurosim.config import FeaturesConfig, NetworkConfig
from neurosim.learners import make_learner
from neurosim.simulator import n_features
from neurosim.streams import Chunk

SILENT = NetworkConfig(n_neurons=3, noise_excitatory=0.0, noise_inhibitory=0.0,
                       weight_excitatory=0.0, weight_inhibitory=0.0,
                       features=FeaturesConfig(bias=True))


def test_online_update_by_hand(backend):
    # Silent neurons: x = [0, 0, 0, 1]. Target 1, gate 1, eta = 0.5 per step:
    # step 1: z = 0, W_bias = 0.5; step 2: z = 0.5, W_bias = 0.75; step 3: W_bias = 0.875.
    learner = make_learner("three_factor")

    def readout(net):
        r = learner.init_state(n_features(net), 2, net.n_neurons, net.a.dtype, 1.0)
        r.hyper[0] = 0.5     # eta, the slot rule "online" reads
        return r

    chunk = Chunk(3, target=np.array([[1.0, 0.0]] * 3), gate=np.ones(3))
    sim, rec = simulate(SILENT, backend, readout=readout, stream=[chunk])
    assert rec.spikes.num_spikes == 0
    np.testing.assert_allclose(sim.readout.W[0], [0, 0, 0, 0.875])
    np.testing.assert_allclose(rec.z[:, 0], [0.0, 0.5, 0.75])
    np.testing.assert_allclose(rec.z0[:, 0], 0.0)  # frozen at gate opening
    assert np.all(sim.readout.W[1] == 0)


def test_offline_what_by_hand():
    # Tag over 2 steps of x = [0, 0, 0, 1]: xbar = e_4, <|xbar|^2> = 1, eta_what = 0.15.
    learner = make_learner("three_factor", eta_what0=0.15)
    sim, _ = simulate(SILENT, "numba", readout=lambda net: learner.init_state(
        n_features(net), 3, net.n_neurons, net.a.dtype, 1.0), stream=[])
    target = np.array([[0.0, 1.0, 0.0]] * 2)
    chunk = Chunk(2, target=target, gate=np.ones(2), tag=np.ones(2, bool))
    sim.run_one_chunk(chunk)
    learner.consolidate(sim.readout, chunk, None)
    np.testing.assert_allclose(sim.readout.W[1:, 3], [0.15, 0.0])
    sim.run_one_chunk(chunk)
    learner.consolidate(sim.readout, chunk, None)
    np.testing.assert_allclose(sim.readout.W[1:, 3], [0.15 + 0.15 * 0.85, 0.0])
    omission = Chunk(2, target=np.zeros((2, 3)), gate=np.ones(2), tag=np.ones(2, bool))
    before = sim.readout.W.copy()
    sim.run_one_chunk(omission)
    learner.consolidate(sim.readout, omission, None)
    np.testing.assert_array_equal(sim.readout.W, before)  # what_on_omission=False


def test_learning_rate_is_normalised_by_feature_power():
    learner = make_learner("three_factor", eta0=40.0)
    sim, _ = simulate(SILENT, "numba", readout=lambda net: learner.init_state(
        n_features(net), 1, net.n_neurons, net.a.dtype, 1.0), stream=[])
    assert learner.before_chunk(sim.readout, None).hyper[0] == 0.0  # nothing seen yet
    sim.run_one_chunk(Chunk(4, gate=np.ones(4)))
    assert learner.before_chunk(sim.readout, None).hyper[0] == pytest.approx(40e-3 / 1.0)


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="learner.eta0 = -1"):     # the user's config key
        make_learner("three_factor", eta0=-1)
    with pytest.raises(ValueError, match="learners.ewc.eta0 = -1"):
        make_learner("ewc", key="learners.ewc", eta0=-1)
    with pytest.raises(ValueError, match="valid names: .*three_factor"):
        make_learner("hebb")


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_a_diverging_readout_stops_the_run_naming_the_weight_and_step(backend):
    # x = [0, 0, 0, 1], target 1, eta 1e30: W_bias = 1e30 after step 0, -1e60 (float32: -inf)
    # after step 1, so the output is 0, 1e30, then non-finite from step 2 on.
    from neurosim.simulator import DivergenceError
    learner = make_learner("three_factor")

    def readout(net):
        r = learner.init_state(n_features(net), 2, net.n_neurons, np.float32, 1.0)
        r.hyper[0] = 1e30    # eta
        return r

    chunk = Chunk(10, target=np.array([[1.0, 0.0]] * 10), gate=np.ones(10))
    with pytest.raises(DivergenceError, match=r"W\[0, \d\] \(output 0\), its output is "
                                              r"non-finite from step 2: .*learner.eta0"):
        simulate(SILENT, backend, readout=readout, stream=[chunk])
