"""The simulator's residency bookkeeping (``Simulator.state`` / ``readout`` accessors, pull,
push, mark_modified, checkpoint/restore, backend switch), without a GPU: a stand-in
"device" keeps its own copies of the records and runs them with the numba kernel, so any
stale copy used by mistake changes the results. ``tests/gpu/test_cuda_resident.py`` runs
the same bookkeeping on the cuda backend under the CUDA simulator."""
import numpy as np

from neurosim.backends import Backend, get_backend
from neurosim.config import ChannelConfig, FeaturesConfig, NetworkConfig, RunConfig
from neurosim.gpu import ChunkOutput
from neurosim.kernels import cpu
from neurosim.kernels.records import Recording, State
from neurosim.learners import make_learner
from neurosim.monitors import Recorder
from neurosim.network import build_network
from neurosim.simulator import Simulator, n_features
from neurosim.streams import Chunk

STEPS = 25


def _copy(record):
    return type(record)(*[np.array(v) if isinstance(v, np.ndarray) else v for v in record])


class CopyRunner:
    """A stand-in device: its own copies of state and readout, run by the numba kernel."""

    def __init__(self):
        self.p, self.s, self.r, self.on_evict, self.log = None, None, None, None, []

    def holds(self, p):
        return self.p is p

    def attach(self, p, s, r, on_evict=None):
        self.evict()
        self.p, self.s, self.r, self.on_evict = p, _copy(s), _copy(r), on_evict
        self.log.append("attach")

    def evict(self):
        cb, self.on_evict = self.on_evict, None
        if cb is not None:
            cb()
        self.p = None

    def push_state(self, s):
        self.s = _copy(s)
        self.log.append("push_state")

    def push_readout(self, r):
        self.r = _copy(r)
        self.log.append("push_readout")

    def pull_state(self, s):
        for f in State._fields:
            getattr(s, f)[...] = getattr(self.s, f)
        self.log.append("pull_state")

    def pull_readout(self, r):
        for f, v in self.r._asdict().items():
            if isinstance(v, np.ndarray):
                getattr(r, f)[...] = v
        self.log.append("pull_readout")

    def nonfinite(self):
        return np.array([not np.isfinite(a).all() for a in
                         (self.s.v, self.s.u, self.s.isyn, self.r.W)])

    def run_resident(self, io, noise, n_steps, cap, trace_ids, record_spikes, t0=0, grow=True):
        n_out, dtype, cap = self.r.W.shape[0], self.p.a.dtype, max(cap, 1)
        rec = Recording(record_spikes=record_spikes, spk_step=np.zeros(cap, np.int32),
                        spk_id=np.zeros(cap, np.int32), n_spk=np.zeros(1, np.int64),
                        rate=np.zeros(n_steps, np.int32), trace_ids=trace_ids,
                        traces=np.zeros((n_steps, trace_ids.size), dtype),
                        z=np.zeros((n_steps, n_out)), z0=np.zeros((n_steps, n_out)),
                        fault=np.full(3, -1, np.int64))
        spikes, t = [], t0
        while True:
            t = cpu.run_chunk(self.p, self.s, self.r, io, rec, noise, t, n_steps)
            k = int(rec.n_spk[0])
            spikes.append((rec.spk_step[:k].copy(), rec.spk_id[:k].copy()))
            rec.n_spk[0] = 0
            if rec.fault[0] >= 0 or t >= n_steps:
                break
            cap *= 2
            rec = rec._replace(spk_step=np.zeros(cap, np.int32), spk_id=np.zeros(cap, np.int32))
        return ChunkOutput(np.array([t]), rec.fault[None], rec.rate[None], rec.traces[None],
                           rec.z[None], rec.z0[None], [spikes], cap)


def _sim(resident, n_out=3):
    cfg = NetworkConfig(n_neurons=40, bias_excitatory=(3.5, 5.5), bias_inhibitory=(1, 3),
                        noise_excitatory=2.0, noise_inhibitory=1.0, scale_weights_with_n=True,
                        features=FeaturesConfig(tau_slow_ms=20.0, centering=True, bias=True),
                        inputs=(ChannelConfig("cue", 30.0, 0.5),))
    net = build_network(cfg, seed=4, dtype="float64")
    learner = make_learner("three_factor")
    ro = learner.init_state(n_features(net), n_out, net.n_neurons, net.a.dtype, 1.0)
    sim = Simulator(net, RunConfig(backend="numba", dtype="float64", chunk_ms=float(STEPS),
                                   seed=4, record_traces=(1,)), readout=ro)
    runner = None
    if resident:
        runner = CopyRunner()
        sim.backend = Backend("copy", None, "stand-in device", resident=runner)
    return sim, learner, runner


def _trials(n, n_out=3):
    out = []
    for i in range(n):
        drive = np.zeros((STEPS, 1))
        drive[2:7] = 1.0
        gate = np.zeros(STEPS)
        gate[3:20] = 1.0
        tag = np.zeros(STEPS, np.uint8)
        tag[4:12] = 1
        target = np.zeros((STEPS, n_out))
        target[9:16, 0] = 1.0
        target[:, 1 + i % (n_out - 1)] = 1.0
        out.append(Chunk(STEPS, drive, target, gate, tag))
    return out


def _script(sim, learner):
    """Trials with consolidation, host edits of every kind, a checkpoint and a restore."""
    rec = Recorder(40, 1.0)
    trials = _trials(8)
    kept = sim.readout.W
    for _ in sim.trials(trials[:3], learner, rec):
        pass
    sim.readout.W[2, :7] = 0.01                       # through the accessor
    held = sim.readout
    sim.run_one_chunk(trials[3], rec)
    sim.mark_modified("readout")                      # pulls into `kept`, then edited
    kept[1, 3:9] += 0.02
    sim.run_one_chunk(trials[4], rec)
    sim.readout = held._replace(e_decay=0.25)         # held across a chunk, put back
    sim.state.fb[:] *= 0.5                            # a state edit
    arrays, meta = sim.checkpoint()
    for _ in sim.trials(trials[5:7], learner, rec):
        pass
    sim.restore(arrays, meta)
    for _ in sim.trials(trials[5:], learner, rec):
        pass
    rec.flush()
    return rec


def test_stand_in_device_gives_the_host_results_bitwise():
    (sa, la, _), (sb, lb, runner) = _sim(False), _sim(True)
    ra, rb = _script(sa, la), _script(sb, lb)
    assert ra.spikes.num_spikes > 10
    np.testing.assert_array_equal(ra.spikes.i, rb.spikes.i)
    np.testing.assert_array_equal(ra.spikes.t, rb.spikes.t)
    np.testing.assert_array_equal(ra.z, rb.z)
    np.testing.assert_array_equal(ra.traces, rb.traces)
    for f in State._fields:
        np.testing.assert_array_equal(getattr(sa.state, f), getattr(sb.state, f), err_msg=f)
    for f, v in sa.readout._asdict().items():
        np.testing.assert_array_equal(getattr(sb.readout, f), v, err_msg=f)
    assert sb.readout.e_decay == 0.25
    assert runner.log.count("attach") == 1


def test_plain_run_pushes_once_and_pulls_at_the_end():
    sim, _, runner = _sim(True, n_out=3)
    sim.run(duration_ms=4.0 * STEPS, recorder=Recorder(40, 1.0))
    assert runner.log == ["attach", "pull_state", "pull_readout"]
    sim.checkpoint()                                  # host current: nothing moves
    sim.run(duration_ms=2.0 * STEPS, recorder=Recorder(40, 1.0))
    assert runner.log[3:] == ["pull_state", "pull_readout"]   # nothing was edited
    sim.state
    sim.run(duration_ms=2.0 * STEPS, recorder=Recorder(40, 1.0))
    assert runner.log[5:] == ["push_state", "pull_state", "pull_readout"]


def test_switching_to_a_cpu_backend_continues_from_the_device():
    trials = _trials(4)
    (sa, la, _), (sb, lb, runner) = _sim(False), _sim(True)
    for sim, learner in ((sa, la), (sb, lb)):
        for i, _c, _r in sim.trials(trials[:2], learner):
            pass
    sb.backend = get_backend("numba")
    for sim, learner in ((sa, la), (sb, lb)):
        for i, _c, _r in sim.trials(trials[2:], learner):
            pass
    assert runner.log.count("pull_state") == 1       # at the switch (the learner pulled W)
    for f in State._fields:
        np.testing.assert_array_equal(getattr(sa.state, f), getattr(sb.state, f), err_msg=f)
    np.testing.assert_array_equal(sa.readout.W, sb.readout.W)


def test_gpu_module_depends_on_the_kernels_and_the_config_only():
    """No circle backends <-> gpu <-> simulator: ``neurosim/gpu.py`` imports (at any level)
    nothing of the package but the kernels and the config."""
    import ast
    import neurosim.gpu as gpu
    tree = ast.parse(open(gpu.__file__).read())
    inner = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            inner.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("neurosim"):
            inner.add(node.module.split(".")[1])
    assert inner <= {"config", "kernels"}, inner
