"""Residency on the cuda backend (CUDA simulator): state and readout stay on the device
between chunks, move only when the host needs them, and host edits between chunks are
honoured. Results are compared with the numba backend (same counter-based noise).

Run in its own process: ``NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/gpu -q``.
"""
import numpy as np
import pytest
from numba import cuda  # noqa: F401  (the simulator swaps it inside kernels)

from neurosim.backends import get_backend
from neurosim.config import ChannelConfig, FeaturesConfig, NetworkConfig, RunConfig
from neurosim.gpu import _READOUT_ARRAYS, _READOUT_MUTABLE
from neurosim.kernels.records import State
from neurosim.monitors import Recorder
from neurosim.network import build_network
from neurosim.simulator import Simulator, n_features, new_readout
from neurosim.streams import ArrayStream, Chunk

from .readouts import rls_readout

pytestmark = pytest.mark.cudasim
THREADS = 4
TOL = 1e-9
STEPS = 20     # per chunk


def _cfg(n=32):
    return NetworkConfig(n_neurons=n, bias_excitatory=(3.5, 5.5), bias_inhibitory=(1, 3),
                         noise_excitatory=2.0, noise_inhibitory=1.0, scale_weights_with_n=True,
                         features=FeaturesConfig(tau_slow_ms=20.0, centering=True, bias=True),
                         inputs=(ChannelConfig("cue", 30.0, 0.5),))


def _sim(backend, readout=None, n=32, seed=3):
    net = build_network(_cfg(n), seed=seed, dtype="float64")
    run = RunConfig(backend="numba", dtype="float64", duration_ms=4.0 * STEPS,
                    chunk_ms=float(STEPS), seed=seed, record_traces=(0, 3))
    sim = Simulator(net, run, readout=readout(net) if readout else None)
    if backend == "cuda":
        sim.backend = get_backend("cuda", threads=THREADS)
    return sim


def _rls_stream(n_chunks=4):
    steps = n_chunks * STEPS
    drive = np.zeros((steps, 1))
    drive[3:10] = 1.0
    gate = np.zeros(steps)
    gate[5:steps - 7] = 1.0
    target = np.sin(np.arange(steps) / 6.0)[:, None]
    return ArrayStream(drive, STEPS, gate=gate, target=target)


def _whatwhen_trials(n_trials=5, n_out=3):
    """Trials of one chunk each: a cue, the gate open, a tag window, a one-hot identity."""
    out = []
    for i in range(n_trials):
        drive = np.zeros((STEPS, 1))
        drive[2:7] = 1.0
        gate = np.zeros(STEPS)
        gate[3:16] = 1.0
        tag = np.zeros(STEPS, np.uint8)
        tag[4:10] = 1
        target = np.zeros((STEPS, n_out))
        target[8:14, 0] = 1.0
        target[:, 1 + i % (n_out - 1)] = 1.0 if i != 3 else 0.0   # trial 3: an omission
        out.append(Chunk(STEPS, drive, target, gate, tag))
    return out


def _assert_same_sim(sa, sb, fields=("W", "W0", "U", "elig", "tag_sum", "fsums", "P", "z")):
    for f in State._fields:
        np.testing.assert_allclose(getattr(sb.state, f), getattr(sa.state, f), rtol=0,
                                   atol=TOL, err_msg=f)
    for f in fields:
        np.testing.assert_allclose(getattr(sb.readout, f), getattr(sa.readout, f), rtol=0,
                                   atol=TOL, err_msg=f)
    np.testing.assert_array_equal(sa.readout.counters, sb.readout.counters)


def _assert_same_rec(ra, rb):
    np.testing.assert_array_equal(ra.spikes.i, rb.spikes.i)
    np.testing.assert_array_equal(ra.spikes.t, rb.spikes.t)
    np.testing.assert_array_equal(ra.rate, rb.rate)
    np.testing.assert_allclose(rb.traces, ra.traces, rtol=0, atol=TOL)
    np.testing.assert_allclose(rb.z, ra.z, rtol=0, atol=TOL)


def test_plain_run_moves_state_and_readout_once():
    """(b) 4 chunks: state and readout go up once (first chunk) and come back once (run
    end); per chunk only the inputs go up and the recordings come back."""
    sim = _sim("cuda", readout=rls_readout)
    runner = sim.backend.resident
    t = runner.transfers
    rec = sim.run(stream=_rls_stream(4), recorder=Recorder(32, 1.0))
    assert rec.spikes.num_spikes > 5
    n_state_down = sum(1 for f in State._fields if getattr(sim._state, f).size)
    n_readout_down = sum(1 for f in _READOUT_MUTABLE if getattr(sim._readout, f).size)
    assert t.calls("h2d", "state") == len(State._fields)
    assert t.calls("h2d", "readout") == len(_READOUT_ARRAYS)
    assert t.calls("d2h", "state") == n_state_down
    assert t.calls("d2h", "readout") == n_readout_down
    assert t.calls("h2d", "params") == 11
    assert t.calls("h2d", "io") == 4 * 4
    assert t.bytes("h2d", "readout") >= sim._readout.P.nbytes   # P went up once
    before = t.summary()
    sim.state.v, sim.readout.W          # host is current: no copy
    assert t.summary() == before
    sim.run(stream=list(_rls_stream(2)), recorder=Recorder(32, 1.0))
    # the accesses above marked both records edited: pushed once more, pulled at the end
    assert t.calls("h2d", "state") == 2 * len(State._fields)
    assert t.calls("d2h", "state") == 2 * n_state_down
    sim.run(stream=list(_rls_stream(2)), recorder=Recorder(32, 1.0))
    assert t.calls("h2d", "state") == 2 * len(State._fields)       # untouched: stays
    assert t.calls("d2h", "state") == 3 * n_state_down


def test_rls_with_host_access_between_chunks_matches_numba():
    """(c) FORCE/RLS, RLS due steps across chunk ends, the readout read and its P touched
    on the host after every chunk (pushed and pulled each chunk): same as numba."""
    seen = {}

    def on_chunk(sim, chunk, result):
        seen.setdefault(sim.backend.name, []).append(sim.readout.err.copy())
        sim.readout.P[...] *= 1.0                 # an edit that changes nothing

    out = {}
    for name in ("numba", "cuda"):
        sim = _sim(name, readout=rls_readout)
        out[name] = (sim, sim.run(stream=_rls_stream(4), recorder=Recorder(32, 1.0),
                                  on_chunk=on_chunk))
    (sa, ra), (sb, rb) = out["numba"], out["cuda"]
    _assert_same_rec(ra, rb)
    _assert_same_sim(sa, sb, fields=("W", "P", "err", "z"))
    assert np.abs(sb.readout.W).sum() > 0
    np.testing.assert_allclose(seen["cuda"], seen["numba"], rtol=0, atol=TOL)
    t = sb.backend.resident.transfers
    assert t.calls("h2d", "state") == len(State._fields)           # state never left
    assert t.calls("h2d", "readout") == 4 * len(_READOUT_ARRAYS)   # pushed before each chunk


def test_three_factor_whatwhen_with_consolidation_matches_numba():
    """(c) what/when: the kernel learns "when" online, the learner sets the rate before and
    consolidates "what" on the host after every trial: same as numba."""
    from neurosim.learners import make_learner
    learner = make_learner("three_factor")
    out = {}
    for name in ("numba", "cuda"):
        sim = _sim(name, readout=lambda net: learner.init_state(
            n_features(net), 3, net.n_neurons, net.a.dtype, 1.0))
        rec = Recorder(32, 1.0)
        zs = [res.z.copy() for _, _, res in sim.trials(_whatwhen_trials(5), learner, rec)]
        out[name] = (sim, rec, np.array(zs))
    (sa, ra, za), (sb, rb, zb) = out["numba"], out["cuda"]
    _assert_same_rec(ra, rb)
    np.testing.assert_allclose(zb, za, rtol=0, atol=TOL)
    _assert_same_sim(sa, sb)
    assert np.abs(sb.readout.W[1:]).sum() > 0, "what must have consolidated"
    assert np.abs(sb.readout.W[0]).sum() > 0, "when must have learned online"
    t = sb.backend.resident.transfers
    assert t.calls("h2d", "state") == len(State._fields)
    assert t.calls("d2h", "state") == sum(1 for f in State._fields
                                          if getattr(sb._state, f).size)   # at the end only


def test_checkpoint_mid_run_then_restore_continues_identically():
    """(d) checkpoint after 2 of 4 chunks, run on (device copies move ahead), restore, run
    the last 2: the same as 4 chunks straight; also restored into a fresh simulator."""
    chunks = list(_rls_stream(4))
    ref = _sim("cuda", readout=rls_readout)
    r_ref = ref.run(stream=chunks, recorder=Recorder(32, 1.0))
    a = _sim("cuda", readout=rls_readout)
    a.run(stream=chunks[:2], recorder=Recorder(32, 1.0))
    arrays, meta = a.checkpoint()
    a.run(stream=chunks[2:3], recorder=Recorder(32, 1.0))
    a.restore(arrays, meta)
    r_a = a.run(stream=chunks[2:], recorder=Recorder(32, 1.0))
    b = _sim("cuda", readout=rls_readout)
    b.restore(arrays, meta)
    r_b = b.run(stream=chunks[2:], recorder=Recorder(32, 1.0))
    late = r_ref.spikes.t >= 2 * STEPS
    for sim, rec in ((a, r_a), (b, r_b)):
        _assert_same_sim(ref, sim, fields=("W", "P", "err", "z"))
        np.testing.assert_array_equal(rec.spikes.i, r_ref.spikes.i[late])
        np.testing.assert_array_equal(rec.spikes.t, r_ref.spikes.t[late])
        np.testing.assert_allclose(rec.z, r_ref.z[2 * STEPS:], rtol=0, atol=TOL)


def test_host_edits_between_chunks_are_honoured():
    """(e) readout.W edited on the host between chunks (through the accessor, through a
    reference kept across a chunk with mark_modified, and a record held across a chunk and
    put back, as ``experiments.continual.probe`` does): the device uses the edits."""
    def readout(net):
        enc = 0.3 * np.random.default_rng(2).standard_normal((2, net.n_neurons))
        return new_readout(2, n_features(net), net.n_neurons, net.a.dtype, rule="online",
                           eta=1e-3, online=[1.0, 0.0], encoders=enc)

    chunks = list(_rls_stream(4))
    chunks = [Chunk(c.n_steps, c.drive, np.repeat(c.target, 2, axis=1), c.gate, c.tag)
              for c in chunks]
    out = {}
    for name in ("numba", "cuda"):
        sim = _sim(name, readout=readout)
        rec = Recorder(32, 1.0)
        kept = sim.readout.W                    # a reference kept across chunks
        held = sim.readout
        sim.run_one_chunk(chunks[0], rec)
        sim.readout.W[1, :10] = 0.05            # through the accessor
        sim.run_one_chunk(chunks[1], rec)
        sim.mark_modified("readout")            # pulls into `kept`, then `kept` is edited
        kept[0, 5:15] -= 0.02
        sim.run_one_chunk(chunks[2], rec)
        sim.readout = held._replace(e_decay=0.5)   # held across chunks, put back
        held.W[1, 10:20] = -0.05
        sim.run_one_chunk(chunks[3], rec)
        rec.flush()
        sim.pull()
        out[name] = (sim, rec)
    (sa, ra), (sb, rb) = out["numba"], out["cuda"]
    assert ra.spikes.num_spikes > 5
    _assert_same_rec(ra, rb)
    _assert_same_sim(sa, sb, fields=("W", "W0", "elig", "z", "z0"))
    assert sb.readout.e_decay == 0.5
    assert np.all(sb.readout.W[1, 10:20] == -0.05) and np.all(sb.readout.W[1, :10] == 0.05)


def test_backend_switch_and_a_second_simulator_on_one_runner():
    """The newer copy is never lost: a simulator moved from cuda to numba mid-run continues
    from the device's state, and one runner shared by two simulators hands each its own."""
    chunks = list(_rls_stream(3))
    ref = _sim("numba", readout=rls_readout)
    r_ref = ref.run(stream=chunks, recorder=Recorder(32, 1.0))
    a = _sim("cuda", readout=rls_readout)
    b = _sim("numba", readout=rls_readout)
    b.backend = a.backend                       # the same runner
    rec_a, rec_b = Recorder(32, 1.0), Recorder(32, 1.0)
    a.run_one_chunk(chunks[0], rec_a)
    b.run_one_chunk(chunks[0], rec_b)           # evicts a's copies (a pulls them first)
    a.run_one_chunk(chunks[1], rec_a)
    b.run_one_chunk(chunks[1], rec_b)
    a.backend = get_backend("numba")
    a.run_one_chunk(chunks[2], rec_a)           # on the CPU, from the device's state
    b.run_one_chunk(chunks[2], rec_b)
    for sim, rec in ((a, rec_a), (b, rec_b)):
        rec.flush()
        _assert_same_sim(ref, sim, fields=("W", "P", "err", "z"))
        np.testing.assert_array_equal(rec.spikes.i, r_ref.spikes.i)
        np.testing.assert_allclose(rec.z, r_ref.z, rtol=0, atol=TOL)
