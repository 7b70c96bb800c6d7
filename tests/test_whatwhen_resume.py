"""The what/when main job resumes: SIGKILL at a moment in any part, then ``resume`` gives the
criteria, the metrics and the datasets of an uninterrupted job (a tiny job, ~10 s each)."""
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from neurosim.config import ConfigError
from neurosim.experiments import whatwhen
from neurosim.results import ResultsWriter, load

TINY = {"network": {"n_neurons": 100},
        "paradigm": {"main_trials": [10, 4], "probability_trials": 6, "switch_trials": [6, 4]}}

# The child counts trials through the job's progress callback (R1: 60 cue trials, then the
# phases' trials) and kills itself, as the OOM killer or a lost node would, after ``kill_at``.
CHILD = """
import os, signal
from neurosim.experiments import whatwhen
class Killer:
    done = 0
    def __call__(self, n):
        self.done += n
        if self.done >= {kill_at}:
            os.kill(os.getpid(), signal.SIGKILL)
    def close(self):
        pass
whatwhen._progress = lambda report, total: Killer()
whatwhen.run({config!r}, {path!r}, figure=None, report=None)
"""


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    path = tmp_path_factory.mktemp("ww") / "whole.h5"
    summary = whatwhen.run(TINY, path, figure=None, report=None)
    return path, summary


def _wall_free(metrics):
    return {k: v for k, v in metrics.items() if "wall" not in k}


def assert_same_datasets(a, b):
    """Every run of ``a`` in ``b`` with the same series, spikes, trials, weights, metrics."""
    ra, rb = load(a), load(b)
    assert list(ra.runs) == list(rb.runs)
    for run_id, x in ra.runs.items():
        y = rb[run_id]
        assert x.complete == y.complete, run_id
        assert x.series_names == y.series_names, run_id
        for name in x.series_names:
            np.testing.assert_array_equal(x.series(name), y.series(name), err_msg=run_id)
        if x.populations:
            np.testing.assert_array_equal(x.spikes().t, y.spikes().t, err_msg=run_id)
            np.testing.assert_array_equal(x.spikes().i, y.spikes().i, err_msg=run_id)
        tx, ty = x.trials(), y.trials()
        assert list(tx) == list(ty)
        for k in tx:
            np.testing.assert_array_equal(tx[k], ty[k], err_msg=f"{run_id} trials {k}")
        for name in x.weight_names:
            np.testing.assert_array_equal(x.weights(name).data, y.weights(name).data)
        mx, my = _wall_free(x.metrics), _wall_free(y.metrics)
        assert list(mx) == list(my), run_id
        for k in mx:
            if isinstance(mx[k], np.ndarray):
                np.testing.assert_array_equal(mx[k], my[k], err_msg=f"{run_id} metrics {k}")
            else:
                assert mx[k] == my[k] or (mx[k] != mx[k] and my[k] != my[k]), (run_id, k)


@pytest.mark.parametrize("kill_at", [30, 70, 110])   # in R1, in the main phase, in a later one
def test_sigkilled_main_job_resumes_to_the_uninterrupted_result(tmp_path, uninterrupted,
                                                                kill_at):
    whole, summary = uninterrupted
    path = tmp_path / "killed.h5"
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD.format(
        kill_at=kill_at, config=TINY, path=str(path)))], capture_output=True, text=True,
        timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    before = load(path)     # cut short: the criteria (main's summary) were never written
    assert "main" not in before or "summary" not in before["main"].metrics
    resumed = whatwhen.resume(path, figure=None, report=None)
    assert resumed["table"] == summary["table"]
    assert_same_datasets(whole, path)


def test_resume_of_a_complete_job_repeats_its_table(tmp_path, uninterrupted):
    whole, summary = uninterrupted
    copy = tmp_path / "copy.h5"
    copy.write_bytes(whole.read_bytes())
    assert whatwhen.resume(copy, figure=None, report=None)["table"] == summary["table"]
    assert_same_datasets(whole, copy)


def test_resume_refuses_files_without_a_job_and_the_run_option(tmp_path, uninterrupted):
    other = tmp_path / "other.h5"
    with ResultsWriter(other, mode="w"):
        pass
    with pytest.raises(ConfigError, match="no resumable what/when main job"):
        whatwhen.resume(other, figure=None, report=None)
    with pytest.raises(ConfigError, match="--run does not apply"):
        whatwhen.resume(uninterrupted[0], run_id="main", figure=None, report=None)


def test_the_cli_resumes_whatwhen(tmp_path, uninterrupted, capsys):
    from neurosim.cli import main
    copy = tmp_path / "copy.h5"
    copy.write_bytes(uninterrupted[0].read_bytes())
    with ResultsWriter(copy, mode="a") as w:       # as if cut short in the last phase
        w.delete_run("ablation_no_gate")
    assert main(["run", "whatwhen", "--resume", str(copy), "--quiet",
                 "--figure", str(tmp_path / "f.png")]) == 0
    out = capsys.readouterr().out
    assert "R9 " in out and "results: " in str(out)
    assert_same_datasets(uninterrupted[0], copy)
    assert os.path.exists(tmp_path / "f.png")
