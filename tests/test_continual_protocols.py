"""Continual-learning metrics and the synthetic linear-readout protocol (CONTINUAL.md).

Protocol (neurosim/analysis/_linear_protocol.py): 16 shared + 8 private features per task,
4 latent dimensions, 2 outputs, batches of 8 samples per trial, 1000 trials per block,
target noise 0.3; task seed 1, run seed 0, hyper-parameters ``CALIBRATED``.
Measured (2 tasks): retention plain 0.42; CLASSP 0.997 (B 0.999); EWC and fast/slow 0.999
(B 0.994). 8 tasks: BWT plain -0.87, CLASSP -0.04 (EWC -0.006). Bounds fixed after that.
With beta = 1 and no decay, fast/slow follows the same trajectory as online EWC (its pull
acts on W_fast - anchor = W_eff - W*), so their numbers coincide here. Its fast/slow settings
(measured 2026-12-02, 2 tasks, CALIBRATED otherwise): beta 0.5 kept A at 0.755 (what is not
consolidated decays or is overwritten: by design); decay 0.001 at 0.989, decay 0.01 at 0.83,
and with decay 0.01 the 8-task run (500 trials a block) diverged: the decay leaves a residual
error, so the importance (mean U**2, gamma = 1) grows faster: eta * lam * max I was 2.7
after block 7 (1.7 after block 8 without decay), past the explicit step's limit of 2 for the
raw lam of this protocol (the learner normalises lam by max I and cannot run away like this).
"""
import math

import numpy as np
import pytest

from neurosim.analysis import _linear_protocol as lp
from neurosim.analysis.continual import (accuracy_matrix, average_accuracy, backward_transfer,
                                         forward_transfer, fraction_updated,
                                         trials_to_criterion)

# ----------------------------------------------------------------------------- metrics


def test_accuracy_matrix_pads_unseen_tasks():
    R = accuracy_matrix([[0.9], [0.5, 0.8], {0: 0.4, 2: 0.7}])
    assert R.shape == (3, 3)
    np.testing.assert_array_equal(R[0], [0.9, np.nan, np.nan])
    np.testing.assert_array_equal(R[2], [0.4, np.nan, 0.7])
    assert accuracy_matrix([[1.0]], n_tasks=4).shape == (1, 4)
    with pytest.raises(ValueError):
        accuracy_matrix([[1.0, 1.0]], n_tasks=1)


R3 = np.array([[0.9, 0.1, 0.0],
               [0.6, 0.8, 0.2],
               [0.3, 0.7, 1.0]])


def test_average_accuracy_gem():
    assert average_accuracy(R3, 0) == pytest.approx(0.9)
    assert average_accuracy(R3, 1) == pytest.approx(0.7)
    assert average_accuracy(R3) == pytest.approx(2.0 / 3)
    assert average_accuracy(R3, 2, tasks_seen=[0, 2]) == pytest.approx(0.65)


def test_backward_transfer():
    # ((0.3 - 0.9) + (0.7 - 0.8)) / 2
    assert backward_transfer(R3) == pytest.approx(-0.35)
    assert backward_transfer(np.eye(3)) == pytest.approx(-1.0)      # total forgetting
    assert backward_transfer(np.ones((3, 3))) == 0.0                # none
    assert math.isnan(backward_transfer(np.ones((1, 1))))
    with pytest.raises(ValueError):
        backward_transfer(np.ones((2, 3)))


def test_forward_transfer():
    assert forward_transfer([0.5, 0.9, 0.7], [0.5, 0.6, 0.8]) == pytest.approx((0.3 - 0.1) / 3)
    assert forward_transfer([np.nan, 0.9], [0.5, 0.5]) == pytest.approx(0.4)


def test_trials_to_criterion():
    curve = [0.1, 0.9, 0.2, 0.9, 0.95, 1.0]
    assert trials_to_criterion(curve, 0.9) == 2             # trial 2 (1-based) meets it
    assert trials_to_criterion(curve, 0.9, window=2) == 5   # mean(curve[3:5]) = 0.925
    assert trials_to_criterion(curve, 0.9, window=3) == 6   # mean(curve[3:6]) = 0.95
    assert trials_to_criterion(curve, 0.99, window=2) is None
    assert trials_to_criterion([3.0, 1.0, 0.5], 1.0, higher_is_better=False) == 2
    assert trials_to_criterion([1.0], 0.5, window=2) is None
    with pytest.raises(ValueError):
        trials_to_criterion(curve, 0.5, window=0)


def test_fraction_updated():
    before = np.zeros((2, 2))
    after = np.array([[0.0, 1e-9], [2.0, -1.0]])
    assert fraction_updated(before, after) == 0.75
    assert fraction_updated(before, after, tol=1e-6) == 0.5

# ----------------------------------------------------------------------------- protocol


def _two_task_run(method, task_seed=1):
    tasks = lp.make_tasks(2, seed=task_seed)
    R, learner = lp.run_sequence(method, tasks, [0, 1], lp.CALIBRATED[method], seed=0)
    return R[1, 0] / R[0, 0], R[1, 1], learner


def test_interference_is_real():
    retention, learned_b, _ = _two_task_run("plain")
    assert retention <= 0.6          # measured 0.42
    assert learned_b >= 0.95         # plain learns B well: the loss is forgetting, not capacity


@pytest.mark.parametrize("method", ["classp", "ewc", "fast_slow"])
def test_method_keeps_a_while_learning_b(method):
    retention, learned_b, learner = _two_task_run(method)
    assert retention >= 0.9          # measured 0.997 (CLASSP), 0.999 (EWC, fast/slow)
    assert learned_b >= 0.95         # measured 0.994 - 0.999
    if method == "classp":
        assert 0.2 < np.mean(learner.fractions) < 0.8   # realised fraction, measured 0.46


def test_eight_tasks_classp_backward_transfer():
    tasks = lp.make_tasks(8, seed=1)
    results = {}
    for method in ("plain", "classp"):
        R, _ = lp.run_sequence(method, tasks, range(8), lp.CALIBRATED[method], seed=0)
        results[method] = (backward_transfer(R), np.diag(R).copy())
    bwt_plain, diag_plain = results["plain"]
    bwt_classp, diag_classp = results["classp"]
    print(f"\n8 tasks: BWT plain {bwt_plain:.3f}, CLASSP {bwt_classp:.3f}")
    print("diagonal plain ", np.round(diag_plain, 3))
    print("diagonal CLASSP", np.round(diag_classp, 3))
    assert bwt_classp > bwt_plain + 0.3   # measured -0.04 vs -0.87
    assert diag_classp.min() >= 0.95      # each task is still learned (measured >= 0.999)


def test_retention_over_task_seeds_is_reported_honestly():
    """Not every task draw is protected equally by CLASSP: over task seeds 1-6 its retention
    was 0.997, 0.944, 0.955, 0.716, 0.988, 0.986 (EWC and fast/slow >= 0.95, plain <= 0.55).
    Assert the median and the spread we measured, so that a regression shows."""
    ret = {m: [_two_task_run(m, s)[0] for s in range(1, 7)] for m in ("plain", "classp")}
    assert np.median(ret["classp"]) >= 0.9
    assert min(ret["classp"]) >= 0.65
    assert max(ret["plain"]) <= 0.6
