"""Interrupted real runs: Ctrl-C, an exception, SIGKILL. The file opens, says INCOMPLETE with
the step, and holds every chunk up to the last recorder flush (whole chunks only)."""
import json
import re
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

import neurosim.simulator as simulator_module
from neurosim.cli import main as cli_main
from neurosim.experiments import izhikevich2003
from neurosim.monitors import Recorder
from neurosim.results import ResultsWriter, describe, load

CONFIG = {"network": {"n_neurons": 200},
          "run": {"backend": "numba", "duration_ms": 2000.0, "chunk_ms": 100.0, "seed": 3,
                  "checkpoint_every_chunks": 3}}
CHUNK_STEPS = 100


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.h5"
    izhikevich2003.run(CONFIG, path, figure=None, report=None)
    run = load(path).latest
    return run.spikes(), run.series("rate")


def assert_prefix_of_reference(path, reference, n_steps):
    """The file holds exactly the reference's first ``n_steps`` steps."""
    spikes, rate = reference
    run = load(path).latest
    keep = spikes.t < n_steps
    assert np.array_equal(run.spikes().t, spikes.t[keep])
    assert np.array_equal(run.spikes().i, spikes.i[keep])
    assert np.array_equal(run.series("rate"), rate[:n_steps])


class _InterruptAfter:
    """A reporter that raises ``error`` once ``chunks`` chunks are done."""

    def __init__(self, chunks, error):
        self.chunks, self.error = chunks, error

    def __call__(self, done_ms, total_ms):
        if done_ms >= self.chunks * CHUNK_STEPS:
            raise self.error

    def close(self):
        pass


def test_ctrl_c_in_the_cli_keeps_every_finished_chunk(tmp_path, monkeypatch, reference, capsys):
    path = tmp_path / "ctrl_c.h5"
    monkeypatch.setattr(simulator_module, "make_reporter",
                        lambda report, total: _InterruptAfter(5, KeyboardInterrupt()))
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(CONFIG))
    assert cli_main(["run", "izhikevich2003", "--config", str(cfg), "--out", str(path)]) == 130
    assert "interrupted" in capsys.readouterr().err
    run = load(path).latest
    assert not run.complete and run.attrs["duration_ms"] == 500.0
    text = describe(path)
    assert "INCOMPLETE: run stopped at step 500" in text
    assert "resumable from its checkpoint at step 300" in text
    assert_prefix_of_reference(path, reference, 500)  # the finally-flush lost nothing


def test_exception_inside_a_chunk_writes_no_partial_chunk(tmp_path, monkeypatch, reference):
    """A failure after a chunk's spikes but before its series: that chunk is not written."""
    class FailingRecorder(Recorder):
        def add_chunk(self, step0, *args):
            if step0 == 7 * CHUNK_STEPS:
                raise RuntimeError("disk full")
            super().add_chunk(step0, *args)

    path = tmp_path / "fail.h5"
    monkeypatch.setattr(izhikevich2003, "_recorder", lambda net, run_cfg, rw: FailingRecorder(
        net.n_neurons, run_cfg.dt_ms, writer=rw, keep_in_memory=False))
    with pytest.raises(RuntimeError, match="disk full"):
        izhikevich2003.run(CONFIG, path, figure=None, report=None)
    assert "INCOMPLETE: run stopped at step 700" in describe(path)
    assert_prefix_of_reference(path, reference, 700)


def test_recorder_flush_skips_the_chunk_in_flight(tmp_path):
    with ResultsWriter(tmp_path / "r.h5", "w") as w:
        run = w.create_run("r", "test", dict(seed=0, backend="numba", dtype="float32",
                                             dt_ms=1.0), {})
        rec = Recorder(4, 1.0, writer=run, keep_in_memory=False)
        rec.add_spikes(np.array([1, 2]), np.array([0, 3]))
        rec.add_chunk(0, np.zeros(10, np.int32), np.zeros((10, 0)), np.zeros((10, 0)),
                      np.zeros((10, 0)))
        rec.add_spikes(np.array([12]), np.array([1]))  # chunk 1 in flight
        rec.flush()
    run = load(tmp_path / "r.h5")["r"]
    assert list(run.spikes().t) == [1.0, 2.0] and run.series("rate").shape == (10,)
    assert run.attrs["duration_ms"] == 10.0
    assert list(rec.spike_count) == [1, 1, 0, 1]


CHILD = """
import sys, time
from neurosim import checkpoint
from neurosim.experiments import izhikevich2003
save = checkpoint.Checkpointer.save
def announcing_save(self, sim, *args, **kw):
    save(self, sim, *args, **kw)
    print("checkpoint", sim.step, flush=True)
checkpoint.Checkpointer.save = announcing_save
def report(done_ms, total_ms):
    time.sleep(60 if done_ms >= 1000 else 0.05)  # never finishes on its own
izhikevich2003.run({config!r}, {path!r}, figure=None, report=report)
"""


def test_sigkill_after_two_checkpoints_leaves_a_readable_resumable_file(tmp_path, reference):
    path = tmp_path / "killed.h5"
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CHILD.format(
        config=CONFIG, path=str(path)))], stdout=subprocess.PIPE, text=True)
    try:
        seen = [child.stdout.readline() for _ in range(2)]
        assert seen == ["checkpoint 300\n", "checkpoint 600\n"], seen
    finally:
        child.kill()  # SIGKILL
        child.wait(timeout=30)
    assert child.returncode == -9

    with h5py.File(path, "r"):  # plain h5py opens it too
        pass
    run = load(path).latest
    n_steps = run.series("rate").shape[0]
    assert not run.complete and n_steps >= 600 and n_steps % CHUNK_STEPS == 0
    assert f"INCOMPLETE: run stopped at step {n_steps}" in describe(path)
    assert_prefix_of_reference(path, reference, n_steps)

    izhikevich2003.resume(path, figure=None, report=None)
    assert load(path).latest.complete
    assert_prefix_of_reference(path, reference, 2000)


class _Slow:
    """A reporter that lets each chunk take ~15 ms, so signals land mid-run."""

    def __call__(self, done_ms, total_ms):
        import time
        time.sleep(0.015)

    def close(self):
        pass


def test_twenty_signals_at_random_moments_stop_cleanly_and_resume_bitwise(
        tmp_path, monkeypatch, reference, capsys):
    """SIGINT or SIGTERM at a random moment (from another thread, as a terminal or a batch
    system would send it): exit 130 / 143, a checkpoint at the step where it stopped, the
    resume command printed, and --resume ends bitwise equal to an uninterrupted run."""
    import signal
    monkeypatch.setattr(simulator_module, "make_reporter", lambda report, total: _Slow())
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(CONFIG))
    rng = np.random.default_rng(7)
    outcomes, late = [], []
    # a signal that lands after cli_main returned reaches this handler, not pytest's
    previous = {s: signal.signal(s, lambda signum, frame: late.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        _signal_loop(tmp_path, cfg, rng, outcomes, late, reference, capsys)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    assert outcomes.count(130) + outcomes.count(143) >= 10, (outcomes, late)


def _signal_loop(tmp_path, cfg, rng, outcomes, late, reference, capsys):
    import os
    import signal
    import threading
    for k in range(20):
        path = tmp_path / f"sig{k}.h5"
        signum = (signal.SIGINT, signal.SIGTERM)[k % 2]
        timer = threading.Timer(rng.uniform(0.0, 0.35), os.kill, (os.getpid(), signum))
        timer.start()
        code = cli_main(["run", "izhikevich2003", "--config", str(cfg), "--out", str(path),
                         "--figure", str(tmp_path / "f.png")])
        timer.join()
        err = capsys.readouterr().err
        assert "Traceback" not in err and "Exception ignored" not in err
        if code == 0:             # the signal came after the last chunk (or after the run)
            assert "had finished" in err or late
        else:
            assert code == 128 + signum, (k, code, err)
            assert f"--resume {path}" in err
            run = load(path).latest
            assert not run.complete
            stopped = int(run.attrs["duration_ms"])
            if stopped:           # stopped after chunks ran: its checkpoint is at that step
                assert f"resumable from its checkpoint at step {stopped}" in describe(path)
            assert cli_main(["run", "izhikevich2003", "--resume", str(path), "--figure",
                             str(tmp_path / "f.png")]) == 0
            capsys.readouterr()
        assert load(path).latest.complete
        assert_prefix_of_reference(path, reference, 2000)
        outcomes.append(code)


def test_a_diverging_network_stops_before_writing_non_finite_rows(tmp_path, capsys):
    path = tmp_path / "div.h5"
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"network": {"n_neurons": 200, "weight_excitatory": 1e30},
                               "run": {"duration_ms": 1000.0, "chunk_ms": 100.0}}))
    assert cli_main(["run", "izhikevich2003", "--config", str(cfg), "--out", str(path)]) == 1
    err = capsys.readouterr().err
    found = re.search(r"non-finite membrane potential of neuron \d+ at step (\d+) \(t = ", err)
    assert found and "network.weight_excitatory = 1e+30" in err and "Traceback" not in err
    step = int(found.group(1))
    assert 0 < step < 100                       # caught at its step, inside the first chunk
    run = load(path).latest
    assert not run.complete and run.attrs["duration_ms"] == float(step)
    rate = run.series("rate")                   # the steps before the divergence, no more
    assert rate.shape == (step,) and np.isfinite(rate).all()


def test_resume_of_a_run_without_checkpoints_is_refused_and_changes_nothing(
        tmp_path, monkeypatch, reference, capsys):
    path = tmp_path / "nock.h5"
    monkeypatch.setattr(simulator_module, "make_reporter",
                        lambda report, total: _InterruptAfter(5, KeyboardInterrupt()))
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({**CONFIG, "run": {**CONFIG["run"],
                                                 "checkpoint_every_chunks": 0}}))
    assert cli_main(["run", "izhikevich2003", "--config", str(cfg), "--out", str(path)]) == 130
    before = path.read_bytes()
    assert cli_main(["run", "izhikevich2003", "--resume", str(path)]) == 2
    err = capsys.readouterr().err
    assert "has no checkpoint (it recorded 500 ms" in err and "file is unchanged" in err
    assert path.read_bytes() == before
    assert_prefix_of_reference(path, reference, 500)
