"""what/when --full: R10's further network seeds run through neurosim.sweep and are kept."""
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from neurosim.experiments import whatwhen  # noqa: E402
from neurosim.experiments.common import resolve  # noqa: E402
from neurosim.results import load  # noqa: E402
from neurosim.sweep import read_index  # noqa: E402

TINY = {"network": {"n_neurons": 100},
        "paradigm": {"main_trials": [20, 10], "probability_trials": 10,
                     "switch_trials": [20, 10]},
        "seeds": {"full_network_seeds": 3}}


@pytest.mark.slow
def test_full_runs_r10_seeds_as_a_sweep_and_keeps_each_seed(tmp_path):
    out = tmp_path / "ww.h5"
    summary = whatwhen.run(TINY, out=out, figure=None, report=None, full=True)
    r10 = next(r for r in summary["table"] if r["id"] == "R10")
    assert r10["value"].split(" seeds")[0].endswith("of 3")
    idx = read_index(tmp_path / "ww_seeds.h5")["index"]
    assert list(idx["field.run.seed"]) == [1, 2] and list(idx["status"]) == ["done", "done"]
    # the kept seed-2 file holds the same criteria as running that seed directly (the old path)
    kept = load(tmp_path / idx["file"][1])["main"].metrics["summary"]["criteria"]
    direct = whatwhen.run_seed(resolve(whatwhen.DEFAULT_CONFIG, TINY,
                                       bounds=whatwhen.BOUNDS), None, None, 2)["rows"]
    assert [(r["id"], r["value"], r["passed"]) for r in kept] == \
        [(r["id"], r["value"], r["passed"]) for r in direct]
