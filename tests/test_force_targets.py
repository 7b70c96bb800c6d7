"""FORCE on any target: sums of sines, arrays from .npy / .h5 files, van der Pol, callables.

Target generation is checked against hand-computed values; the experiment at N = 200-300 and
a few hundred ms (each run < 1 s once the kernels are compiled).
"""
import math

import h5py
import numpy as np
import pytest

from neurosim.cli import main
from neurosim.config import ConfigError
from neurosim.experiments import force as fs
from neurosim.experiments import force_targets as ft
from neurosim.experiments import get_experiment

TINY = {"network": {"n_neurons": 200},
        "protocol": {"settle_ms": 50.0, "train_ms": 200.0, "test_ms": 100.0},
        "evaluation": {"eval_ms": 100.0, "window_ms": 50.0}}


def tiny(**sections):
    return {**TINY, **sections}


# ------------------------------------------------------------------ target generation

def test_sum_of_sines_matches_hand_computed_values():
    spec = ft.check_target(fs.resolve_config({"target": {"components": [
        {"frequency_hz": 5.0}, {"frequency_hz": 8.0, "amplitude": 0.5, "phase": 1.0}]}})[0]
        ["target"])
    assert spec["components"][0] == {"frequency_hz": 5.0, "amplitude": 1.0, "phase": 0.0}
    t_ms = np.array([0.0, 25.0, 50.0, 125.0])
    want = [math.sin(2 * math.pi * 5 * t / 1000) + 0.5 * math.sin(2 * math.pi * 8 * t / 1000 + 1)
            for t in t_ms]
    # 25 ms: sin(pi/4) + 0.5 sin(0.4 pi + 1)
    assert want[1] == pytest.approx(math.sqrt(0.5) + 0.5 * math.sin(0.4 * math.pi + 1.0))
    got = ft.make_target(spec, t_ms)
    assert got.shape == (4, 1)
    np.testing.assert_allclose(got[:, 0], want, rtol=0, atol=1e-12)
    assert ft.is_periodic(spec) and ft.peak_frequency(spec) == 5.0


def test_shorthand_is_one_sine_and_the_default_target_is_unchanged():
    config, spec = fs.resolve_config({"target": {"frequency_hz": 8.0, "amplitude": 2.0}})
    assert spec["components"] == [{"frequency_hz": 8.0, "amplitude": 2.0, "phase": 0.0}]
    _, spec = fs.resolve_config(None)
    assert spec == {"kind": "sines",
                    "components": [{"frequency_hz": 5.0, "amplitude": 1.0, "phase": 0.0}]}
    # bitwise the expression of the former SineStream, and encoder row 0 as before
    t_ms = np.arange(62500) * 0.04
    old = 1.0 * np.sin(2.0 * np.pi * 5.0 * (np.arange(62500) * 0.04 / 1000.0))
    np.testing.assert_array_equal(ft.make_target(spec, t_ms)[:, 0], old)
    np.testing.assert_array_equal(fs.encoders(0, 50, 5e3, 2)[:1], fs.encoders(0, 50, 5e3))


DATA = np.array([[0.0, 10.0], [1.0, 20.0], [2.0, 40.0]])  # sampled every 2 ms
# linear interpolation at 0, 1, 2, 3, 4 ms by hand
WANT = np.array([[0.0, 10.0], [0.5, 15.0], [1.0, 20.0], [1.5, 30.0], [2.0, 40.0]])


def test_npy_target_is_linearly_resampled(tmp_path):
    np.save(tmp_path / "t.npy", DATA)
    config, spec = fs.resolve_config({"target": {"file": str(tmp_path / "t.npy"),
                                                 "dt_ms": 2.0}})
    assert spec["kind"] == "file"   # selected by target.file alone
    np.testing.assert_allclose(ft.make_target(spec, np.arange(5.0)), WANT, rtol=0, atol=1e-12)
    np.save(tmp_path / "one.npy", DATA[:, 1])   # 1-D: one output
    spec = dict(spec, file=str(tmp_path / "one.npy"))
    np.testing.assert_allclose(ft.make_target(spec, np.arange(5.0)), WANT[:, 1:])


def test_h5_target_is_linearly_resampled(tmp_path):
    path = tmp_path / "t.h5"
    with h5py.File(path, "w") as f:
        f["signals/z"] = DATA
    spec = fs.resolve_config({"target": {"kind": "file", "file": str(path), "dt_ms": 2.0}})[1]
    np.testing.assert_allclose(ft.make_target(spec, np.arange(5.0)), WANT, rtol=0, atol=1e-12)
    with h5py.File(path, "a") as f:
        f["other"] = DATA
    with pytest.raises(ConfigError, match="holds 2 datasets; name one as target.dataset"):
        ft.make_target(spec, np.arange(5.0))
    spec["dataset"] = "signals/z"
    np.testing.assert_allclose(ft.make_target(spec, np.arange(5.0)), WANT, rtol=0, atol=1e-12)
    spec["dataset"] = "nope"
    with pytest.raises(ConfigError, match="target.dataset = 'nope' is not in"):
        ft.make_target(spec, np.arange(5.0))


def test_vanderpol_target_and_preset():
    config, spec = fs.resolve_config({"target": {"kind": "vanderpol"}})
    assert config["network"]["gaussian_gain"] == 1e4
    assert config["force"]["feedback_gain"] == 2e4
    assert config["protocol"]["train_ms"] == 4000.0
    mine = fs.resolve_config({"target": {"kind": "vanderpol"},
                              "network": {"gaussian_gain": 3000.0}})[0]
    assert mine["network"]["gaussian_gain"] == 3000.0    # the user's setting wins
    t_ms = np.arange(0.0, 2000.0, 0.5)
    y = ft.make_target(spec, t_ms)
    assert y.shape == (t_ms.size, 2)
    # on the limit cycle: |x| peaks near 2.02 (/ 10); period of mu = 5: 11.61 units x 20 ms
    assert np.abs(y[:, 0]).max() == pytest.approx(0.2023, abs=2e-3)
    up = t_ms[1:][(y[:-1, 0] < 0) & (y[1:, 0] >= 0)]
    assert np.diff(up) == pytest.approx(11.612 * 20.0, rel=5e-3)
    # the second output is dx/dt_vdp / 10 (the derivative of the first in vdp time)
    dx = np.gradient(y[:, 0], t_ms / 20.0)
    np.testing.assert_allclose(dx[10:-10], y[10:-10, 1], atol=0.02)


# ------------------------------------------------------------------ errors name the key

def _npy(tmp_path, array, name="a.npy"):
    np.save(tmp_path / name, array)
    return str(tmp_path / name)


BAD = [
    (lambda p: {"target": {"bogus": 1}}, "unknown key 'target.bogus'"),
    (lambda p: {"target": {"components": []}}, "target.components = [] is invalid"),
    (lambda p: {"target": {"components": [{"frequency_hz": -1.0}]}},
     "target.components[0].frequency_hz = -1.0 is invalid"),
    (lambda p: {"target": {"components": [{"frequency_hz": 5.0, "amp": 1.0}]}},
     "unknown key 'target.components[0].amp'"),
    (lambda p: {"target": {"components": [{"amplitude": 1.0}]}},
     "target.components[0].frequency_hz is missing"),
    (lambda p: {"target": {"components": [{"frequency_hz": 5.0, "amplitude": 0.0}]}},
     "target.components[0].amplitude = 0.0 is invalid"),
    (lambda p: {"target": {"frequency_hz": 5.0, "components": [{"frequency_hz": 3.0}]}},
     "target.frequency_hz and target.components are both set"),
    (lambda p: {"target": {"kind": "file"}}, "target.kind = 'file' needs target.file"),
    (lambda p: {"target": {"file": str(p / "missing.npy")}}, "missing.npy': no such file"),
    (lambda p: {"target": {"file": _npy(p, np.zeros((4, 2, 2)))}}, "the array has shape (4, 2, 2)"),
    (lambda p: {"target": {"file": _npy(p, np.zeros(1))}}, "the array has shape (1, 1)"),
    (lambda p: {"target": {"file": _npy(p, np.array([0.0, np.nan, 1.0]))}}, "NaN or infinite"),
    (lambda p: {"target": {"file": _npy(p, np.zeros((10, 2))), "dt_ms": 1.0}},
     "target.file covers 9 ms"),
    (lambda p: {"target": {"file": str(p)}}, "must end in .npy, .h5 or .hdf5"),
    (lambda p: {"target": {"kind": "callable"}}, "needs a Python function"),
    (lambda p: {"target": {"kind": "sine"}}, "target.kind = 'sine' is unknown"),
    (lambda p: {"target": {"dt_ms": 0.0}}, "target.dt_ms = 0.0 is invalid"),
]


@pytest.mark.parametrize("make,message", BAD, ids=[m for _, m in BAD])
def test_bad_target_config_is_a_clear_error_before_anything_is_written(tmp_path, make, message):
    out = tmp_path / "o.h5"
    with pytest.raises(ConfigError) as err:
        fs.run(tiny(**make(tmp_path)), out, report=None)
    assert message in str(err.value), str(err.value)
    assert not out.exists()


def test_bad_callable_output_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"returned shape \(3,\)"):
        fs.run(TINY, tmp_path / "o.h5", report=None, target=lambda t: np.zeros(3))


# ------------------------------------------------------------------ end to end, small N

def test_two_output_target_runs_with_one_criteria_row_per_output(tmp_path, capsys):
    def two(t_ms):    # (n_steps, 2): a 5 Hz sine and a 3 Hz cosine at half amplitude
        return np.stack([np.sin(2 * np.pi * 5 * t_ms / 1e3),
                         0.5 * np.cos(2 * np.pi * 3 * t_ms / 1e3)], axis=1)
    out, fig = tmp_path / "two.h5", tmp_path / "two.png"
    s = fs.run(tiny(network={"n_neurons": 300}), out, figure=fig, report=None, target=two)
    names = [r["name"] for r in s["table"]]
    assert names == ["correlation[0] (1st test s)", "RMS error[0] (1st test s)",
                     "min best-lag window corr[0]", "correlation[1] (1st test s)",
                     "RMS error[1] (1st test s)", "min best-lag window corr[1]",
                     "control: no feedback, corr[0]", "control: RMS error[0]",
                     "control: no feedback, corr[1]", "control: RMS error[1]"]
    assert s["n_outputs"] == 2 and len(s["outputs"]) == 2 and np.isnan(s["peak_hz"])
    assert s["correlation"] == min(o["correlation"] for o in s["outputs"])
    assert s["target"]["kind"] == "callable" and "two" in s["target"]["callable"]
    assert "correlation[1] (1st test s)" in capsys.readouterr().out
    assert fig.stat().st_size > 10_000
    from neurosim.results import load
    main_run = next(r for r in load(out) if r.attrs["condition"] == "feedback")
    assert main_run.series("z").shape == (8750, 2) == main_run.series("target").shape
    np.testing.assert_allclose(main_run.series("target"), two(np.arange(8750) * 0.04))
    assert main_run.metrics["out1_correlation"] == pytest.approx(s["outputs"][1]["correlation"])


def test_file_target_runs_end_to_end(tmp_path):
    t = np.arange(0.0, 351.0, 0.5)   # 0.5 ms samples covering the 350 ms protocol
    path = _npy(tmp_path, np.stack([np.sin(2 * np.pi * 4 * t / 1e3)] * 2, axis=1))
    s = fs.run(tiny(target={"file": path, "dt_ms": 0.5}, evaluation={
        "eval_ms": 100.0, "window_ms": 50.0, "control": False}), tmp_path / "f.h5",
        report=None)
    assert s["n_outputs"] == 2 and len(s["table"]) == 6
    assert s["target"] == {"kind": "file", "file": path, "dataset": "", "dt_ms": 0.5}


def test_alias_force_sinusoid_runs_the_same_experiment(tmp_path, capsys):
    assert get_experiment("force_sinusoid") is get_experiment("force")
    out = tmp_path / "a.h5"
    rc = main(["run", "force_sinusoid", "--quiet", "--out", str(out),
               "--figure", str(tmp_path / "a.png"),
               "--set", "network.n_neurons=200", "--set", "protocol.settle_ms=50",
               "--set", "protocol.train_ms=200", "--set", "protocol.test_ms=100",
               "--set", "evaluation.control=false"])
    assert rc in (0, 1) and out.exists()
    assert "correlation (1st test s)" in capsys.readouterr().out


def test_default_sine_metrics_unchanged(tmp_path):
    """A 650 ms run at N = 300: the values measured with the code before targets were
    configurable (commit 6e5ea9c); the run is bitwise the same on this machine."""
    s = fs.run({"network": {"n_neurons": 300},
                "protocol": {"settle_ms": 50.0, "train_ms": 300.0, "test_ms": 300.0},
                "evaluation": {"eval_ms": 300.0, "window_ms": 100.0}}, tmp_path / "d.h5",
               report=None)
    assert s["correlation"] == pytest.approx(0.9380394440638172, rel=1e-6)
    assert s["rms"] == pytest.approx(0.2658304743975217, rel=1e-6)
    assert s["peak_hz"] == pytest.approx(5.588531494140625, rel=1e-6)
    assert s["control_correlation"] == pytest.approx(0.3900452867317707, rel=1e-6)
    assert s["rate_hz"]["train"] == pytest.approx(28.88888888888889, rel=1e-6)


def test_the_two_tone_example_config_is_valid(capsys):
    """examples/force_two_tone.toml (the settings measured to hold the two-component target)
    resolves: two components, G = 1.5e4, Q = 2e4, 4 s of training."""
    import json
    from pathlib import Path
    from neurosim.cli import main
    path = Path(__file__).resolve().parents[1] / "examples" / "force_two_tone.toml"
    assert main(["run", "force", "--config", str(path), "--show-config"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert [c["frequency_hz"] for c in cfg["target"]["components"]] == [5.0, 8.0]
    assert cfg["network"]["gaussian_gain"] == 1.5e4 and cfg["force"]["feedback_gain"] == 2e4
    assert cfg["protocol"]["train_ms"] == 4000.0
