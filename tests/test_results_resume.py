"""Checkpoints, truncation after a crash, resumption, and incomplete runs."""
import os
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from neurosim.results import ResultsError, ResultsWriter, describe, load

DT = 0.5
ATTRS = dict(seed=11, backend="numpy", dtype="float32", dt_ms=DT)
STEPS_PER_CHUNK, TRIALS_PER_CHUNK, DECIMATION = 100, 2, 3


def chunk_data(k):
    """Deterministic content of chunk k: steps [100k, 100k + 100), trials [2k, 2k + 2)."""
    rng = np.random.default_rng(k)
    lo, hi = k * STEPS_PER_CHUNK, (k + 1) * STEPS_PER_CHUNK
    steps = np.sort(rng.integers(lo, hi, 40))
    steps[[0, -1]] = lo, hi - 1  # spikes on the very first and last step of the chunk
    series_steps = np.arange(-(-lo // DECIMATION) * DECIMATION, hi, DECIMATION)
    return dict(t=steps * DT, ids=rng.integers(0, 10, 40),
                z=series_steps[:, None] * np.ones((1, 2), np.float32),
                v=rng.normal(size=(STEPS_PER_CHUNK, 2)), trace_t=np.arange(lo, hi) * DT,
                trials={"trial": np.arange(2 * k, 2 * k + 2), "cue_step": np.array([lo, lo + 50])},
                weights=[(2 * k + j + 1, rng.normal(size=(2, 10))) for j in range(2)])


def append_chunk(run, k):
    d = chunk_data(k)
    run.append_spikes("p", d["t"], d["ids"], n_nodes=10)
    run.append_series("z", d["z"], decimation=DECIMATION)
    run.append_trace("v", d["v"], node_ids=[1, 2], times_ms=d["trace_t"])
    run.append_trials(d["trials"])
    for trial, w in d["weights"]:
        run.append_weights("w", w, trial=trial)
    run.set_attrs(duration_ms=(k + 1) * STEPS_PER_CHUNK * DT)
    run.flush()


def datasets(path):
    with h5py.File(path, "r") as f:
        out = {}
        f["runs/r"].visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset)
                               and not n.startswith("checkpoint") else None)
        return out


def write_run(path, chunks, finish=True):
    with ResultsWriter(path, "w") as w:
        run = w.create_run("r", "izhikevich2003", ATTRS, {})
        for k in range(chunks):
            append_chunk(run, k)
        if finish:
            run.finish(2.0, chunks * STEPS_PER_CHUNK * DT)


def test_checkpoint_round_trip_and_replacement(tmp_path):
    rng = np.random.default_rng(5)
    rng.normal(size=10)
    with ResultsWriter(tmp_path / "r.h5", "w") as w:
        run = w.create_run("r", "k", ATTRS, {})
        with pytest.raises(ResultsError, match="no checkpoint"):
            run.load_checkpoint()
        state = {"v": np.arange(10, dtype=np.float32), "W": np.eye(3), "flags": np.array([True, False])}
        meta = {"step": 200, "chunk_index": 1, "n_trials": 4, "rng": {"noise": rng.bit_generator.state}}
        run.save_checkpoint(state, meta)
        expected = rng.normal(size=5)
        arrays, got = run.load_checkpoint()
        assert got == meta
        for k, v in state.items():
            np.testing.assert_array_equal(arrays[k], v)
            assert arrays[k].dtype == v.dtype
        resumed = np.random.default_rng()
        resumed.bit_generator.state = got["rng"]["noise"]
        np.testing.assert_array_equal(resumed.normal(size=5), expected)

        run.save_checkpoint({"u": np.ones(4)}, {"step": 300, "chunk_index": 2})
        arrays, got = run.load_checkpoint()
        assert set(arrays) == {"u"} and got == {"step": 300, "chunk_index": 2}
        assert "checkpoint_tmp" not in run.group
        assert run.group["checkpoint"].attrs["step"] == 300
        assert run.group["checkpoint"].attrs["chunk_index"] == 2

        # crash between deleting the old checkpoint and moving the new one into place
        run.save_checkpoint({"u": np.zeros(4)}, {"step": 400})
        run.group.move("checkpoint", "checkpoint_tmp")
        arrays, got = run.load_checkpoint()
        assert got["step"] == 400 and "u" in arrays


def test_repeated_checkpoints_do_not_grow_the_file(tmp_path):
    path = tmp_path / "r.h5"
    big = {"P": np.random.default_rng(0).normal(size=(250, 500))}  # 1 MB
    with ResultsWriter(path, "w") as w:
        run = w.create_run("r", "k", ATTRS, {})
        for step in range(30):
            run.save_checkpoint(big, {"step": step})
    for session in range(5):  # and across sessions (reopened file)
        with ResultsWriter(path) as w:
            w.open_run("r").save_checkpoint(big, {"step": 100 + session})
    assert os.path.getsize(path) < 5e6


def test_truncate_to_drops_exactly_what_follows_the_checkpoint(tmp_path):
    write_run(tmp_path / "two.h5", chunks=2, finish=False)
    path = tmp_path / "crashed.h5"
    with ResultsWriter(path, "w") as w:
        run = w.create_run("r", "izhikevich2003", ATTRS, {})
        for k in range(2):
            append_chunk(run, k)
        run.save_checkpoint({"v": np.zeros(10)}, {"step": 200, "n_trials": 4, "chunk_index": 1})
        for k in range(2, 4):  # written after the checkpoint, then the process "crashed"
            append_chunk(run, k)
    with ResultsWriter(path) as w:
        run = w.open_run("r")
        _, meta = run.load_checkpoint()
        run.truncate_to(meta["step"], meta["n_trials"])
    expected, got = datasets(tmp_path / "two.h5"), datasets(path)
    assert expected.keys() == got.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert got["series/z"].shape[0] == 67  # rows at steps 0, 3, ..., 198
    assert load(path)["r"].attrs["duration_ms"] == 200 * DT


def test_resumed_run_equals_an_uninterrupted_one(tmp_path):
    write_run(tmp_path / "full.h5", chunks=4)
    path = tmp_path / "resumed.h5"
    with ResultsWriter(path, "w") as w:
        run = w.create_run("r", "izhikevich2003", ATTRS, {})
        for k in range(2):
            append_chunk(run, k)
        run.save_checkpoint({}, {"step": 200, "n_trials": 4})
        append_chunk(run, 2)
    with ResultsWriter(path) as w:
        run = w.open_run("r")
        run.truncate_to(200, 4)
        for k in range(2, 4):
            append_chunk(run, k)
        run.finish(2.0, 400 * DT)
    expected, got = datasets(tmp_path / "full.h5"), datasets(path)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert load(path)["r"].complete


def test_interrupted_run_is_marked_incomplete(tmp_path):
    path = tmp_path / "r.h5"
    write_run(path, chunks=2, finish=False)
    run = load(path)["r"]
    assert not run.complete
    assert run.series("z").shape == (67, 2)
    text = describe(path)
    assert "INCOMPLETE: run stopped at step 200" in text and "no checkpoint" in text


def test_killed_process_loses_at_most_the_chunk_in_flight(tmp_path):
    path = tmp_path / "r.h5"
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_results_resume import ResultsWriter, ATTRS, append_chunk, chunk_data
        w = ResultsWriter({str(path)!r}, "w")
        run = w.create_run("r", "izhikevich2003", ATTRS, {{}})
        for k in range(3):
            append_chunk(run, k)          # flushed
        run.append_series("z", chunk_data(3)["z"], decimation=3)  # in flight, not flushed
        os._exit(9)                       # no close, no finish: like a kill
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9, proc.stderr
    run = load(path)["r"]
    assert not run.complete
    assert len(run.trials()["trial"]) == 6
    assert run.spikes().t.max() == (3 * STEPS_PER_CHUNK - 1) * DT
    assert run.series("z").shape[0] >= 100
    assert "INCOMPLETE" in describe(path)
