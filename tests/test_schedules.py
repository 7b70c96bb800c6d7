"""Task schedules for continual learning (paradigms/schedules.py)."""
import numpy as np
import pytest

from neurosim.paradigms.schedules import (BlockSchedule, fit_power_law_alpha, fixed_blocks,
                                          power_law_recurrence, power_law_rehearsal,
                                          scole_sequence, switch_trials)


# ---------------------------------------------------------------- fixed blocks
def test_fixed_blocks_switch_points():
    s = fixed_blocks([0, 1, 1, 2, 0], [10, 20, 30, 40, 50])
    assert isinstance(s, BlockSchedule)
    np.testing.assert_array_equal(s.tasks, [0, 1, 1, 2, 0])
    np.testing.assert_array_equal(s.block_starts, [0, 10, 30, 60, 100])
    np.testing.assert_array_equal(s.switch_trials, [10, 60, 100])   # no switch 1 -> 1
    assert s.n_trials == 150
    per_trial = s.task_of_trial()
    assert per_trial.shape == (150,)
    assert per_trial[9] == 0 and per_trial[10] == 1 and per_trial[149] == 0
    np.testing.assert_array_equal(switch_trials([0, 1, 0], 100), [100, 200])


# ---------------------------------------------------------------- power-law recurrence
@pytest.mark.parametrize("alpha,seed", [(0.5, 11), (1.0, 12)])
def test_ml_fit_recovers_alpha(alpha, seed):
    s = power_law_recurrence(10, 5000, alpha, seed=seed)
    assert abs(fit_power_law_alpha(s) - alpha) < 0.1


def test_ml_fit_with_offset_c():
    s = power_law_recurrence(8, 5000, 0.8, c=3.0, seed=5)
    assert abs(fit_power_law_alpha(s, c=3.0) - 0.8) < 0.15


def test_uniform_control_fits_alpha_near_zero():
    s = power_law_recurrence(10, 5000, 1.0, kind="uniform", seed=3)
    assert fit_power_law_alpha(s) < 0.1


@pytest.mark.parametrize("kind", ["power", "exponential", "uniform"])
def test_no_immediate_repeats_and_intro_order(kind):
    s = power_law_recurrence(6, 2000, 0.9, kind=kind, tau=20.0, seed=1)
    assert s.shape == (2000,) and s.dtype == np.int64
    np.testing.assert_array_equal(s[:6], np.arange(6))
    assert not np.any(s[1:] == s[:-1])
    assert s.min() == 0 and s.max() == 5


def test_exponential_control_prefers_recent_tasks_more_than_power():
    p = power_law_recurrence(10, 4000, 0.5, seed=2)
    e = power_law_recurrence(10, 4000, 0.5, kind="exponential", tau=3.0, seed=2)
    # exponential with a short scale concentrates on few tasks; power law keeps all alive
    assert np.bincount(e, minlength=10).min() < 20 < np.bincount(p, minlength=10).min()


@pytest.mark.parametrize("alpha,c", [(1.5, 1.0), (2.0, 1.0), (3.0, 0.5)])
def test_collapse_guard(alpha, c):
    with pytest.raises(ValueError, match=r"alpha = .*collapses"):
        power_law_recurrence(10, 100, alpha, c=c, seed=0)
    power_law_recurrence(10, 100, alpha, c=2.0, seed=0)   # an offset c > 1 is allowed


def test_recurrence_seeded():
    a = power_law_recurrence(7, 500, 0.7, seed=42)
    np.testing.assert_array_equal(a, power_law_recurrence(7, 500, 0.7, seed=42))
    np.testing.assert_array_equal(
        a, power_law_recurrence(7, 500, 0.7, seed=np.random.default_rng(42)))
    assert not np.array_equal(a, power_law_recurrence(7, 500, 0.7, seed=43))


# ---------------------------------------------------------------- rehearsal
@pytest.mark.parametrize("alpha,budget", [(0.0, 7), (0.7, 30), (1.0, 20), (2.0, 101)])
def test_rehearsal_budget_and_decay(alpha, budget):
    r = power_law_rehearsal(9, alpha, budget, new_trials=50)
    assert r.shape == (9, 9) and r.dtype == np.int64
    np.testing.assert_array_equal(np.diag(r), 50)
    assert np.all(np.triu(r, 1) == 0)
    assert r[0].sum() == 50                       # nothing to rehearse in block 0
    for b in range(1, 9):
        shares = r[b, :b]                         # tasks 0 (oldest) .. b-1 (newest)
        assert shares.sum() == budget             # exactly, largest remainder
        assert np.all(np.diff(shares) >= 0)       # never more trials for an older task
        w = np.arange(b, 0, -1.0) ** -alpha        # age ** -alpha, oldest first
        quota = budget * w / w.sum()
        assert np.all(np.abs(shares - quota) < 1)


def test_rehearsal_strictly_favours_recent_when_budget_allows():
    r = power_law_rehearsal(5, 1.0, 1000)
    assert np.all(np.diff(r[4, :4]) > 0)


# ---------------------------------------------------------------- SCoLe
def test_scole_masks():
    subsets, mask = scole_sequence(10, 300, 3, seed=4)
    assert subsets.shape == (300, 3) and mask.shape == (300, 10) and mask.dtype == bool
    assert np.all(mask.sum(axis=1) == 3)
    assert np.all(np.diff(subsets, axis=1) > 0)
    for t in range(300):
        np.testing.assert_array_equal(np.flatnonzero(mask[t]), subsets[t])
    counts = mask.sum(axis=0)                     # every condition re-occurs, roughly evenly
    assert counts.min() > 60 and counts.max() < 120
    s2, m2 = scole_sequence(10, 300, 3, seed=4)
    np.testing.assert_array_equal(mask, m2)
    assert not np.array_equal(mask, scole_sequence(10, 300, 3, seed=5)[1])


# ---------------------------------------------------------------- bad arguments
BAD = [
    (lambda: fixed_blocks([], 10), r"fixed_blocks\.tasks .* empty"),
    (lambda: fixed_blocks([0, -1], 10), r"fixed_blocks\.tasks\[1\] = -1 is outside"),
    (lambda: fixed_blocks([0, 1], 0), r"fixed_blocks\.trials_per_block = 0"),
    (lambda: fixed_blocks([0, 1], [5]), r"fixed_blocks\.trials_per_block .*length 1"),
    (lambda: power_law_recurrence(1, 10, 0.5, seed=0), r"n_tasks = 1 is outside \[2, inf\)"),
    (lambda: power_law_recurrence(5, 0, 0.5, seed=0), r"n_blocks = 0"),
    (lambda: power_law_recurrence(5, 10, -0.5, seed=0), r"alpha = -0\.5 is outside"),
    (lambda: power_law_recurrence(5, 10, float("nan"), seed=0), r"alpha = nan is not finite"),
    (lambda: power_law_recurrence(5, 10, 0.5, c=0.0, seed=0), r"\.c = 0\.0 is outside \(0, inf\)"),
    (lambda: power_law_recurrence(5, 10, 0.5, kind="zipf", seed=0), r"kind = 'zipf'"),
    (lambda: power_law_recurrence(5, 10, 0.5, kind="exponential", seed=0), r"tau = None"),
    (lambda: power_law_recurrence(5, 10, 0.5), r"seed = None"),
    (lambda: fit_power_law_alpha([0, 1, 1, 2]), r"schedule has immediate repeats \(first at block 2\)"),
    (lambda: fit_power_law_alpha([0, 1, 0, 1]), r"schedule has 2 distinct tasks; needs >= 3"),
    (lambda: fit_power_law_alpha([0, 1, 2, 0], bounds=(2, 1)), r"bounds .*lower < upper"),
    (lambda: power_law_rehearsal(0, 1.0, 10), r"power_law_rehearsal\.n_tasks = 0"),
    (lambda: power_law_rehearsal(3, -1.0, 10), r"power_law_rehearsal\.alpha = -1\.0"),
    (lambda: power_law_rehearsal(3, 1.0, 2.5), r"power_law_rehearsal\.budget = 2\.5 is not an integer"),
    (lambda: scole_sequence(5, 10, 6, seed=0), r"subset_size = 6 is outside \[1, 5\]"),
    (lambda: scole_sequence(5, 0, 2, seed=0), r"scole_sequence\.n_tasks = 0"),
]


@pytest.mark.parametrize("call,match", BAD, ids=[m for _, m in BAD])
def test_bad_arguments_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call()
