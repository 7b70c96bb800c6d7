"""Tests for neurosim.kernels.rls (RLS / FORCE readout learner)."""
import numba
import numpy as np
import pytest

from neurosim.kernels import rls
from neurosim.kernels.rls import (
    rls_fit_stream,
    rls_flush,
    rls_init,
    rls_lazy_reset,
    rls_lazy_work,
    rls_reset,
    rls_step,
    rls_step_lazy,
    rls_step_reference,
)


def _regression(n_samples=200, n_feat=20, n_out=2, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_feat))
    W_true = rng.standard_normal((n_out, n_feat))
    T = X @ W_true.T + noise * rng.standard_normal((n_samples, n_out))
    return X, T, W_true


def _run_reference(X, T, alpha, lam=1.0):
    P = rls_init(X.shape[1], alpha)
    W = np.zeros((T.shape[1], X.shape[1]))
    for x, t in zip(X, T):
        rls_step_reference(P, W, x, W @ x - t, lam)
    return P, W


@pytest.mark.parametrize("lazy", [False, True])
def test_one_pass_equals_batch_least_squares(lazy):
    X, T, W_true = _regression()
    W_ls = np.linalg.lstsq(X, T, rcond=None)[0].T
    P = rls_init(20, 1e-6)
    W = np.zeros((2, 20))
    rls_fit_stream(P, W, X, T, 1.0, 1, lazy)
    np.testing.assert_allclose(W, W_ls, rtol=0, atol=1e-7)
    np.testing.assert_allclose(W, W_true, rtol=0, atol=1e-7)  # noiseless problem
    _, W_ref = _run_reference(X, T, 1e-6)
    np.testing.assert_allclose(W_ref, W_ls, rtol=0, atol=1e-7)


@pytest.mark.parametrize("lazy", [False, True])
def test_one_pass_equals_ridge_and_P_is_inverse(lazy):
    X, T, _ = _regression(noise=0.5, seed=1)
    alpha = 3.0
    A = X.T @ X + alpha * np.eye(20)
    W_ridge = np.linalg.solve(A, X.T @ T).T
    P = rls_init(20, alpha)
    W = np.zeros((2, 20))
    rls_fit_stream(P, W, X, T, 1.0, 1, lazy)
    np.testing.assert_allclose(W, W_ridge, rtol=0, atol=1e-8)
    np.testing.assert_allclose(P, np.linalg.inv(A), rtol=0, atol=1e-10)
    _, W_ref = _run_reference(X, T, alpha)
    np.testing.assert_allclose(W_ref, W_ridge, rtol=0, atol=1e-8)


def test_forgetting_factor_is_weighted_ridge():
    """lam < 1 minimises sum lam^(t-s) e_s^2 + lam^t alpha |W|^2 (derivation in the module)."""
    X, T, _ = _regression(n_samples=120, noise=0.3, seed=2)
    lam, alpha = 0.97, 2.0
    n = len(X)
    w = lam ** (n - 1 - np.arange(n))
    A = (X * w[:, None]).T @ X + lam**n * alpha * np.eye(20)
    W_wridge = np.linalg.solve(A, (X * w[:, None]).T @ T).T
    P = rls_init(20, alpha)
    W = np.zeros((2, 20))
    rls_fit_stream(P, W, X, T, lam, 1)
    np.testing.assert_allclose(W, W_wridge, rtol=0, atol=1e-8)


def _twin_run(dtype, lam, n_steps=60, n_feat=64, n_out=2, seed=3):
    rng = np.random.default_rng(seed)
    X = (rng.random((n_steps, n_feat)) * 0.5).astype(dtype)
    T = np.sin(np.arange(n_steps)[:, None] / 5.0 + np.arange(n_out)).astype(dtype)
    W0 = (0.1 * rng.standard_normal((n_out, n_feat))).astype(dtype)
    P0 = rls_init(n_feat, 0.5, dtype)
    Pr, Wr = P0.copy(), W0.copy()
    Pc, Wc = P0.copy(), W0.copy()
    Pl, Wl = P0.copy(), W0.copy()
    k_buf = np.empty(n_feat, dtype)
    work = rls_lazy_work(n_feat, dtype)
    for s in range(n_steps):
        x = X[s]
        # each twin closes its own loop (error from its own W)
        rls_step_reference(Pr, Wr, x, (Wr @ x - T[s]).astype(dtype), lam)
        rls_step(Pc, Wc, x, (Wc @ x - T[s]).astype(dtype), lam, k_buf)
        rls_step_lazy(Pl, Wl, x, (Wl @ x - T[s]).astype(dtype), lam, work)
    rls_flush(Pl, work)
    return (Pr, Wr), (Pc, Wc), (Pl, Wl), k_buf


def _rel(a, b):
    return np.abs(a.astype(np.float64) - b).max() / np.abs(b.astype(np.float64)).max()


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("lam", [1.0, 0.98])
def test_compiled_twins_match_reference(dtype, tol, lam):
    (Pr, Wr), (Pc, Wc), (Pl, Wl), k_buf = _twin_run(dtype, lam)
    assert Pc.dtype == dtype and Wc.dtype == dtype and Pl.dtype == dtype
    for P, W in ((Pc, Wc), (Pl, Wl)):
        assert _rel(P, Pr) < tol
        assert _rel(W, Wr) < tol
    # the weights actually moved (the comparison is not vacuous)
    assert np.abs(Wr).max() > 0.5


def test_compiled_step_returns_gain():
    rng = np.random.default_rng(4)
    n = 30
    P = rls_init(n, 0.5)
    x = rng.random(n)
    k_expected = P @ x
    k_buf = np.empty(n)
    c = rls_step(P.copy(), np.zeros((1, n)), x, np.ones(1), 1.0, k_buf)
    np.testing.assert_allclose(k_buf, k_expected, rtol=1e-14)
    assert c == pytest.approx(1.0 / (1.0 + x @ k_expected), rel=1e-14)


def test_forgetting_tracks_a_switch():
    rng = np.random.default_rng(5)
    n_steps, n_feat = 1600, 10
    X = rng.standard_normal((n_steps, n_feat))
    W1 = rng.standard_normal((1, n_feat))
    W2 = rng.standard_normal((1, n_feat))
    half = n_steps // 2
    T = np.concatenate([X[:half] @ W1.T, X[half:] @ W2.T])
    mse = {}
    for lam in (1.0, 0.98):
        P = rls_init(n_feat, 1e-2)
        W = np.zeros((1, n_feat))
        errs = rls_fit_stream(P, W, X, T, lam, 1)
        mse[lam] = np.mean(errs[half + 200:] ** 2)
        # both learn the first half
        assert np.mean(errs[half - 200:half] ** 2) < 1e-4 * np.mean(T**2)
    assert mse[0.98] < 1e-3 * mse[1.0]
    assert mse[1.0] > 0.01  # lam = 1 stays stuck between the two solutions


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_P_stays_symmetric(dtype):
    rng = np.random.default_rng(6)
    n = 50
    X = rng.random((2000, n)).astype(dtype)
    T = rng.standard_normal((2000, 1)).astype(dtype)
    for lazy in (False, True):
        P = rls_init(n, 0.5, dtype)
        W = np.zeros((1, n), dtype)
        rls_fit_stream(P, W, X, T, 0.995, 1, lazy)
        # the compiled update is symmetric bit for bit
        assert np.array_equal(P, P.T)
        assert np.all(np.linalg.eigvalsh(P.astype(np.float64)) > 0)
    P = rls_init(n, 0.5, dtype)
    W = np.zeros((1, n), dtype)
    for s in range(300):
        rls_step_reference(P, W, X[s], (W @ X[s] - T[s]).astype(dtype), 0.995)
    assert _rel(P, P.T) < (1e-13 if dtype == np.float64 else 1e-5)


def test_reset():
    n = 8
    P = rls_init(n, 0.5)
    rls_fit_stream(P, np.zeros((1, n)), np.ones((5, n)), np.ones((5, 1)), 1.0, 1)
    assert not np.allclose(P, 2 * np.eye(n))
    rls_reset(P, 0.5)
    np.testing.assert_array_equal(P, 2 * np.eye(n))
    work = rls_lazy_work(n)
    rls_step_lazy(P, np.zeros((1, n)), np.ones(n), np.ones(1), 1.0, work)
    rls_lazy_reset(P, work, 0.5)
    rls_flush(P, work)
    np.testing.assert_array_equal(P, 2 * np.eye(n))


# ---------------------------------------------------------------- allocation checks
def _llvm_ir(dispatcher, *args):
    """LLVM IR of a fresh, non-cached compilation (inspection is off for cached code)."""
    fresh = numba.njit(cache=False, fastmath=False)(dispatcher.py_func)
    fresh(*args)
    return "\n".join(fresh.inspect_llvm().values())


def _allocates(ir):
    return "NRT_MemInfo_alloc" in ir or "NRT_Allocate" in ir


def test_step_kernels_do_not_allocate():
    n = 16
    for dtype in (np.float32, np.float64):
        args = (rls_init(n, 1.0, dtype), np.zeros((2, n), dtype), np.ones(n, dtype),
                np.ones(2, dtype), 0.99)
        assert not _allocates(_llvm_ir(rls_step, *args, np.empty(n, dtype)))
        assert not _allocates(_llvm_ir(rls_step_lazy, *args, rls_lazy_work(n, dtype)))
    # positive control: the check sees an allocation when there is one
    assert _allocates(_llvm_ir(rls_fit_stream, rls_init(n, 1.0), np.zeros((1, n)),
                               np.ones((3, n)), np.ones((3, 1)), 1.0, 1))


def test_repeated_calls_allocate_nothing_from_python():
    import tracemalloc

    n = 200
    P = rls_init(n, 1.0, np.float32)
    W = np.zeros((1, n), np.float32)
    x = np.full(n, 0.01, np.float32)
    err = np.ones(1, np.float32)
    k_buf = np.empty(n, np.float32)
    rls_step(P, W, x, err, 1.0, k_buf)  # compile / load outside the measurement
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(1000):
        rls_step(P, W, x, err, 1.0, k_buf)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename") if s.size_diff > 0)
    assert grown < 16 * 1024  # one leaked k per call would be 800 kB


def test_called_from_an_njit_loop():
    """rls_step composes inside another compiled time loop (how the simulator uses it)."""

    @numba.njit(cache=False)
    def loop(P, W, X, T, k_buf, err):
        for s in range(X.shape[0]):
            for o in range(W.shape[0]):
                err[o] = W[o] @ X[s] - T[s, o]
            rls.rls_step(P, W, X[s], err, 1.0, k_buf)

    X, T, W_true = _regression(n_samples=100, n_feat=10, n_out=1, seed=7)
    P = rls_init(10, 1e-6)
    W = np.zeros((1, 10))
    loop(P, W, X, T, np.empty(10), np.empty(1))
    np.testing.assert_allclose(W, W_true, atol=1e-6)
