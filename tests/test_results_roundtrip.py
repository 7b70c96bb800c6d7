"""Write -> load round trips of every dataset type of the results format."""
import json
import sys

import h5py
import numpy as np
import pytest

from neurosim.results import FORMAT_VERSION, ResultsError, ResultsWriter, load

ATTRS = dict(seed=7, backend="numba", dtype="float32", dt_ms=0.5, n_neurons=20)
CONFIG = {"network": {"n": 20, "excitatory_fraction": 0.8}, "tau": (1.0, 2.0), "x": np.float32(1.5)}


def write_chunks(path, chunks):
    """Write the same synthetic data either in several chunks or in one (chunks=1)."""
    rng = np.random.default_rng(0)
    n_steps, n_trials = 400, 8
    t = np.sort(rng.uniform(0, n_steps * 0.5, 300))
    ids = rng.integers(0, 20, 300)
    z = rng.normal(size=(n_steps // 2, 3)).astype(np.float32)
    v = rng.normal(size=(n_steps, 4))
    trials = {"trial": np.arange(n_trials), "identity": np.array(list("ABAB" * 2)),
              "occurred": np.arange(n_trials) % 3 != 0, "latency_ms": np.full(n_trials, 400.0)}
    w = rng.normal(size=(n_trials, 3, 20))
    with ResultsWriter(path, "w") as writer:
        run = writer.create_run("run-1", "whatwhen", ATTRS, CONFIG)
        for k in range(chunks):
            lo, hi = k * n_steps // chunks, (k + 1) * n_steps // chunks
            sel = (t >= lo * 0.5) & (t < hi * 0.5)
            run.append_spikes("reservoir", t[sel], ids[sel], n_nodes=20)
            run.append_series("z", z[lo // 2:hi // 2], decimation=2)
            run.append_trace("v", v[lo:hi], node_ids=[0, 3, 5, 7], times_ms=np.arange(lo, hi) * 0.5)
            tl, th = k * n_trials // chunks, (k + 1) * n_trials // chunks
            run.append_trials({c: col[tl:th] for c, col in trials.items()})
            for trial in range(tl, th):
                run.append_weights("w_out", w[trial], trial=trial + 1)
            run.flush()
        run.write_metrics(scalars={"accuracy": 0.9, "n_switches": 3},
                          tables={"accuracy_matrix": np.eye(2)}, summary={"R1": True, "peak_ms": 394.5})
        run.finish(wall_time_s=1.25, duration_ms=n_steps * 0.5)
    return dict(t=t, ids=ids, z=z, v=v, trials=trials, w=w)


def assert_file_equal(a, b):
    """Every dataset and attribute equal, except the creation time."""
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names_a, names_b = [], []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        assert names_a == names_b
        for name in names_a:
            if isinstance(fa[name], h5py.Dataset):
                np.testing.assert_array_equal(fa[name][()], fb[name][()], err_msg=name)
            attrs_a = {k: v for k, v in fa[name].attrs.items() if k != "created"}
            attrs_b = {k: v for k, v in fb[name].attrs.items() if k != "created"}
            assert attrs_a.keys() == attrs_b.keys(), name
            for key in attrs_a:
                np.testing.assert_array_equal(attrs_a[key], attrs_b[key], err_msg=f"{name}@{key}")


def test_round_trip_every_dataset_type(tmp_path):
    src = write_chunks(tmp_path / "r.h5", chunks=3)
    results = load(tmp_path / "r.h5")
    assert list(results.runs) == ["run-1"] and results.latest is results["run-1"]
    run = results["run-1"]
    assert run.complete and run.kind == "whatwhen"
    for k, v in ATTRS.items():
        assert run.attrs[k] == v
    assert run.attrs["entropy"] == "7" and run.attrs["wall_time_s"] == 1.25
    assert run.attrs["duration_ms"] == 200.0
    assert run.config == json.loads(json.dumps({"network": {"n": 20, "excitatory_fraction": 0.8},
                                                "tau": [1.0, 2.0], "x": 1.5}))
    assert results.attrs["format"] == "neurosim-results" and results.attrs["format_version"] == FORMAT_VERSION

    spikes = run.spikes("reservoir")
    order = np.argsort(src["t"], kind="stable")
    np.testing.assert_array_equal(spikes.t, src["t"][order])
    np.testing.assert_array_equal(spikes.i, src["ids"][order])
    np.testing.assert_array_equal(spikes.count, np.bincount(src["ids"], minlength=20))
    trains = spikes.spike_trains()
    assert len(trains) == 20
    np.testing.assert_array_equal(trains[3], np.sort(src["t"][src["ids"] == 3]))

    np.testing.assert_array_equal(run.series("z"), src["z"])
    assert run.series("z").dtype == np.float32
    np.testing.assert_allclose(run.series_times("z"), np.arange(200) * 1.0)
    trace = run.traces("v")
    np.testing.assert_array_equal(trace.data, src["v"])
    np.testing.assert_array_equal(trace.node_ids, [0, 3, 5, 7])

    trials = run.trials()
    assert list(trials) == ["trial", "identity", "occurred", "latency_ms"]  # written order
    for col, values in src["trials"].items():
        np.testing.assert_array_equal(trials[col], values)
    assert trials["identity"].dtype.kind == "U" and trials["occurred"].dtype == bool

    snaps = run.weights("w_out")
    np.testing.assert_array_equal(snaps.data, src["w"])
    np.testing.assert_array_equal(snaps.trial, np.arange(1, 9))

    m = run.metrics
    assert m["accuracy"] == 0.9 and m["n_switches"] == 3
    np.testing.assert_array_equal(m["accuracy_matrix"], np.eye(2))
    assert m["summary"] == {"R1": True, "peak_ms": 394.5}


def test_chunked_appends_equal_one_big_write(tmp_path):
    write_chunks(tmp_path / "many.h5", chunks=4)
    write_chunks(tmp_path / "one.h5", chunks=1)
    assert_file_equal(tmp_path / "many.h5", tmp_path / "one.h5")


def test_appendable_datasets_are_chunked_compressed_resizable(tmp_path):
    write_chunks(tmp_path / "r.h5", chunks=2)
    with h5py.File(tmp_path / "r.h5", "r") as f:
        run = f["runs/run-1"]
        for name in ("spikes/reservoir/timestamps", "series/z", "traces/v/data",
                     "trials/identity", "weights/w_out/data"):
            ds = run[name]
            assert ds.chunks is not None and ds.compression == "gzip", name
            assert ds.maxshape[0] is None, name
        assert run["spikes/reservoir"].attrs["sorting"] == "time"
        assert run["spikes/reservoir/node_ids"].dtype == np.uint32


def test_all_populations_merge_with_offsets_and_runs_accumulate(tmp_path):
    path = tmp_path / "r.h5"
    with ResultsWriter(path, "w") as w:
        run = w.create_run("a", "izhikevich2003", ATTRS, {})
        run.append_spikes("exc", [1.0, 3.0], [0, 7], n_nodes=8)
        run.append_spikes("inh", [2.0], [1], n_nodes=2)
        run.append_spikes("silent", [], [], n_nodes=5)
    with ResultsWriter(path) as w:  # default mode "a" adds a run to the same file
        w.create_run("b", "izhikevich2003", {**ATTRS, "seed": 2**80}, {})
    results = load(path)
    assert list(results.runs) == ["a", "b"]
    assert results["b"].attrs["entropy"] == str(2**80)
    s = results["a"].spikes()
    np.testing.assert_array_equal(s.t, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(s.i, [0, 9, 7])
    assert s.n_neurons == 15 and s.count.shape == (15,)
    assert len(results["a"].spikes("silent")) == 0
    with pytest.raises(KeyError, match="populations?.*exc, inh, silent"):
        results["a"].spikes("nope")
    with pytest.raises(KeyError, match="runs: a, b"):
        results["zzz"]


def test_writer_rejects_inconsistent_appends(tmp_path):
    with ResultsWriter(tmp_path / "r.h5", "w") as w:
        with pytest.raises(ValueError, match="needs attrs"):
            w.create_run("x", "k", {"seed": 1}, {})
        run = w.create_run("x", "k", ATTRS, {})
        with pytest.raises(ValueError, match="already exists"):
            w.create_run("x", "k", ATTRS, {})
        run.append_spikes("p", [5.0], [1])
        with pytest.raises(ValueError, match="time order"):
            run.append_spikes("p", [4.0], [1])
        run.append_trials({"a": [1, 2], "b": [3, 4]})
        with pytest.raises(ValueError, match="differ"):
            run.append_trials({"a": [1]})
        with pytest.raises(ValueError, match="length"):
            run.append_trials({"a": [1], "b": [1, 2]})
        run.append_series("z", np.zeros((3, 2)), decimation=2)
        with pytest.raises(ValueError, match="decimation"):
            run.append_series("z", np.zeros((3, 2)), decimation=1)
        with pytest.raises(ValueError, match="shape"):
            run.append_series("z", np.zeros((3, 5)), decimation=2)


def test_to_pandas_without_pandas_names_the_io_extra(tmp_path, monkeypatch):
    write_chunks(tmp_path / "r.h5", chunks=1)
    run = load(tmp_path / "r.h5").latest
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    with pytest.raises(ImportError, match=r"neurosim\[io\]"):
        run.to_pandas("trials")
    with pytest.raises(ValueError, match="spikes"):
        run.to_pandas("weights")


def test_to_pandas_when_available(tmp_path):
    pd = pytest.importorskip("pandas")
    src = write_chunks(tmp_path / "r.h5", chunks=1)
    run = load(tmp_path / "r.h5").latest
    assert isinstance(run.to_pandas("trials"), pd.DataFrame)
    assert len(run.to_pandas("spikes")) == src["t"].size


def test_large_config_and_no_pickle(tmp_path):
    config = {"schedule": [{"block": k, "latency_ms": [400.0, 800.0]} for k in range(5000)]}
    with ResultsWriter(tmp_path / "r.h5", "w") as w:
        w.create_run("r", "whatwhen", ATTRS, config)
    assert load(tmp_path / "r.h5")["r"].config == config
    with pytest.raises(TypeError, match="JSON"):
        with ResultsWriter(tmp_path / "r2.h5", "w") as w:
            w.create_run("r", "whatwhen", ATTRS, {"f": object()})
    assert not issubclass(ResultsError, KeyError) and issubclass(ResultsError, ValueError)
