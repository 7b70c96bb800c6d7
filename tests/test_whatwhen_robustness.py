"""The what/when robustness grid: grid construction, clear errors, a 2-point run that resumes."""
import h5py
import numpy as np
import pytest

from neurosim.analysis.whatwhen import specificity
from neurosim.config import ConfigError
from neurosim.config import merge
from neurosim.experiments.common import resolve
from neurosim.experiments.whatwhen_robustness import DEFAULT_CONFIG, build_grid, run


def _grid(user=None, quick=False):
    return build_grid(resolve(DEFAULT_CONFIG, user or {}), quick)


def test_default_grid_matches_the_issue():
    points = _grid()
    per_seed = {k: sum(p["kind"] == k and p["seed"] == 0 for p in points)
                for k in ("gain", "latency", "timing", "probability")}
    # 15 latencies 200..900 in 50 ms steps; pairs >= 200 ms apart: 11 + 10 + ... + 1 = 66.
    # Timing, targets within 200..900: 350 -> 200 and +150..+300 (5), 600 +-150..300 (8),
    # 850 -150..-300 (4) = 17.
    # Probabilities: ordered pairs of {.2,.3,.5,.7,.8,.9} differing by >= 0.3: 9 x 2 = 18.
    assert per_seed == {"gain": 1, "latency": 66, "timing": 17, "probability": 18}
    assert sorted({p["seed"] for p in points}) == [0, 1, 2]
    assert len({p["id"] for p in points}) == len(points)
    lat = [p["latencies_ms"] for p in points if p["kind"] == "latency"]
    assert min(b - a for a, b in lat) == 200 and max(max(p) for p in lat) == 900
    shifts = {p["to"] - p["from"] for p in points if p["kind"] == "timing"}
    assert shifts == {-300, -250, -200, -150, 150, 200, 250, 300}
    probs = [(p["from"], p["to"]) for p in points if p["kind"] == "probability"]
    assert (0.8, 0.2) in probs and (0.2, 0.8) in probs and (0.5, 0.7) not in probs
    assert all(p["kind"] == "gain" for p in points[:3])   # gains first: R7 needs them


@pytest.mark.parametrize("user, field", [
    ({"robustness": {"latency_range_ms": [200.0, 980.0]}}, r"robustness.latency_range_ms\[1\]"),
    ({"robustness": {"quick_latency_pairs": [[300.0, 1200.0]]}},
     r"robustness.quick_latency_pairs\[0\]\[1\] = 1200"),
    ({"robustness": {"probabilities": [0.2, 1.5]}}, r"robustness.probabilities\[1\] = 1.5"),
    ({"robustness": {"quick_probability_switches": [[-0.1, 0.5]]}},
     r"robustness.quick_probability_switches\[0\]\[0\]"),
    ({"robustness": {"min_separation_ms": 800.0}}, "no latency pairs"),
    ({"robustness": {"probabilities": [0.5]}}, "no probability switches"),
    ({"robustness": {"seeds": 0}}, "robustness.seeds = 0"),
    ({"robustness": {"quick_timing_switches": [[300.0]]}}, "must be a pair"),
])
def test_invalid_grid_is_a_clear_error(user, field):
    quick = any(k.startswith("quick") for k in user["robustness"])
    with pytest.raises(ConfigError, match=field):
        _grid(user, quick)


@pytest.mark.parametrize("user, field", [
    ({"robustness": {"probabilities": [2.0]}}, r"robustness.probabilities\[0\]"),
    ({"paradigm": {"event_gate": "bogus"}}, "paradigm.event_gate = 'bogus'"),
    ({"paradigm": {"gate_memory_trials": 0}}, "paradigm.gate_memory_trials = 0"),
])
def test_invalid_input_touches_no_file(tmp_path, user, field):
    out = tmp_path / "rob.h5"
    with pytest.raises(ConfigError, match=field):
        run(user, out, None, report=None)
    assert not out.exists()


def test_main_job_checks_the_gate_before_touching_its_file(tmp_path):
    from neurosim.experiments import whatwhen
    out = tmp_path / "ww.h5"
    out.write_bytes(b"earlier results")
    with pytest.raises(ConfigError, match="paradigm.event_gate"):
        whatwhen.run({"paradigm": {"event_gate": "always"}}, out, None, report=None)
    assert out.read_bytes() == b"earlier results" and len(list(tmp_path.iterdir())) == 1


def test_specificity_by_hand():
    # Bumps 0.6 at 300 ms and 0.3 at 700 ms, 0.2 at 500 ms (away from both), 0.9 in the cue
    # transient (ignored); dt = 10 ms.
    trace = np.zeros(100)
    trace[2], trace[30], trace[70], trace[50] = 0.9, 0.6, 0.3, 0.2
    rows = specificity(trace, 10.0, (300.0, 700.0))
    assert [r["peak_ms"] for r in rows] == [300.0, 700.0]
    assert rows[0]["elsewhere"] == pytest.approx(0.2)
    assert rows[0]["ratio"] == pytest.approx(0.2 / 0.6)
    assert rows[1]["ratio"] == pytest.approx(0.2 / 0.3)
    trace[85] = np.nan                     # NaN (masked) steps do not count
    trace[39] = 0.7                        # inside 300's own zone: moves its peak, not elsewhere
    rows = specificity(trace, 10.0, (300.0, 700.0))
    assert rows[0]["peak_ms"] == 390.0 and rows[0]["elsewhere"] == pytest.approx(0.2)


SMALL = {"network": {"n_neurons": 200},
         "paradigm": {"main_trials": [60, 10], "switch_trials": [60, 60],
                      "probability_trials": 30},
         "robustness": {"workers": 1, "quick_latency_pairs": [[300.0, 600.0]],
                        "quick_timing_switches": [[600.0, 400.0]],
                        "quick_probability_switches": [[0.3, 0.7]]}}


def test_two_point_grid_writes_resumes_and_draws(tmp_path, capsys):
    out, fig = tmp_path / "rob.h5", tmp_path / "rob.png"
    summary = run(SMALL, out, fig, report=None, quick=True)
    ids = {r["id"] for r in summary["table"]}
    assert {"R2", "R4", "R5", "R6", "R7"} <= ids
    with h5py.File(out) as f:
        runs = f["runs"]
        assert sorted(runs) == ["gain_s0", "latency_300_600_s0", "probability_0.3_to_0.7_s0",
                                "timing_600_to_400_s0"]
        assert all(runs[r].attrs["complete"] for r in runs)
        assert runs["latency_300_600_s0/metrics"].attrs["r2_peak_ms_0"] > 150
        r7 = runs["probability_0.3_to_0.7_s0/metrics"].attrs["r7_amplitude"]
    assert fig.stat().st_size > 10_000
    capsys.readouterr()
    # rerun: every point is complete, nothing runs again, the same table comes back
    again = run(SMALL, out, None, report=None, quick=True)
    assert "4 of 4 points already complete, 0 to run" in capsys.readouterr().out
    assert again["table"] == summary["table"]
    with h5py.File(out) as f:
        assert f["runs/probability_0.3_to_0.7_s0/metrics"].attrs["r7_amplitude"] == r7
    # another config may not mix into this file
    with pytest.raises(ConfigError, match="another config"):
        run(merge(SMALL, {"learner": {"eta0": 60.0}}), out, None, report=None, quick=True)


def test_a_point_cut_by_a_crash_runs_again(tmp_path, capsys):
    out = tmp_path / "rob.h5"
    run(SMALL, out, None, report=None, quick=True)
    with h5py.File(out, "a") as f:
        f["runs/timing_600_to_400_s0"].attrs["complete"] = False
    capsys.readouterr()
    run(SMALL, out, None, report=None, quick=True)
    assert "3 of 4 points already complete, 1 to run" in capsys.readouterr().out
    with h5py.File(out) as f:
        assert f["runs/timing_600_to_400_s0"].attrs["complete"]
