"""``neurosim run force --resume``: a job killed during training (SIGKILL) or between its two
conditions continues from the checkpoint and gives the uninterrupted job's outputs, metrics
and criteria, bitwise (a tiny network, ~10 s per job)."""
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from neurosim.config import ConfigError
from neurosim.experiments import force
from neurosim.results import ResultsWriter, load

TINY = {"network": {"n_neurons": 200},
        "run": {"chunk_ms": 10.0, "checkpoint_every_chunks": 4},
        "protocol": {"settle_ms": 50.0, "train_ms": 200.0, "test_ms": 100.0},
        "evaluation": {"eval_ms": 100.0, "window_ms": 50.0}}

# The child stops itself (SIGKILL) right after its n-th checkpoint. Each condition has 35
# chunks of 10 ms, a checkpoint every 4 (8 per condition): the 5th falls in the feedback
# condition's training, the 11th in the control condition.
CHILD = """
import os, signal
from neurosim import checkpoint
from neurosim.experiments import force
save = checkpoint.Checkpointer.save
saves = []
def save_then_die(self, sim, *args, **kw):
    save(self, sim, *args, **kw)
    saves.append(sim.step)
    if len(saves) >= {kill_after}:
        os.kill(os.getpid(), signal.SIGKILL)
checkpoint.Checkpointer.save = save_then_die
force.run({config!r}, {path!r}, figure=None, report=None)
"""


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    path = tmp_path_factory.mktemp("f") / "whole.h5"
    return path, force.run(TINY, path, figure=None, report=None)


def _same(summary_a, summary_b):
    keep = ("correlation", "rms", "control_correlation", "control_rms", "rate_hz", "outputs",
            "n_rls_updates", "window_correlation", "passed")
    for k in keep:
        assert summary_a[k] == summary_b[k], k
    assert summary_a["table"] == summary_b["table"]


def _series(path):
    return {(r.attrs["condition"], name): r.series(name) for r in load(path).runs.values()
            for name in r.series_names}


@pytest.mark.parametrize("kill_after", [5, 11])   # in training; in the control condition
def test_sigkilled_force_job_resumes_to_the_uninterrupted_result(tmp_path, whole, kill_after):
    path = tmp_path / "killed.h5"
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD.format(
        kill_after=kill_after, config=TINY, path=str(path)))], capture_output=True, text=True,
        timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert not all(r.complete for r in load(path).runs.values())
    summary = force.resume(path, figure=None, report=None)
    _same(summary, whole[1])
    a, b = _series(whole[0]), _series(path)
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=str(key))
    assert all(r.complete for r in load(path).runs.values())


def test_resume_refuses_a_complete_job_and_a_python_target(tmp_path, whole):
    copy = tmp_path / "copy.h5"
    copy.write_bytes(whole[0].read_bytes())
    with pytest.raises(Exception, match="no incomplete|complete"):
        force.resume(copy, figure=None, report=None)
    other = tmp_path / "py.h5"
    with ResultsWriter(other, "w"):
        pass
    with pytest.raises(Exception):
        force.resume(other, figure=None, report=None)


def test_a_python_target_job_is_marked_not_resumable(tmp_path):
    path = tmp_path / "py.h5"
    force.run(TINY, path, figure=None, report=None,
              target=lambda t: np.sin(2 * np.pi * t / 200.0))
    assert all("experiment_config" not in r.attrs for r in load(path).runs.values())
    with ResultsWriter(path, "a") as w:          # as if cut short
        w.open_run(w.run_ids[-1]).set_attrs(complete=False)
    with pytest.raises(ConfigError, match="cannot resume"):
        force.resume(path, figure=None, report=None)
