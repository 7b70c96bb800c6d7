"""pandas views: named columns, one time unit per table (said in the column names)."""
import numpy as np
import pytest

from neurosim.results import ResultsWriter, load

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("frames") / "f.h5"
    rng = np.random.default_rng(0)
    with ResultsWriter(path, "w") as w:
        r = w.create_run("r", "whatwhen", dict(seed=0, backend="numpy", dtype="float32",
                                               dt_ms=0.5, readout_names=["when", "what_A"]), {})
        r.write_nodes("reservoir", {"excitatory": np.arange(10) < 8,
                                    **{k: rng.normal(size=10) for k in "abcd"},
                                    "bias": np.ones(10), "noise_sigma": np.ones(10)})
        r.append_spikes("reservoir", [0.5, 1.0, 1.0, 7.5], [9, 0, 3, 8])
        r.append_series("rate", np.array([0.0, 200.0, 0.0, 100.0]), units="Hz")
        r.append_series("z0", rng.normal(size=(4, 2)))
        r.append_series("gate", np.array([0, 1, 1, 0.0]))
        r.append_series("slow", np.zeros((2, 2)), decimation=2)
        r.append_trials({"trial": [0, 1], "latency_ms": [400.0, np.nan], "cue_step": [1000, 1200],
                         "stim_step": [1800, -1], "start_step": [0, 2600], "n_steps": [2600, 2800]})
        r.finish(1.0, 2.0)
    return load(path)["r"]


def test_spikes_frame(run):
    df = run.to_pandas("spikes")
    assert list(df.columns) == ["time_ms", "population", "node_id", "excitatory"]
    assert df["time_ms"].tolist() == [0.5, 1.0, 1.0, 7.5] and df["node_id"].tolist() == [9, 0, 3, 8]
    assert df["excitatory"].tolist() == [False, True, True, False]
    assert run.to_pandas("spikes", time_unit="s")["time_s"].tolist() == [0.0005, 0.001, 0.001, 0.0075]


def test_series_frame_names_columns_and_units(run):
    df = run.to_pandas("series", names=["rate", "z0", "gate"])
    assert df.index.name == "time_ms" and df.index.tolist() == [0.0, 0.5, 1.0, 1.5]
    assert list(df.columns) == ["rate_hz", "z0_when", "z0_what_A", "gate"]
    assert np.array_equal(df["z0_what_A"], run.series("z0")[:, 1])
    assert df["rate_hz"].tolist() == [0.0, 200.0, 0.0, 100.0]
    with pytest.raises(ValueError, match="decimations"):
        run.to_pandas("series")          # 'slow' is decimated by 2
    assert run.to_pandas("series", names=["slow"], time_unit="s").index.tolist() == [0.0, 0.001]


def test_trials_frame_has_one_time_unit(run):
    df = run.to_pandas("trials")
    assert list(df.columns) == ["trial", "latency_ms", "cue_ms", "stim_ms", "start_ms", "duration_ms"]
    assert df["cue_ms"].tolist() == [500.0, 600.0] and np.isnan(df["stim_ms"][1])
    s = run.to_pandas("trials", time_unit="s")
    assert [c for c in s.columns if c.endswith("_ms") or "step" in c] == []
    assert s["duration_s"].tolist() == [1.3, 1.4]


def test_nodes_frame_and_errors(run):
    df = run.to_pandas("nodes")
    assert df.index.name == "node_id" and len(df) == 10
    assert list(df.columns) == ["excitatory", "a", "b", "c", "d", "bias", "noise_sigma"]
    assert df["excitatory"].sum() == 8
    with pytest.raises(ValueError, match="time_unit='h'"):
        run.to_pandas("spikes", time_unit="h")
    with pytest.raises(ValueError, match="choose one of spikes, series, trials, nodes"):
        run.to_pandas("weights")


def test_xarray_dataset_labels_columns_units_and_decimations(run):
    pytest.importorskip("xarray")
    ds = run.to_xarray(names=["rate", "z0"])
    assert ds["z0"].dims == ("time_ms", "z0_column")
    assert ds["z0_column"].values.tolist() == ["when", "what_A"]
    assert ds["time_ms"].values.tolist() == [0.0, 0.5, 1.0, 1.5]
    np.testing.assert_array_equal(ds["z0"].sel(z0_column="what_A").values, run.series("z0")[:, 1])
    assert ds["rate"].attrs["units"] == "Hz" and ds["z0"].attrs["units"] == "1"
    mixed = run.to_xarray(time_unit="s")      # 'slow' (decimation 2) gets its own time axis
    assert mixed["slow"].dims[0] == "time_s_slow"
    assert mixed["time_s_slow"].values.tolist() == [0.0, 0.001]
    assert mixed["rate"].dims[0] == "time_s_rate"
    with pytest.raises(KeyError):
        run.to_xarray(names=["nope"])
