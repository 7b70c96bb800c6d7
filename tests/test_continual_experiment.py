"""CI-sized continual experiment: N = 300, 2 tasks (A B A), 1 seed.

Interference is real for the plain (online three-factor) rule, and the table, the HDF5
results and the figure are written with sensible content.
"""
import numpy as np
import pytest

from neurosim.experiments import continual as C
from neurosim.results import load

TINY = {
    "network": {"n_neurons": 300},
    "continual": {"block_tasks": [0, 1, 0], "trials_per_block": 40, "latency_ms": [300.0, 600.0], "probe_trials": 6,
                  "seeds": 1, "workers": 1, "methods": ["three_factor", "ewc"]},
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("continual")
    out, fig = d / "continual.h5", d / "continual.png"
    summary = C.run(TINY, out=out, figure=fig, report=None)
    return summary, out, fig


def test_plain_rule_forgets_task_a(tiny_run):
    summary, _, _ = tiny_run
    r = next(x for x in summary["runs"] if x["method"] == "three_factor")
    R = r["R"]
    assert R[0, 0] >= 0.5                    # A learned
    assert R[1, 0] <= R[0, 0] - 0.3          # ... and A forgotten (interference)
    assert r["BWT"] <= -0.3


def test_outputs_written(tiny_run, capsys):
    summary, out, fig = tiny_run
    rows = summary["table"]
    assert [row["method"] for row in rows] == ["three_factor", "ewc"]
    for row in rows:
        assert 0 <= row["ACC"] <= 1 and -1 <= row["BWT"] <= 1
        assert 0 <= row["fraction_updated"] <= 1
    assert {row["method"]: row["memory_per_synapse"] for row in rows} == {
        "three_factor": 0.0, "ewc": 3.0}
    res = load(out)
    m = res["three_factor_seed0"].metrics
    assert m["accuracy_matrix"].shape == (3, 2)
    assert np.all((m["accuracy_matrix"] >= 0) & (m["accuracy_matrix"] <= 1))
    s = res["summary"].metrics
    assert s["summary_table"].shape == (2, 4 * len(C.METRICS))
    assert s["accuracy_matrix"].shape == (2, 3, 2)
    assert fig.exists() and fig.stat().st_size > 10_000


def test_table_format():
    rows = C.summarise([{"method": "plain_trial", "seed": 0, "R": np.zeros((2, 2)),
                         "tasks": np.array([0, 1]), "curves": [], "ACC": 0.5, "BWT": -0.2,
                         "BWT_rec": -0.2, "FWT": 0.1, "trials_to_criterion": 12.0, "censored": 1,
                         "n_switches": 1, "fraction_updated": 1.0, "memory_per_synapse": 0.0,
                         "wall_s": 1.0}], ["plain_trial"])
    text = C.format_table(rows)
    assert "plain_trial" in text and "0.50" in text and "(1c)" in text


def test_unknown_method_is_refused(tmp_path):
    from neurosim.config import ConfigError
    with pytest.raises(ConfigError, match="unknown"):
        C.run({"continual": {"methods": ["sgd"]}}, out=tmp_path / "x.h5", figure=None,
              report=None)
