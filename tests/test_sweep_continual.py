"""The continual-learning comparison runs its method x seed runs through neurosim.sweep."""
import numpy as np
import pytest

pytest.importorskip("distributed")

from neurosim.experiments import continual as C  # noqa: E402
from neurosim.sweep import read_index  # noqa: E402

TINY = {"network": {"n_neurons": 200},
        "continual": {"block_tasks": [0, 1], "trials_per_block": 20, "latency_ms": [300.0, 600.0],
                      "probe_trials": 3, "seeds": 2, "methods": ["three_factor", "ewc"]}}


def _cfg(workers):
    return {**TINY, "continual": {**TINY["continual"], "workers": workers}}


def test_continual_on_two_dask_workers_equals_one_process_and_reruns_skip(tmp_path, capsys):
    one = C.run(_cfg(1), out=tmp_path / "a" / "c.h5", figure=None, report=None)
    two = C.run(_cfg(2), out=tmp_path / "b" / "c.h5", figure=None, report=None)
    assert [(r["seed"], r["method"]) for r in two["runs"]] == \
        [(0, "three_factor"), (0, "ewc"), (1, "three_factor"), (1, "ewc")]
    for a, b in zip(one["runs"], two["runs"]):
        assert np.array_equal(a["R"], b["R"]) and np.array_equal(a["tasks"], b["tasks"])
        assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a["curves"], b["curves"]))
        assert a["ACC"] == b["ACC"] and a["trials_to_criterion"] == b["trials_to_criterion"]
    idx = read_index(tmp_path / "b" / "c_sweep.h5")["index"]
    workers = set(idx["worker"])
    assert list(idx["status"]) == ["done"] * 4 and len(workers) == 2
    again = C.run(_cfg(1), out=tmp_path / "b" / "c.h5", figure=None, report=None)
    assert "4 of 4 points already finished" not in capsys.readouterr().err   # report=None
    assert [r["ACC"] for r in again["runs"]] == [r["ACC"] for r in two["runs"]]
    assert set(read_index(tmp_path / "b" / "c_sweep.h5")["index"]["worker"]) == workers
