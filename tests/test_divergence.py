"""Divergence is caught inside the kernels, at the step it happens, on every backend.

The oracle is the NumPy reference run one step at a time with the divergence checks taken
out (the old threshold ``v >= v_peak``; a non-finite v is not a fault): the first step whose
state update leaves a non-finite v, and the lowest such neuron. Every backend must stop
there with a :class:`DivergenceError` naming that step and neuron, having recorded exactly
the steps before it (in memory and in the run file), none of them NaN.
"""
import warnings

import numba
import numpy as np
import pytest

from neurosim.config import FeaturesConfig, NetworkConfig, RunConfig, SynapseConfig
from neurosim.kernels import cpu, reference
from neurosim.kernels.records import ChunkIO, Noise, Recording
from neurosim.monitors import Recorder
from neurosim.network import build_network
from neurosim.simulator import DivergenceError, Simulator, n_features, new_readout
from neurosim.streams import ArrayStream

pytestmark = [pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")]

SEED = 3
CHUNK_STEPS = 4          # the divergence falls in a later chunk, not at a chunk's start
BACKENDS = ["numpy", "numba", "numba-parallel"]

HUGE = {   # 60 neurons, sparse: only some neurons diverge, the lowest is not neuron 0
    "delta": NetworkConfig(n_neurons=60, connectivity="sparse", connection_probability=0.1,
                           weight_excitatory=1e30, weight_inhibitory=1e30),
    "exponential": NetworkConfig(n_neurons=60, connectivity="sparse",
                                 connection_probability=0.1, weight_excitatory=1e12,
                                 weight_inhibitory=1e12,
                                 synapse=SynapseConfig(model="exponential")),
    "double_exponential": NetworkConfig(n_neurons=60, connectivity="sparse",
                                        connection_probability=0.1, weight_excitatory=1e12,
                                        weight_inhibitory=1e12,
                                        synapse=SynapseConfig(model="double_exponential")),
    "dense": NetworkConfig(n_neurons=40, weight_excitatory=1e30, weight_inhibitory=1e30),
}


def _records(sim, steps, dtype):
    p = sim.params
    io = ChunkIO(np.zeros((steps, p.proj.shape[0]), dtype),
                 np.zeros((steps, sim.readout.W.shape[0]), dtype), np.zeros(steps, dtype),
                 np.zeros(steps, np.uint8))
    rec = Recording(False, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(1, np.int64),
                    np.zeros(steps, np.int32), np.zeros(0, np.int64),
                    np.zeros((steps, 0), dtype), np.zeros((steps, sim.readout.W.shape[0])),
                    np.zeros((steps, sim.readout.W.shape[0])), np.full(3, -1, np.int64))
    return io, rec


def oracle_first_bad_v(cfg, dtype, steps=200, seed=SEED):
    """(step, lowest neuron) at which the state update first leaves a non-finite v, by the
    NumPy reference with its divergence checks taken out; and the last step after which
    v, u and the synaptic variables were all finite."""
    net = build_network(cfg, seed=seed, dtype=dtype)
    sim = Simulator(net, RunConfig(backend="numpy", dtype=dtype, seed=seed))
    p, s, r = sim.params, sim.state, sim.readout
    io, rec = _records(sim, steps, dtype)
    found = []
    neurons, flags = reference._neurons, reference.spike_flags

    def watched(p_, s_, io_, t_, noise_):
        out = neurons(p_, s_, io_, t_, noise_)
        bad = np.flatnonzero(~np.isfinite(s_.v))
        if bad.size and not found:
            found.append((t_, int(bad[0])))
        return out

    last_finite = -1
    reference._neurons = watched
    reference.spike_flags = lambda v, v_peak: np.where(v >= v_peak, 1, 0)   # no fault
    try:
        for t in range(steps):
            reference.run_chunk(p, s, r, io, rec, Noise(*sim.noise_key, 0), t, t + 1)
            if found:
                break
            if all(np.isfinite(a).all() for a in (s.v, s.u, s.isyn, s.hsyn)):
                last_finite = t
    finally:
        reference._neurons, reference.spike_flags = neurons, flags
    assert found, "the case must diverge"
    assert rec.fault[0] == -1
    return found[0], last_finite


@pytest.fixture
def use_backend(monkeypatch):
    """Returns the backend name to build the run with; 'numba-parallel' forces the parallel
    kernel with 2 threads at every size (skips where numba has one thread)."""
    before = numba.get_num_threads()

    def use(name):
        if name != "numba-parallel":
            return name
        monkeypatch.setattr(cpu, "PARALLEL_MIN_NEURONS", 1)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        if numba.get_num_threads() < 2:
            pytest.skip("numba has a single thread here")
        return "numba"
    yield use
    numba.set_num_threads(before)


def run_until_error(cfg, backend, dtype, tmp_path=None, readout=None, stream=None,
                    steps=200):
    """Run ``cfg`` in chunks of CHUNK_STEPS; returns (error, simulator, recorder, run file).
    ``backend``: a name, or a ``Backend`` (e.g. cuda with few threads) put in place."""
    net = build_network(cfg, seed=SEED, dtype=dtype)
    name = backend if isinstance(backend, str) else "numpy"
    run = RunConfig(backend=name, dtype=dtype, duration_ms=float(steps),
                    chunk_ms=float(CHUNK_STEPS), seed=SEED, record_traces=tuple(range(6)))
    sim = Simulator(net, run, readout=readout(net) if readout else None)
    if not isinstance(backend, str):
        sim.backend = backend
    writer = None
    if tmp_path is not None:
        from neurosim.results import ResultsWriter
        writer = ResultsWriter(tmp_path / "r.h5", "w")
        rw = writer.create_run("r", "izhikevich2003",
                               dict(seed=SEED, backend=name, dtype=dtype, dt_ms=1.0,
                                    n_neurons=net.n_neurons), {})
        rec = Recorder(net.n_neurons, 1.0, writer=rw, keep_in_memory=True)
    else:
        rec = Recorder(net.n_neurons, 1.0)
    try:
        with pytest.raises(DivergenceError) as info:
            sim.run(stream=stream, recorder=rec)
    finally:
        if writer is not None:
            writer.close()
    return info.value, sim, rec, (tmp_path / "r.h5" if tmp_path is not None else None)


@pytest.mark.parametrize("case", sorted(HUGE))
@pytest.mark.parametrize("backend", BACKENDS)
def test_huge_weights_stop_at_the_step_and_neuron_of_the_reference(case, backend, use_backend,
                                                                   tmp_path):
    (step, neuron), last_finite = oracle_first_bad_v(HUGE[case], "float64")
    assert last_finite == step - 1      # v, u, isyn, hsyn all finite up to the step before
    assert step % CHUNK_STEPS != 0 and step > CHUNK_STEPS   # mid-chunk, not the first chunk
    if case != "dense":
        assert neuron > 0               # a real test of "the lowest non-finite neuron"
    err, sim, rec, path = run_until_error(HUGE[case], use_backend(backend), "float64",
                                          tmp_path)
    assert err.step == step and sim.step == step
    assert f"non-finite membrane potential of neuron {neuron} at step {step} (t = {step} ms)" \
        in str(err)
    # the likely cause: the config keys, with this run's values
    cfg = HUGE[case]
    assert (f"network.weight_excitatory = {cfg.weight_excitatory:g}, "
            f"network.weight_inhibitory = {cfg.weight_inhibitory:g}") in str(err)
    assert "run.dt_ms = 1" in str(err)
    # exactly the steps before the divergence are recorded, all finite
    assert rec.rate.shape == (step,)
    assert rec.traces.shape == (step, 6) and np.isfinite(rec.traces).all()
    assert rec.spikes.num_spikes > 0 and rec.spikes.t.max() < step
    from neurosim.results import load
    run = load(path)["r"]
    assert np.array_equal(run.series("rate"), rec.rate)       # the file: the same rows
    (name,) = run.trace_names
    trace = run.traces(name)
    assert trace.data.shape == (step, 6) and np.isfinite(trace.data).all()
    assert np.array_equal(run.spikes().i, rec.spikes.i)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_float32_overflow_is_caught_too(backend):
    """In float32 the stored v overflows to inf at 3.4e38, a step the float64 arithmetic
    would still hold: the same step and neuron on both backends."""
    cfg = HUGE["delta"]
    (step, neuron), _ = oracle_first_bad_v(cfg, "float32")
    err, sim, rec, _ = run_until_error(cfg, backend, "float32")
    assert (err.step, sim.step, rec.rate.shape[0]) == (step, step, step)
    assert f"neuron {neuron} at step {step} " in str(err)


def test_inf_v_is_a_fault_not_a_spike():
    from neurosim.kernels.equations import spike_flag
    assert [spike_flag(v, 30.0) for v in (0.0, 30.0, 1e308, np.inf, -np.inf, np.nan)] == \
        [0, 1, 1, 2, 2, 2]
    flags = reference.spike_flags(np.array([0.0, 30.0, np.inf, -np.inf, np.nan]), 30.0)
    assert flags.tolist() == [0, 1, 2, 2, 2]


# ---------------------------------------------------------------- a diverging readout

READOUT_NET = NetworkConfig(n_neurons=40, features=FeaturesConfig(bias=True))
READOUT_STEPS = 120


def _diverging_readout(net):
    # output 0 is frozen (stays finite), outputs 1 and 2 learn with a huge rate
    return new_readout(3, n_features(net), net.n_neurons, net.a.dtype, rule="online",
                       eta=1e6, online=[0.0, 1.0, 1.0])


def _stream():
    target = np.zeros((READOUT_STEPS, 3))
    target[:, 1] = 1.0
    target[:, 2] = -2.0
    return ArrayStream(np.zeros((READOUT_STEPS, 0)), CHUNK_STEPS,
                       gate=np.ones(READOUT_STEPS), target=target)


def oracle_first_bad_output(dtype="float64"):
    """(step, output) at which a readout output first becomes non-finite: one step after the
    first step that leaves a weight non-finite (z = W x), the lowest output with such a
    weight; by the NumPy reference, one step at a time, watching W only."""
    net = build_network(READOUT_NET, seed=SEED, dtype=dtype)
    sim = Simulator(net, RunConfig(backend="numpy", dtype=dtype, seed=SEED),
                    readout=_diverging_readout(net))
    io, rec = _records(sim, READOUT_STEPS, dtype)
    io.gate[:] = 1.0
    io.target[:, 1], io.target[:, 2] = 1.0, -2.0
    for t in range(READOUT_STEPS):
        reference.run_chunk(sim.params, sim.state, sim.readout, io, rec,
                            Noise(*sim.noise_key, 0), t, t + 1)
        assert rec.fault[0] == -1, "an output overflowed with finite weights: not this case"
        rows = np.flatnonzero(~np.isfinite(sim.readout.W).all(axis=1))
        if rows.size:
            assert np.isfinite(rec.z[:t + 1]).all()
            return t + 1, int(rows[0])
    raise AssertionError("the readout must diverge")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_diverging_readout_stops_at_the_step_its_output_becomes_non_finite(backend,
                                                                            use_backend):
    step, out = oracle_first_bad_output()
    assert step > CHUNK_STEPS and step % CHUNK_STEPS != 0 and out == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        err, sim, rec, _ = run_until_error(READOUT_NET, use_backend(backend), "float64",
                                           readout=_diverging_readout, stream=_stream(),
                                           steps=READOUT_STEPS)
    assert err.step == step and sim.step == step
    msg = str(err)
    assert f"readout output {out} diverged at step {step} (t = {step} ms)" in msg
    assert f"(output {out}), its output is non-finite from step {step}" in msg
    assert "learner.eta0" in msg and "rule 'online' with the per-step rate eta = 1e+06" in msg
    assert rec.z.shape == (step, 3) and np.isfinite(rec.z).all() and np.isfinite(rec.z0).all()
    assert rec.rate.shape == (step,)


def test_the_readout_error_names_the_output(use_backend):
    net = build_network(READOUT_NET, seed=SEED)
    sim = Simulator(net, RunConfig(backend="numba", seed=SEED, chunk_ms=float(CHUNK_STEPS)),
                    readout=_diverging_readout(net))
    sim.readout_names = ["what", "when", "where"]
    with pytest.raises(DivergenceError, match=r"readout output 1 'when' diverged at step"):
        sim.run(stream=_stream())


def test_the_error_pickles_with_its_step():
    import pickle
    err = pickle.loads(pickle.dumps(DivergenceError(12, "non-finite ...")))
    assert err.step == 12 and str(err) == "non-finite ..."


def test_replicates_name_the_seed_that_diverged():
    from neurosim.replicates import run_replicates
    cfg = HUGE["delta"]
    (step, neuron), _ = oracle_first_bad_v(cfg, "float64")
    run = RunConfig(dtype="float64", chunk_ms=float(CHUNK_STEPS), duration_ms=100.0)
    with pytest.raises(DivergenceError, match=rf"replicate seed {SEED}: non-finite membrane "
                                              rf"potential of neuron {neuron} at step {step} "):
        run_replicates(cfg, run, [SEED], backend="numba")
