"""FORCE reproduces Nicola & Clopath's (2017) 5 Hz sine (shortened protocol 0.5/1/1 s, N = 2000).

Chaotic dynamics: thresholds only, never stored traces. Each seed is two runs of 62,500 steps
(with feedback, and the no-feedback control), ~10-22 s per seed on 2 shared cores.
"""
import numpy as np
import pytest

from neurosim.analysis.oscillation import (best_lag_correlation, pearson, rms_error,
                                           spectral_peak, windowed_best_lag_correlation)
from neurosim.experiments import force as fs


# ------------------------------------------------------------------ analysis (fast)

def test_oscillation_measures_on_known_signals():
    dt = 0.5
    t = np.arange(4000) * dt  # 2 s
    target = np.sin(2 * np.pi * 5.0 * t / 1000.0)
    z = np.sin(2 * np.pi * 5.0 * (t - 30.0) / 1000.0)  # lags the target by 30 ms
    assert pearson(target, target) == pytest.approx(1.0)
    assert pearson(-target, target) == pytest.approx(-1.0)
    assert np.isnan(pearson(np.ones(10), np.arange(10.0)))
    assert rms_error(target, target) == 0.0
    assert rms_error(np.zeros_like(target), target) == pytest.approx(np.sqrt(0.5), rel=1e-3)
    c, lag = best_lag_correlation(z, target, dt, max_lag_ms=100.0)
    assert c == pytest.approx(1.0, abs=1e-9) and lag == pytest.approx(30.0)
    c, lag = best_lag_correlation(target, z, dt, max_lag_ms=100.0)
    assert lag == pytest.approx(-30.0)
    w = windowed_best_lag_correlation(z, target, dt, window_ms=500.0, max_lag_ms=100.0)
    np.testing.assert_allclose(w["start_ms"], [0, 500, 1000, 1500])
    np.testing.assert_allclose(w["correlation"], 1.0, atol=1e-9)
    np.testing.assert_allclose(w["lag_ms"], 30.0)
    for f in (4.8, 5.0, 5.05, 7.3):
        x = np.sin(2 * np.pi * f * t[:2000] / 1000.0)  # 1 s: peak located well below 1 Hz
        peak, frac = spectral_peak(x, dt)
        assert peak == pytest.approx(f, abs=0.05) and frac > 0.95
    with pytest.raises(ValueError):
        pearson(np.zeros(3), np.zeros(4))


def test_sine_stream_phases():
    sine = lambda t_ms: np.sin(2 * np.pi * 5.0 * t_ms / 1000.0)[:, None]  # noqa: E731
    s = fs.TargetStream(0.04, 100.0, 500.0, 1000.0, 1000.0, sine)
    assert s.total_steps == 62500 and list(s.bounds) == [0, 12500, 37500, 62500]
    chunks = list(s)
    assert sum(c.n_steps for c in chunks) == s.total_steps
    assert chunks[3].target.shape == (2500, 1)
    np.testing.assert_array_equal(chunks[3].target, sine(np.arange(7500, 10000) * 0.04))
    assert [p for p, _, _ in s.chunks].count("train") == 10
    assert s.gate.sum() == 25000 and s.gate[12499] == 0 and s.gate[12500] == 1
    enc = fs.encoders(0, 2000, 5000.0)
    assert enc.shape == (1, 2000) and np.abs(enc).max() <= 5000.0
    np.testing.assert_array_equal(enc, fs.encoders(0, 2000, 5000.0))  # seeded
    assert not np.array_equal(enc, fs.encoders(1, 2000, 5000.0))


# ------------------------------------------------------------------ the reproduction

@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow),
                                  pytest.param(2, marks=pytest.mark.slow)])
def test_force_sinusoid_short_protocol(seed, tmp_path, capsys):
    """Through the experiment (feedback run + no-feedback control, HDF5, figure).

    Seeds 1 and 2 are marked slow: the 3 seeds took 42-66 s of wall time on 2 shared cores
    (35 s of CPU); seed 0 alone 10-22 s."""
    out, fig = tmp_path / "fs.h5", tmp_path / "fs.png"
    summary = fs.run({"run": {"seed": seed}}, out, figure=fig, report=None)
    printed = capsys.readouterr().out
    with capsys.disabled():
        print(f"\nseed {seed}: corr {summary['correlation']:.4f} rms {summary['rms']:.4f} "
              f"peak {summary['peak_hz']:.3f} Hz windows "
              f"{np.round(summary['window_correlation'], 4)}; control corr "
              f"{summary['control_correlation']:.4f}; loop {summary['loop_wall_s']:.1f} s, "
              f"total {summary['process_wall_s']:.1f} s")
    assert "correlation (1st test s)" in printed and "PASS" in printed
    assert summary["correlation"] >= 0.90, summary
    assert summary["rms"] <= 0.30, summary
    assert abs(summary["peak_hz"] - 5.0) <= 0.2, summary
    assert summary["control_correlation"] <= 0.5, summary  # no feedback: fails
    assert summary["passed"] and all(r["passed"] is not False for r in summary["table"])
    assert fig.stat().st_size > 10_000
    from neurosim.results import load
    results = load(out)
    assert len(results) == 2
    main, control = (next(r for r in results if r.attrs["condition"] == c)
                     for c in ("feedback", "control"))
    assert main.complete and control.complete
    assert main.series("z").shape == (62500, 1) == main.series("target").shape
    assert main.metrics["correlation"] == pytest.approx(summary["correlation"])
    assert control.metrics["correlation"] == pytest.approx(summary["control_correlation"])
    assert main.config["force"]["feedback_gain"] == 5000.0
    assert control.config["force"]["feedback_gain"] == 0.0
