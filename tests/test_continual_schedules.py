"""The continual experiment's schedules (continual.schedule), forward transfer and the
intervals over seeds (neurosim/analysis/continual.py), and the schedule settings' errors.

Everything here but the last test is numpy only (no simulation)."""
import math

import numpy as np
import pytest

from neurosim.analysis.continual import (backward_transfer, backward_transfer_first_pass,
                                         first_occurrence, forward_transfer_gem, t_interval)
from neurosim.config import ConfigError
from neurosim.experiments import continual as C

K = 6


def _par(schedule, **over):
    cfg = {"continual": {"latency_ms": [150.0 + 70.0 * k for k in range(K)],
                         "schedule": schedule, "block_tasks": [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5],
                         "trials_per_block": 30,
                         "power_law": {"n_blocks": 12, "alpha": 0.8, "c": 1.0, "tau": 2.0},
                         "scole": {"n_blocks": 12, "subset_size": 2}}}
    for key, value in over.items():
        sec, _, name = key.partition("__")
        if name:
            cfg["continual"][sec][name] = value
        else:
            cfg["continual"][sec] = value
    return C.resolve(C.DEFAULT_CONFIG, cfg, open_paths=C.OPEN_PATHS,
                     bounds=C.BOUNDS)["continual"]


# ------------------------------------------------------------------ schedule structure
def test_blocks_is_the_configured_list():
    tasks, sizes = C.block_plan(_par("blocks"), seed=3)
    np.testing.assert_array_equal(tasks, [0, 1, 2, 3, 4, 5] * 2)
    np.testing.assert_array_equal(sizes, [30] * 12)


@pytest.mark.parametrize("schedule", ["power_law", "exponential", "uniform"])
def test_recurrence_schedules_structure(schedule):
    par = _par(schedule)
    seqs = []
    for seed in range(5):
        tasks, sizes = C.block_plan(par, seed)
        assert tasks.shape == (12,) and sizes.tolist() == [30] * 12
        assert tasks.min() >= 0 and tasks.max() < K
        np.testing.assert_array_equal(tasks[:K], np.arange(K))   # introductions in order
        assert np.all(tasks[1:] != tasks[:-1])                    # no immediate repeats
        np.testing.assert_array_equal(tasks, C.block_plan(par, seed)[0])   # seeded
        seqs.append(tuple(tasks))
    assert len(set(seqs)) > 1                                     # each seed its own sequence
    m = C.block_mask(tasks, K)
    assert m.shape == (12, K) and np.all(m.sum(axis=1) == 1)


def _hazard(schedule, n_blocks=40, seeds=150):
    """P(a task is chosen | it is a candidate at lag L), lags 2..7, over many sequences."""
    par = _par(schedule, power_law__n_blocks=n_blocks)
    chosen, offered = np.zeros(8), np.zeros(8)
    for seed in range(seeds):
        tasks, _ = C.block_plan(par, seed)
        last = np.arange(K)
        for b in range(K, n_blocks):
            for k in range(K):
                lag = b - last[k]
                if k != tasks[b - 1] and lag < 8:
                    offered[lag] += 1
                    chosen[lag] += tasks[b] == k
            last[tasks[b]] = b
    return chosen[2:] / offered[2:]


def test_uniform_lags_flat_power_law_decreasing():
    uni, pw, ex = _hazard("uniform"), _hazard("power_law"), _hazard("exponential")
    # uniform: every candidate (5 of them) equally likely, whatever its lag
    np.testing.assert_allclose(uni, 0.2, atol=0.04)
    # power law: the recurrence probability falls with the lag ...
    assert pw[0] > 0.3 and pw[0] > 1.5 * pw[4]
    assert np.all(np.diff(pw[:5]) < 0.02)
    # ... the exponential control falls faster (lag 2 vs 6: e^2 vs 3^0.8 in the weights)
    assert ex[0] / ex[4] > pw[0] / pw[4]


def test_scole_subsets_of_the_configured_size():
    par = _par("scole", scole__subset_size=3)
    tasks, sizes = C.block_plan(par, seed=1)
    assert tasks.shape == (12, 3) and sizes.tolist() == [30] * 12
    assert tasks.min() >= 0 and tasks.max() < K
    assert np.all(np.diff(tasks, axis=1) > 0)                     # distinct, ascending
    m = C.block_mask(tasks, K)
    assert np.all(m.sum(axis=1) == 3)
    assert not np.array_equal(tasks, C.block_plan(par, seed=2)[0])


def test_scole_block_trials_split_and_interleave():
    par = _par("scole", trials_per_block=7, scole__subset_size=3)
    seed = np.random.SeedSequence(5)
    trials = C._block_trials(par, np.array([1, 3, 4]), 7, 0.8, seed, 1.0, K)
    ks = [k for k, _ in trials]
    assert len(ks) == 7 and sorted(ks) == [1, 1, 1, 3, 3, 4, 4]   # 7 = 3 + 2 + 2
    assert ks != sorted(ks)                                        # interleaved
    for k, (ch, cue, stim) in trials:                              # each trial drives its cue
        assert ch.drive[:, k].max() > 0
        assert all(ch.drive[:, j].max() == 0 for j in range(K) if j != k)


# ------------------------------------------------------------------ metrics by hand
R = np.array([[0.8, 0.1, 0.0],
              [0.5, 0.7, 0.3],
              [0.4, 0.6, 0.9],
              [0.9, 0.2, 0.5]])
R0 = np.array([0.05, 0.0, 0.1])


def test_forward_transfer_gem_by_hand():
    # GEM order: task 1 before block 1: R[0,1] - 0.0 = 0.1; task 2: R[1,2] - 0.1 = 0.2
    assert forward_transfer_gem(R, R0) == pytest.approx((0.1 + 0.2) / 2)
    # another order: task 2 first at block 0 (left out), task 0 at 1, task 1 at 3
    first = np.array([1, 3, 0])
    assert forward_transfer_gem(R, R0, first) == pytest.approx(((0.8 - 0.05) + (0.6 - 0.0)) / 2)
    assert math.isnan(forward_transfer_gem(R, R0, np.array([0, -1, 0])))
    with pytest.raises(ValueError):
        forward_transfer_gem(R, R0[:2])


def test_first_occurrence_and_bwt_first_pass_by_hand():
    mask = np.array([[0, 0, 1], [1, 0, 0], [1, 0, 1], [0, 1, 0]], bool)
    np.testing.assert_array_equal(first_occurrence(mask), [1, 3, 0])
    # B = 3: task 0 R[3,0]-R[1,0] = 0.4, task 2 R[3,2]-R[0,2] = 0.5
    assert backward_transfer_first_pass(R, [1, 3, 0]) == pytest.approx(0.45)
    # GEM order = backward_transfer
    assert backward_transfer_first_pass(R, [0, 1, 2]) == pytest.approx(backward_transfer(R[:3]))
    np.testing.assert_array_equal(first_occurrence(np.zeros((2, 2), bool)), [-1, -1])
    assert math.isnan(backward_transfer_first_pass(R, [0, -1, -1]))


def test_t_interval_by_hand():
    # mean 2, sd 1 (ddof 1), n 3: half-width t_{0.975, 2} / sqrt 3 = 4.302653 / 1.732051
    m, lo, hi = t_interval([1.0, 2.0, 3.0])
    assert m == pytest.approx(2.0)
    assert hi - m == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert m - lo == pytest.approx(hi - m)
    # NaN dropped: [1, 3] -> mean 2, sd sqrt 2, t_{0.975, 1} = 12.7062
    m, lo, hi = t_interval([1.0, np.nan, 3.0])
    assert m == 2.0 and hi - m == pytest.approx(12.7062047 * math.sqrt(2) / math.sqrt(2),
                                                rel=1e-6)
    assert t_interval([4.0, 4.0])[1:] == (4.0, 4.0)
    m, lo, hi = t_interval([0.5])
    assert m == 0.5 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(x) for x in t_interval([np.nan]))


def test_summary_rows_carry_the_interval():
    runs = [{"method": "ewc", "seed": s, "censored": 0, "n_switches": 1,
             **{k: v for k, v in zip(C.METRICS, [a, -a, 0.0, 0.1, 5.0, 1.0, 3.0])}}
            for s, a in enumerate([1.0, 2.0, 3.0])]
    row = C.summarise(runs, ["ewc"])[0]
    assert row["ACC"] == pytest.approx(2.0)
    assert row["ACC_hi"] - row["ACC"] == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert row["memory_per_synapse_lo"] == row["memory_per_synapse_hi"] == 3.0
    assert "2.00 [" in C.format_table([row])


# ------------------------------------------------------------------ bad settings
@pytest.mark.parametrize("over,match", [
    ({"schedule": "power"}, r"continual\.schedule = 'power' is unknown; valid: blocks, "
                            r"power_law, exponential, uniform, scole"),
    ({"power_law__alpha": 2.0}, r"continual\.power_law\.alpha = 2\.0 .*collapses"),
    ({"power_law__alpha": -1.0}, r"continual\.power_law\.alpha"),
    ({"power_law__tau": 0.0}, r"continual\.power_law\.tau"),
    ({"power_law__n_blocks": 0}, r"continual\.power_law\.n_blocks"),
    ({"scole__subset_size": 7}, r"continual\.scole\.subset_size = 7 is outside \[1, 6\]"),
    ({"scole__subset_size": 0}, r"continual\.scole\.subset_size"),
    ({"scole__n_blocks": 0}, r"continual\.scole\.n_blocks"),
    ({"block_tasks": [0, 6]}, r"continual\.block_tasks .* >= 6"),
    ({"power_law__c": 0.0}, r"continual\.power_law\.c"),
])
def test_bad_schedule_settings_name_the_key(over, match):
    sched = {"power_law__alpha": "power_law", "power_law__tau": "exponential",
             "power_law__n_blocks": "uniform", "power_law__c": "power_law",
             "block_tasks": "blocks"}.get(next(iter(over)), "scole")
    over = {"schedule": sched, **over}
    with pytest.raises(ConfigError, match=match):
        C.check_schedule(_par(**over))


def test_scole_needs_a_trial_per_task():
    with pytest.raises(ConfigError, match=r"continual\.trials_per_block = 1"):
        C.check_schedule(_par("scole", trials_per_block=1))


def test_bad_schedule_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match=r"continual\.scole\.subset_size"):
        C.run({"continual": {"schedule": "scole", "scole": {"subset_size": 3}}},
              out=tmp_path / "x.h5", figure=None, report=None)
    assert not any(tmp_path.iterdir())


# ------------------------------------------------------------------ a tiny SCoLe run
def test_tiny_scole_run_end_to_end(tmp_path):
    cfg = {"network": {"n_neurons": 200},
           "continual": {"latency_ms": [150.0, 250.0, 350.0], "cue_exclusive": False,
                         "cue_fraction": 0.3, "schedule": "scole", "trials_per_block": 4,
                         "probe_trials": 1, "seeds": 2, "workers": 1,
                         "methods": ["plain_trial"],
                         "scole": {"n_blocks": 3, "subset_size": 2}}}
    out = C.run(cfg, out=tmp_path / "c.h5", figure=tmp_path / "c.png", report=None)
    r = out["runs"][0]
    assert r["tasks"].shape == (3, 2) and r["R"].shape == (3, 3) and r["R0"].shape == (3,)
    assert all(len(c) == 4 for c in r["curves"])
    row = out["table"][0]
    for k in C.METRICS:
        assert k + "_lo" in row and k + "_hi" in row
    assert (tmp_path / "c.png").exists()
