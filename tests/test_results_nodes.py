"""Format version 2: node tables, population sizes, rate in Hz, named readouts, trial units."""
import json

import h5py
import numpy as np
import pytest

from neurosim.config import NetworkConfig, RunConfig
from neurosim.monitors import Recorder, SpikeMonitor
from neurosim.network import build_network
from neurosim.results import ResultsError, ResultsKeyError, ResultsWriter, SpikeData, load
from neurosim.results.nodes import node_attrs, node_table
from neurosim.simulator import Simulator

ATTRS = dict(seed=0, backend="numba", dtype="float32", dt_ms=0.5)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A 60-neuron network, 200 ms at dt = 0.5 ms, kept in memory and written to a file."""
    path = tmp_path_factory.mktemp("v2") / "r.h5"
    net = build_network(NetworkConfig(n_neurons=60), seed=3)
    run_cfg = RunConfig(duration_ms=200.0, chunk_ms=50.0, dt_ms=0.5, backend="numpy")
    with ResultsWriter(path, "w") as w:
        rw = w.create_run("r", "izhikevich2003", dict(ATTRS, n_neurons=60), {})
        rw.write_nodes("reservoir", node_table(net), **node_attrs(net))
        rec = Recorder(60, 0.5, writer=rw, keep_in_memory=True)
        Simulator(net, run_cfg).run(recorder=rec)
        rec.flush()
        rw.finish(1.0, 200.0)
    return net, rec, load(path)["r"]


def test_rate_is_in_hz_in_memory_and_on_disk_bit_for_bit(simulated):
    net, rec, run = simulated
    assert run.series_units("rate") == "Hz"
    assert np.array_equal(run.series("rate"), rec.rate)
    # the mean of the per-step rate is the mean firing rate of the population (Hz)
    assert run.series("rate").mean() == pytest.approx(rec.spikes.mean_rate(200.0), rel=1e-12)
    assert rec.spikes.mean_rate(200.0) > 1.0


def test_node_table_round_trips_and_sizes_the_population(simulated):
    net, rec, run = simulated
    nodes = run.nodes()
    assert nodes["excitatory"].dtype == bool and nodes["excitatory"].sum() == 48
    for k in ("a", "b", "c", "d", "bias", "noise_sigma"):
        assert np.array_equal(nodes[k], np.asarray(getattr(net, k), dtype=np.float64)), k
    assert run.node_attrs()["model"] == "izhikevich2003" and run.node_attrs()["n_nodes"] == 60
    assert run.n_nodes() == 60 and run.spikes().n_neurons == 60


def test_one_spike_record_type(simulated):
    net, rec, run = simulated
    mem, disk = rec.spikes, run.spikes()
    assert SpikeData is SpikeMonitor and type(mem) is type(disk)
    assert mem.i.dtype == disk.i.dtype == np.int64 and mem.t.dtype == disk.t.dtype == np.float64
    assert np.array_equal(mem.i, disk.i) and np.array_equal(mem.t, disk.t)
    assert disk.mean_rate(200.0) == mem.mean_rate(200.0)


def test_silent_neurons_at_the_end_are_counted(tmp_path):
    """Ids 0..7 spike, 8..9 never do: the stored size keeps the mean count honest."""
    path = tmp_path / "s.h5"
    table = {"excitatory": np.arange(10) < 8, **{k: np.zeros(10) for k in "abcd"},
             "bias": np.zeros(10), "noise_sigma": np.zeros(10)}
    with ResultsWriter(path, "w") as w:
        rw = w.create_run("r", "test", ATTRS, {})
        rw.write_nodes("reservoir", table)
        rw.append_spikes("reservoir", np.arange(8.0), np.arange(8))   # size from the nodes
        with pytest.raises(ValueError, match="node id 12 >= n_nodes = 10"):
            rw.append_spikes("reservoir", [9.0], [12])
    run = load(path)["r"]
    s = run.spikes()
    assert s.n_neurons == 10 and s.count.tolist() == [1] * 8 + [0, 0]
    assert s.count.mean() == 0.8   # not 1.0, as max(id) + 1 = 8 would give
    with h5py.File(path) as f:
        assert f["runs/r/spikes/reservoir"].attrs["n_nodes"] == 10


def test_node_table_errors(tmp_path):
    with ResultsWriter(tmp_path / "e.h5", "w") as w:
        rw = w.create_run("r", "test", ATTRS, {})
        with pytest.raises(ValueError, match="columns differ in length"):
            rw.write_nodes("p", {"a": np.zeros(3), "b": np.zeros(4)})
    run = load(tmp_path / "e.h5")["r"]
    with pytest.raises(ResultsKeyError, match="format version 1"):
        run.nodes()


def test_series_units_and_column_names(tmp_path):
    with ResultsWriter(tmp_path / "n.h5", "w") as w:
        rw = w.create_run("r", "whatwhen", dict(ATTRS, readout_names=["when", "what_A"]), {})
        rw.append_series("z0", np.zeros((4, 2)))
        rw.append_series("target", np.zeros((4, 3)))      # width differs from the names
        rw.append_series("gate", np.zeros(4), columns=None)
        rw.append_series("v", np.zeros((4, 2)), units="mV", columns=["n0", "n7"])
        with pytest.raises(ValueError, match="2 column names"):
            rw.append_series("bad", np.zeros((4, 3)), columns=["x", "y"])
    run = load(tmp_path / "n.h5")["r"]
    assert run.series_columns("z0") == ["when", "what_A"]
    assert run.series_columns("target") == ["target[0]", "target[1]", "target[2]"]
    assert run.series_columns("gate") == ["gate"]
    assert run.series_columns("v") == ["n0", "n7"] and run.series_units("v") == "mV"


def test_trial_table_in_one_unit(tmp_path):
    with ResultsWriter(tmp_path / "t.h5", "w") as w:
        rw = w.create_run("r", "whatwhen", ATTRS, {})   # dt = 0.5 ms
        rw.append_trials({"trial": [0, 1], "latency_ms": [400.0, np.nan],
                          "cue_step": [1000, 1200], "stim_step": [1800, -1],
                          "start_step": [0, 2600], "n_steps": [2600, 2800]})
    run = load(tmp_path / "t.h5")["r"]
    ms = run.trial_table("ms")
    assert list(ms) == ["trial", "latency_ms", "cue_ms", "stim_ms", "start_ms", "duration_ms"]
    assert ms["cue_ms"].tolist() == [500.0, 600.0] and ms["start_ms"].tolist() == [0.0, 1300.0]
    assert ms["stim_ms"][0] == 900.0 and np.isnan(ms["stim_ms"][1])
    s = run.trial_table("s")
    assert s["latency_s"][0] == 0.4 and s["duration_s"].tolist() == [1.3, 1.4]
    with h5py.File(tmp_path / "t.h5") as f:
        g = f["runs/r/trials"]
        assert g["cue_step"].attrs["units"] == "step" and g["latency_ms"].attrs["units"] == "ms"
        assert g.attrs["dt_ms"] == 0.5
    with pytest.raises(ValueError, match="time_unit='h'"):
        run.trial_table("h")


def test_version_1_rate_counts_are_read_in_hz_and_not_resumed(tmp_path):
    """A version-1 file stored counts per step without units: read as Hz, never appended."""
    path = tmp_path / "v1.h5"
    with ResultsWriter(path, "w") as w:
        rw = w.create_run("r", "test", dict(ATTRS, n_neurons=40), {})
        rw.append_series("rate", np.array([0, 2, 4], np.int32))
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = 1
    run = load(path)["r"]
    assert run.series("rate").tolist() == [0.0, 100.0, 200.0]   # 2 / 40 / 0.5 ms = 100 Hz
    with ResultsWriter(path, "a") as w:
        with pytest.raises(ResultsError, match="counts per step"):
            w.open_run("r").append_series("rate", np.zeros(2), units="Hz")
