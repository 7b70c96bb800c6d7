"""SONATA export read back by libsonata: every spike and every node parameter, bit for bit."""
import subprocess
import sys

import h5py
import numpy as np
import pytest

from neurosim.experiments import izhikevich2003
from neurosim.io.sonata import export_sonata
from neurosim.results import ResultsKeyError, ResultsWriter, load

libsonata = pytest.importorskip("libsonata")

CONFIG = {"network": {"n_neurons": 80}, "run": {"duration_ms": 300.0, "chunk_ms": 100.0,
                                                "dt_ms": 1.0}}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    path = tmp_path_factory.mktemp("sonata") / "iz.h5"
    izhikevich2003.run(CONFIG, path, figure=None, report=None)
    return path


def test_libsonata_reads_every_spike_of_the_export(results, tmp_path):
    paths = export_sonata(results, tmp_path / "out")
    run = load(results).latest
    reader = libsonata.SpikeReader(str(paths["spikes"]))
    assert reader.get_population_names() == ["reservoir"]
    pop = reader["reservoir"]
    assert pop.sorting == "by_time" and pop.time_units == "ms"
    ours = run.spikes("reservoir")
    assert ours.num_spikes > 100
    theirs = pop.get_dict()
    assert np.array_equal(theirs["timestamps"], ours.t)          # bitwise float64
    assert np.array_equal(theirs["node_ids"].astype(np.int64), ours.i)
    pairs = pop.get()                                            # (node_id, t) tuples
    assert [p[0] for p in pairs] == ours.i.tolist() and [p[1] for p in pairs] == ours.t.tolist()
    # libsonata's own time window and node selection agree with ours
    window = pop.get(node_ids=[0, 1, 2, 3], tstart=100.0, tstop=200.0)
    keep = (ours.i <= 3) & (ours.t >= 100.0) & (ours.t <= 200.0)
    assert sorted(window) == sorted(zip(ours.i[keep].tolist(), ours.t[keep].tolist()))


def test_libsonata_reads_the_nodes_file(results, tmp_path):
    paths = export_sonata(results, tmp_path / "out")
    run = load(results).latest
    nodes = libsonata.NodeStorage(str(paths["nodes"])).open_population("reservoir")
    assert nodes.size == 80 == run.n_nodes()
    ours = run.nodes()
    sel = nodes.select_all()
    for k in ("a", "b", "c", "d", "bias", "noise_sigma"):
        assert np.array_equal(nodes.get_attribute(k, sel), ours[k]), k
    assert (nodes.get_attribute("ei", sel) == np.where(ours["excitatory"], "e", "i")).all()
    assert (nodes.get_attribute("ei", sel) == "e").sum() == 64
    types = np.asarray(nodes.get_attribute("node_type_id", sel)) if "node_type_id" in \
        nodes.attribute_names else None
    with h5py.File(paths["nodes"]) as f:
        type_ids = f["nodes/reservoir/node_type_id"][()]
    assert types is None or np.array_equal(types, type_ids)
    assert np.array_equal(type_ids == 0, ours["excitatory"])
    csv = paths["node_types"].read_text().split("\n")
    assert csv[0].split() == ["node_type_id", "model_type", "model_template", "ei"]
    assert csv[1].split()[0::3] == ["0", "e"] and csv[2].split()[0::3] == ["1", "i"]


def test_silent_tail_neurons_stay_in_the_nodes_file(tmp_path):
    """A population whose last neurons never spike: the nodes file still has all of them."""
    path = tmp_path / "s.h5"
    table = {"excitatory": np.arange(6) < 4, **{k: np.arange(6.0) for k in "abcd"},
             "bias": np.zeros(6), "noise_sigma": np.zeros(6)}
    with ResultsWriter(path, "w") as w:
        rw = w.create_run("r", "test", dict(seed=0, backend="numpy", dtype="float64",
                                            dt_ms=1.0), {})
        rw.write_nodes("pop", table)
        rw.append_spikes("pop", [1.0, 2.0, 2.0], [0, 3, 1])
    paths = export_sonata(path, tmp_path / "x")
    assert libsonata.NodeStorage(str(paths["nodes"])).open_population("pop").size == 6
    got = libsonata.SpikeReader(str(paths["spikes"]))["pop"].get_dict()
    assert got["timestamps"].tolist() == [1.0, 2.0, 2.0] and got["node_ids"].tolist() == [0, 3, 1]


def test_run_without_node_table_exports_spikes_only(tmp_path):
    path = tmp_path / "old.h5"
    with ResultsWriter(path, "w") as w:
        rw = w.create_run("r", "test", dict(seed=0, backend="numpy", dtype="float64",
                                            dt_ms=1.0), {})
        rw.append_spikes("pop", [1.0], [0])
    paths = export_sonata(path, tmp_path / "x")
    assert paths["nodes"] is None
    assert libsonata.SpikeReader(str(paths["spikes"]))["pop"].get() == [(0, 1.0)]
    from neurosim.io.sonata import write_nodes
    with pytest.raises(ResultsKeyError, match="no node table"):
        write_nodes(load(path)["r"], tmp_path / "n.h5")


def test_cli_export_sonata(results, tmp_path):
    out = subprocess.run([sys.executable, "-m", "neurosim.cli", "export", str(results),
                          "--format", "sonata", "--out", str(tmp_path / "cli")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"spikes: {tmp_path / 'cli' / 'spikes.h5'}" in out.stdout
    assert libsonata.SpikeReader(str(tmp_path / "cli" / "spikes.h5"))["reservoir"].get_dict()[
        "timestamps"].size == load(results).latest.spikes().num_spikes
    bad = subprocess.run([sys.executable, "-m", "neurosim.cli", "export", str(results),
                          "--format", "sonata", "--run", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "no run 'nope'" in bad.stderr and "izhikevich2003_000" in bad.stderr
