"""Condition numbers and participation ratio (neurosim/analysis/diagnostics.py)."""
import numpy as np
import pytest

from neurosim.analysis.diagnostics import (condition_number, feature_covariance_condition,
                                           module_condition_numbers, participation_ratio,
                                           select_lowest_kappa_modules)


def test_condition_number_scale_invariant_and_known_values():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((5, 8))
    k = condition_number(W)
    assert 1.0 < k < np.inf
    for c in (1e-6, -3.0, 1e8):
        assert condition_number(c * W) == pytest.approx(k, rel=1e-10)
    assert condition_number(np.diag([1.0, 2.0, 10.0])) == pytest.approx(10.0, rel=1e-12)


def test_orthogonal_matrix_has_kappa_one():
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((6, 6)))
    assert condition_number(Q) == pytest.approx(1.0, abs=1e-12)
    assert condition_number(Q[:, :3]) == pytest.approx(1.0, abs=1e-12)  # orthonormal columns


def test_rank_deficient_is_inf_not_nan():
    rng = np.random.default_rng(2)
    low_rank = rng.standard_normal((6, 2)) @ rng.standard_normal((2, 6))  # rank 2, tiny s_min
    for M in (low_rank, 1e-30 * low_rank, np.zeros((3, 4)), np.ones((4, 4)), np.empty((0, 3))):
        assert condition_number(M) == np.inf
    assert condition_number(np.diag([1.0, 1e-3]), rtol=1e-2) == np.inf  # explicit tolerance


def test_module_condition_numbers_rows_and_columns():
    W = np.zeros((4, 6))
    W[:2, :3] = np.diag([1.0, 4.0]) @ np.eye(2, 3)          # head 0-1: kappa 4 ...
    W[2:, 3:] = np.eye(2, 3)                                 # head 2-3: kappa 1
    rows = module_condition_numbers(W, [slice(0, 2), np.array([2, 3])], axis=0)
    np.testing.assert_allclose(rows[0], 4.0, rtol=1e-12)
    np.testing.assert_allclose(rows[1], 1.0, rtol=1e-12)
    cols = module_condition_numbers(W, {"E": np.arange(6) < 3, "I": slice(3, 6)}, axis=1)
    assert set(cols) == {"E", "I"}
    assert cols["E"] == np.inf  # E block: rank 2 in a 4 x 3 block with a zero column
    single = module_condition_numbers(W, [0], axis=0)
    assert single[0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        module_condition_numbers(W, [slice(0, 2)], axis=2)


def test_feature_covariance_condition():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((5000, 3)) * np.array([1.0, 2.0, 5.0])
    assert feature_covariance_condition(X) == pytest.approx(25.0, rel=0.1)
    assert feature_covariance_condition(7.0 * X + 3.0) == pytest.approx(
        feature_covariance_condition(X), rel=1e-10)
    assert feature_covariance_condition(X[:3]) == np.inf          # fewer samples than needed
    assert feature_covariance_condition(np.c_[X, X[:, 0]]) == np.inf  # duplicated feature


def test_participation_ratio():
    rng = np.random.default_rng(4)
    d = 10
    assert participation_ratio(rng.standard_normal((20000, d))) == pytest.approx(d, rel=0.02)
    rank1 = np.outer(rng.standard_normal(500), rng.standard_normal(d))
    assert participation_ratio(rank1) == pytest.approx(1.0, rel=1e-9)
    assert participation_ratio(np.ones((10, d))) == 0.0


def test_select_lowest_kappa_modules():
    kappas = [5.0, np.inf, 1.0, np.nan, 1.0, 3.0]
    np.testing.assert_array_equal(select_lowest_kappa_modules(kappas, 3), [2, 4, 5])
    np.testing.assert_array_equal(select_lowest_kappa_modules(kappas, 10), [2, 4, 5, 0, 1, 3])
    assert select_lowest_kappa_modules({"a": 2.0, "b": 1.0, "c": 9.0}, 2) == ["b", "a"]
    assert len(select_lowest_kappa_modules(kappas, 0)) == 0
    with pytest.raises(ValueError):
        select_lowest_kappa_modules(kappas, -1)


def test_principal_components_span_the_leading_eigenvectors():
    """The Lanczos top-k equals the full eigendecomposition's leading subspace."""
    from neurosim.analysis.whatwhen import principal_components
    rng = np.random.default_rng(5)
    scales = np.concatenate([np.linspace(10, 4, 6), np.full(294, 0.5)])   # a clear gap
    X = rng.standard_normal((3000, 300)) * scales @ np.linalg.qr(
        rng.standard_normal((300, 300)))[0].T
    got = principal_components(X, 6)
    Xc = X - X.mean(axis=0)
    vals, vecs = np.linalg.eigh(Xc.T @ Xc / (len(X) - 1))
    want = vecs[:, np.argsort(vals)[::-1][:6]]
    np.testing.assert_allclose(np.abs(np.sum(got * want, axis=0)), 1.0, atol=1e-8)
    np.testing.assert_array_equal(got, principal_components(X, 6))     # reproducible
    assert principal_components(X[:, :5], 6).shape == (5, 5)            # k >= n: dense path
