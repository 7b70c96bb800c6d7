"""describe() of results files and info() of the installation."""
import numpy as np

from neurosim.results import ResultsWriter, describe, info, load

ATTRS = dict(seed=3, backend="numba", dtype="float32", dt_ms=0.1, n_neurons=5)


def test_describe_lists_runs_attributes_datasets_metrics(tmp_path):
    path = tmp_path / "r.h5"
    with ResultsWriter(path, "w") as w:
        done = w.create_run("done", "whatwhen", ATTRS, {"a": 1})
        done.append_spikes("exc", [0.1, 0.2], [1, 2])
        done.append_series("z0", np.zeros((10, 2), np.float32), decimation=5)
        done.append_trials({"identity": np.array(["A", "B"])})
        done.write_metrics(scalars={"accuracy": 0.875}, tables={"accuracy_matrix": np.eye(3)},
                           summary={"ok": True})
        done.finish(wall_time_s=3.5, duration_ms=5.0)
        stopped = w.create_run("stopped", "izhikevich2003", ATTRS, {})
        stopped.append_series("z0", np.zeros((30, 2)), decimation=1)
        stopped.save_checkpoint({"v": np.zeros(5)}, {"step": 20, "chunk_index": 1})
        stopped.set_attrs(duration_ms=3.0)
    text = describe(path)
    assert "2 runs" in text
    done_part, stopped_part = text.split("run 'stopped'")
    assert "run 'done'  kind=whatwhen  complete" in done_part
    assert "INCOMPLETE" not in done_part
    for fragment in ("seed = 3", "backend = numba", "dt_ms = 0.1",
                     "series/z0", "(10, 2)", "float32", "decimation=5",
                     "spikes/exc/timestamps", "trials/identity", "str",
                     "accuracy = 0.875", "accuracy_matrix  (3, 3) float64"):
        assert fragment in done_part, fragment
    assert "INCOMPLETE: run stopped at step 30 (t = 3 ms)" in stopped_part
    assert "checkpoint: step 20, chunk 1, 1 arrays" in stopped_part
    assert "resumable from its checkpoint at step 20" in stopped_part


def test_reading_while_a_writer_holds_the_file(tmp_path):
    path = tmp_path / "live.h5"
    with ResultsWriter(path, "w") as w:
        run = w.create_run("r", "izhikevich2003", ATTRS, {})
        run.append_series("z", np.arange(6.0))
        run.flush()
        assert "INCOMPLETE" in describe(path)  # e.g. `neurosim inspect` during a long run
        np.testing.assert_array_equal(load(path)["r"].series("z"), np.arange(6.0))


def test_info_reports_versions_and_backends():
    text = info()
    for fragment in ("neurosim ", "numpy ", "numba ", "h5py ", "backends available: numpy, numba",
                     "GPU: "):
        assert fragment in text, fragment


def test_another_process_can_read_while_the_writer_runs(tmp_path):
    import subprocess
    import sys
    path = tmp_path / "live.h5"
    with ResultsWriter(path, "w") as w:
        run = w.create_run("r", "izhikevich2003", ATTRS, {})
        run.append_series("z", np.arange(6.0))
        run.flush()
        code = ("import sys; from neurosim.results import load, describe; "
                "print(load(sys.argv[1])['r'].series('z').sum()); print(describe(sys.argv[1]))")
        proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                              text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("15.0") and "INCOMPLETE" in proc.stdout
