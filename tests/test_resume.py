"""Checkpoint and resume of real runs: state round trip, and a killed or failed
``izhikevich2003`` run resumed to a file bitwise equal to an uninterrupted run (numba)."""
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from neurosim.checkpoint import Checkpointer, reopen, resume_or_start
from neurosim.cli import main as cli_main
from neurosim.config import NetworkConfig, RunConfig
from neurosim.experiments import izhikevich2003
from neurosim.learners.force import Force
from neurosim.learners.three_factor import ThreeFactor
from neurosim.monitors import Recorder
from neurosim.network import build_network
from neurosim.results import ResultsError, ResultsWriter, describe, load
from neurosim.simulator import Simulator, n_features
from neurosim.streams import ArrayStream, Chunk

# 200 neurons, 2 s in 20 chunks of 100 ms, checkpoints every 3 chunks (steps 300, 600, ...).
CONFIG = {"network": {"n_neurons": 200},
          "run": {"backend": "numba", "duration_ms": 2000.0, "chunk_ms": 100.0, "seed": 7,
                  "checkpoint_every_chunks": 3, "record_traces": [0, 5, 199]}}
CHUNK_STEPS = 100


def file_contents(path, run_id=None):
    """Every dataset of a run except the checkpoint, plus its metric ``spikes``."""
    with h5py.File(path, "r") as f:
        g = f["runs"][run_id or list(f["runs"])[-1]]
        out = {}
        g.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset)
                     and not n.startswith(("checkpoint", "metrics")) else None)
        if "metrics" in g:
            out["spike_metric"] = g["metrics"].attrs["spikes"]
        return out


def assert_same_contents(a, b):
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.h5"
    izhikevich2003.run(CONFIG, path, figure=None, report=None)
    return file_contents(path)


def force_sim(seed=4):
    """A small network with a FORCE readout (RLS state P, W) and feedback encoders."""
    net = build_network(NetworkConfig(n_neurons=60), seed, "float64")
    enc = np.random.default_rng(1).uniform(-1, 1, (1, 60))
    readout = Force(alpha=0.5, rls_every=2).init_state(n_features(net), 1, 60, "float64", 1.0,
                                                       encoders=enc)
    return Simulator(net, RunConfig(backend="numba", dtype="float64", seed=seed), readout)


def force_stream():
    t = np.arange(1200.0)
    return ArrayStream(np.zeros((1200, 0)), 200, gate=np.ones(1200),
                       target=np.sin(2 * np.pi * t / 100)[:, None])


def test_checkpoint_through_hdf5_continues_bitwise(tmp_path):
    ref, ref_rec = force_sim(), Recorder(60, 1.0)
    ref.run(force_stream(), recorder=ref_rec)

    first, rec = force_sim(), Recorder(60, 1.0)
    chunks = list(force_stream())
    for chunk in chunks[:3]:
        first.run_one_chunk(chunk, rec)
    with ResultsWriter(tmp_path / "c.h5", "w") as w:
        run = w.create_run("r", "test", dict(seed=4, backend="numba", dtype="float64",
                                             dt_ms=1.0), {})
        Checkpointer(run, None, 3).save(first)
        arrays, meta = run.load_checkpoint()
    assert meta["step"] == first.step > 0    # the noise needs only the step: counter-based
    second = force_sim()
    second.restore(arrays, meta)
    for chunk in chunks[3:]:
        second.run_one_chunk(chunk, rec)
    for name in ("W", "P", "elig", "fsums", "counters", "z"):
        assert np.array_equal(getattr(ref.readout, name), getattr(second.readout, name)), name
    for name in ("v", "u", "isyn", "fb", "ffast", "fmean"):
        assert np.array_equal(getattr(ref.state, name), getattr(second.state, name)), name
    assert np.array_equal(ref_rec.spikes.t, rec.spikes.t)
    assert np.array_equal(ref_rec.z, rec.z)
    assert (second.step, second.chunk_index) == (ref.step, ref.chunk_index)


def test_restore_refuses_another_network():
    arrays, meta = force_sim(seed=4).checkpoint()
    with pytest.raises(Exception, match="different parameters"):
        force_sim(seed=5).restore(arrays, json.loads(json.dumps(meta)))


KILL_SCRIPT = """
import os, signal, sys
from neurosim.experiments import izhikevich2003
def report(done_ms, total_ms):  # called after chunk k's checkpoint (if any) is written
    if done_ms >= {kill_at_ms}:
        os.kill(os.getpid(), signal.SIGKILL)
izhikevich2003.run({config!r}, {path!r}, figure=None, report=report)
"""


def test_sigkilled_run_resumes_to_the_uninterrupted_result(tmp_path, uninterrupted):
    path = tmp_path / "killed.h5"
    script = KILL_SCRIPT.format(kill_at_ms=8 * CHUNK_STEPS, config=CONFIG, path=str(path))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    run = load(path).latest  # the killed file opens
    assert not run.complete
    assert "resumable from its checkpoint at step 600" in describe(path)

    code = cli_main(["run", "izhikevich2003", "--resume", str(path), "--quiet",
                     "--figure", str(tmp_path / "resumed.png")])
    assert code == 0
    assert load(path).latest.complete
    assert_same_contents(file_contents(path), uninterrupted)
    assert (tmp_path / "resumed.png").stat().st_size > 0


@pytest.mark.parametrize("fail_after_chunk", [2, 7])
def test_failed_run_resumes_to_the_uninterrupted_result(tmp_path, uninterrupted,
                                                        fail_after_chunk):
    """Chunk 2 fails before the first checkpoint (restart from step 0), chunk 7 after two."""
    path = tmp_path / "failed.h5"

    def report(done_ms, total_ms):
        if done_ms >= fail_after_chunk * CHUNK_STEPS:
            raise RuntimeError("simulated failure")

    with pytest.raises(RuntimeError, match="simulated failure"):
        izhikevich2003.run(CONFIG, path, figure=None, report=report)
    summary = izhikevich2003.resume(path, figure=None, report=None)
    assert summary["resumed_from_step"] == (fail_after_chunk // 3) * 3 * CHUNK_STEPS
    assert_same_contents(file_contents(path), uninterrupted)
    assert load(path).latest.attrs["wall_time_s"] > 0


def test_resume_picks_the_incomplete_run_and_refuses_complete_ones(tmp_path):
    path = tmp_path / "two.h5"
    izhikevich2003.run(CONFIG, path, figure=None, report=None)  # complete run 000

    def report(done_ms, total_ms):
        if done_ms >= 400:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        izhikevich2003.run(CONFIG, path, figure=None, report=report)  # run 001
    with ResultsWriter(path, "a") as w:
        assert reopen(w, "izhikevich2003").run_writer.run_id == "izhikevich2003_001"
    with pytest.raises(ResultsError, match="complete: nothing to resume"):
        izhikevich2003.resume(path, run_id="izhikevich2003_000", figure=None, report=None)
    assert cli_main(["run", "izhikevich2003", "--resume", str(path), "--set",
                     "run.seed=1"]) == 2
    assert cli_main(["run", "izhikevich2003", "--resume", str(path), "--run", "nope"]) == 2
    izhikevich2003.resume(path, figure=None, report=None)
    with pytest.raises(ResultsError, match="no incomplete"):
        izhikevich2003.resume(path, figure=None, report=None)
    assert_same_contents(file_contents(path, "izhikevich2003_001"),
                         file_contents(path, "izhikevich2003_000"))


# ---- a hand-written trial loop (the shape of the what/when phase loop) with resume_or_start
N_TRIALS, TRIAL_STEPS = 12, 200


def trials():
    for i in range(N_TRIALS):
        target = np.zeros((TRIAL_STEPS, 3), np.float32)
        target[120:, 0], target[:, 1 + i % 2] = 1.0, 1.0
        gate = np.zeros(TRIAL_STEPS, np.float32)
        gate[50:150] = 1.0
        tag = np.zeros(TRIAL_STEPS, np.uint8)
        tag[50:100] = 1
        yield Chunk(TRIAL_STEPS, target=target, gate=gate, tag=tag)


def trial_loop(run_writer, fail_after=None):
    """Three-factor readout trained trial by trial; per-trial outputs kept in an array."""
    net = build_network(NetworkConfig(n_neurons=80), 2, "float32")
    learner = ThreeFactor(eta0=40.0)
    readout = learner.init_state(n_features(net), 3, 80, "float32", 1.0)
    sim = Simulator(net, RunConfig(backend="numba", seed=2), readout)
    recorder = Recorder(80, 1.0, writer=run_writer, keep_in_memory=False)
    z_end = np.zeros((N_TRIALS, 3))
    ckpt, resumed = resume_or_start(run_writer, sim, recorder, 4, arrays={"z_end": z_end})
    start = resumed.stream_position
    for k, chunk, result in sim.trials(itertools.islice(trials(), start, None), learner,
                                       recorder):
        i = start + k
        z_end[i] = result.z[-1]
        recorder.add_series("gate", chunk.gate)
        run_writer.append_trials({"trial": np.array([i])})
        if i == fail_after:
            raise RuntimeError("simulated failure")
        ckpt.maybe_save(sim, n_trials=i + 1)
    run_writer.finish(ckpt.wall_time_s, sim.step)
    return z_end, sim.readout.W.copy()


def new_loop_run(writer, run_id):
    return writer.create_run(run_id, "loop", dict(seed=2, backend="numba", dtype="float32",
                                                  dt_ms=1.0), {"any": "config"})


def test_trial_loop_resumes_with_resume_or_start(tmp_path):
    path = tmp_path / "loop.h5"
    with ResultsWriter(path, "w") as w:
        z_ref, W_ref = trial_loop(new_loop_run(w, "ref"))
        with pytest.raises(RuntimeError):
            trial_loop(new_loop_run(w, "cut"), fail_after=9)  # checkpoint at 8 trials
        assert w.open_run("cut").group["checkpoint"].attrs["n_trials"] == 8
        z, W = trial_loop(w.open_run("cut"))
    assert np.array_equal(z, z_ref) and np.array_equal(W, W_ref)
    assert_same_contents(*(
        {k: v for k, v in file_contents(path, rid).items() if k != "spike_metric"}
        for rid in ("ref", "cut")))


@pytest.mark.parametrize("rule", ["online", "accumulate"])
def test_a_checkpoint_from_before_the_rule_plug_ins_restores_and_continues_bitwise(rule):
    """Checkpoints written when the local rules were built in (rule codes 1 and 2, the rate
    as the readout scalar ``eta``, no ``hyper`` array) restore into today's plug-in rules."""
    from neurosim.simulator import new_readout

    def sim():
        net = build_network(NetworkConfig(n_neurons=60), 4, "float64")
        r = new_readout(1, n_features(net), 60, "float64", rule=rule, eta=2e-4, dt_ms=1.0)
        return Simulator(net, RunConfig(backend="numba", dtype="float64", seed=4), r)

    chunks = list(force_stream())
    ref = sim()
    for chunk in chunks:
        ref.run_one_chunk(chunk)
    first = sim()
    for chunk in chunks[:3]:
        first.run_one_chunk(chunk)
    arrays, meta = first.checkpoint()
    arrays.pop("readout.hyper")                       # the old layout
    meta["readout_scalars"] = dict(meta["readout_scalars"], rule={"online": 1,
                                   "accumulate": 2}[rule], eta=2e-4)
    second = sim()
    second.readout.hyper[:] = 0.0                     # nothing left from the constructor
    second.restore(arrays, meta)
    assert second.readout.rule == ref.readout.rule and second.readout.hyper[0] == 2e-4
    for chunk in chunks[3:]:
        second.run_one_chunk(chunk)
    learned = "W" if rule == "online" else "U"
    assert np.abs(getattr(ref.readout, learned)).sum() > 0, "the rule must have learned"
    for name in ("W", "U", "z"):
        assert np.array_equal(getattr(ref.readout, name), getattr(second.readout, name)), name
