"""Exactness of the continual-learning kernels (kernels/continual.py, CONTINUAL.md)."""
import numpy as np
import pytest

from neurosim.kernels import continual as ck

DTYPES = [np.float32, np.float64]
SHAPE = (3, 7)


def _rand(rng, dtype, positive=False, shape=SHAPE):
    a = rng.standard_normal(shape)
    return (np.abs(a) if positive else a).astype(dtype)


def _assert_same(a, b, dtype, bitwise):
    if bitwise:
        np.testing.assert_array_equal(a, b)
    else:
        rtol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(a, b, rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_plain_twins_bitwise(dtype):
    rng = np.random.default_rng(0)
    W0, U = _rand(rng, dtype), _rand(rng, dtype)
    a, b = W0.copy(), W0.copy()
    ck.plain_apply_reference(a, U, 0.037)
    ck.plain_apply(b, U, 0.037)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == dtype and not np.array_equal(a, W0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p, relative, gamma", [(2.0, False, 1.0), (2.0, True, 0.9),
                                                (1.0, True, 1.0), (1.5, False, 0.95)])
def test_classp_twins(dtype, p, relative, gamma):
    """Bitwise for p = 2 (only +, *, /, sqrt); 1e-12 (float64) where pow is involved."""
    rng = np.random.default_rng(1)
    W, G = _rand(rng, dtype), _rand(rng, dtype, positive=True)
    a, b = (W.copy(), G.copy()), (W.copy(), G.copy())
    for _ in range(20):
        U = _rand(rng, dtype)
        fa = ck.classp_apply_reference(a[0], U, a[1], 0.05, 0.6, p, 1e-8, gamma, relative)
        fb = ck.classp_apply(b[0], U, b[1], 0.05, 0.6, p, 1e-8, gamma, relative)
        assert fa == fb and 0.0 < fa < 1.0
    for x, y in zip(a, b):
        _assert_same(x, y, dtype, bitwise=(p == 2.0))


@pytest.mark.parametrize("kernel", [ck.classp_apply_reference, ck.classp_apply])
def test_classp_theta0_p2_is_adagrad(kernel):
    rng = np.random.default_rng(2)
    W, G = rng.standard_normal(SHAPE), np.zeros(SHAPE)
    W_ada, G_ada = W.copy(), np.zeros(SHAPE)
    W_ada0 = W.copy()  # AdaGrad in the eps + sqrt(G) form, with eps = 0
    W0, G0 = W.copy(), np.zeros(SHAPE)
    eta, eps = 0.1, 1e-8
    for _ in range(50):
        U = rng.standard_normal(SHAPE)  # no exact zeros, so eps = 0 is well defined
        assert kernel(W, U, G, eta, 0.0, 2.0, eps) == 1.0
        kernel(W0, U, G0, eta, 0.0, 2.0, 0.0)
        G_ada += U * U
        W_ada += eta * U / np.sqrt(eps + G_ada)
        W_ada0 += eta * U / (0.0 + np.sqrt(G_ada))
    np.testing.assert_allclose(W, W_ada, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(G, G_ada, rtol=1e-12, atol=0)
    np.testing.assert_allclose(W0, W_ada0, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", [ck.classp_apply_reference, ck.classp_apply])
def test_classp_theta_inf_is_noop(kernel, dtype):
    rng = np.random.default_rng(3)
    W, G = _rand(rng, dtype), _rand(rng, dtype, positive=True)
    W0, G0 = W.copy(), G.copy()
    for relative in (False, True):
        U = 1e6 * _rand(rng, dtype)
        assert kernel(W, U, G, 1.0, np.inf, 2.0, 1e-8, 1.0, relative) == 0.0
    np.testing.assert_array_equal(W, W0)
    np.testing.assert_array_equal(G, G0)


@pytest.mark.parametrize("kernel", [ck.classp_apply_reference, ck.classp_apply])
def test_classp_mask_is_per_element(kernel):
    """One entry above and one below the threshold in the same tensor."""
    W = np.zeros((1, 2))
    G = np.zeros((1, 2))
    U = np.array([[2.0, 0.5]])  # U**2 = 4 > 1 and 0.25 < 1
    assert kernel(W, U, G, 0.1, 1.0) == 0.5
    np.testing.assert_allclose(G, [[4.0, 0.0]])
    assert W[0, 0] == pytest.approx(0.1 * 2.0 / np.sqrt(1e-8 + 4.0), rel=1e-12)
    assert W[0, 1] == 0.0
    # Relative threshold: theta = (c RMS)^2 = c^2 * (4 + 0.25) / 2 with c = 1 -> 2.125
    W2, G2 = np.zeros((1, 2)), np.zeros((1, 2))
    assert kernel(W2, U, G2, 0.1, 1.0, relative=True) == 0.5
    assert W2[0, 1] == 0.0 and W2[0, 0] > 0.0


@pytest.mark.parametrize("kernel", [ck.classp_apply_reference, ck.classp_apply])
def test_classp_accumulator_monotone_and_leak(kernel):
    rng = np.random.default_rng(4)
    W, G = np.zeros(SHAPE), np.zeros(SHAPE)
    for step in range(100):
        G_before = G.copy()
        kernel(W, rng.standard_normal(SHAPE), G, 0.1, 0.8, 2.0, 1e-8, 1.0, step % 2 == 0)
        assert np.all(G >= G_before)
    # Leak (our extension): masked-out synapses decay by gamma.
    G_before = G.copy()
    kernel(W, np.zeros(SHAPE), G, 0.1, 0.0, 2.0, 1e-8, 0.5)
    np.testing.assert_array_equal(G, 0.5 * G_before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fast_slow_twins_bitwise(dtype):
    rng = np.random.default_rng(5)
    names = ("W_slow", "W_fast", "anchor", "importance", "importance_acc", "out")
    init = {n: _rand(rng, dtype, positive=n.startswith("imp")) for n in names}
    ref = {n: v.copy() for n, v in init.items()}
    nb = {n: v.copy() for n, v in init.items()}
    for trial in range(30):
        U = _rand(rng, dtype)
        for s, (apply, eff) in ((ref, (ck.fast_slow_apply_reference, ck.fast_slow_effective_reference)),
                                (nb, (ck.fast_slow_apply, ck.fast_slow_effective))):
            apply(s["W_fast"], U, s["anchor"], s["importance"], s["importance_acc"], 0.05, 0.7, 0.01)
            eff(s["W_slow"], s["W_fast"], s["out"])
        if trial % 10 == 9:
            ck.fast_slow_consolidate_reference(ref["W_slow"], ref["W_fast"], ref["anchor"],
                                               ref["importance"], ref["importance_acc"], 10, 0.6, 0.8)
            ck.fast_slow_consolidate(nb["W_slow"], nb["W_fast"], nb["anchor"],
                                     nb["importance"], nb["importance_acc"], 10, 0.6, 0.8)
    for n in names:
        np.testing.assert_array_equal(ref[n], nb[n], err_msg=n)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ewc_twins_bitwise(dtype):
    rng = np.random.default_rng(6)
    names = ("W", "F", "W_star", "F_acc")
    init = {n: _rand(rng, dtype, positive=n.startswith("F")) for n in names}
    ref = {n: v.copy() for n, v in init.items()}
    nb = {n: v.copy() for n, v in init.items()}
    for trial in range(30):
        U = _rand(rng, dtype)
        ck.ewc_apply_reference(ref["W"], U, ref["F"], ref["W_star"], ref["F_acc"], 0.05, 3.0)
        ck.ewc_apply(nb["W"], U, nb["F"], nb["W_star"], nb["F_acc"], 0.05, 3.0)
        if trial % 10 == 9:
            ck.ewc_consolidate_reference(ref["W"], ref["W_star"], ref["F"], ref["F_acc"], 10, 0.7)
            ck.ewc_consolidate(nb["W"], nb["W_star"], nb["F"], nb["F_acc"], 10, 0.7)
    for n in names:
        np.testing.assert_array_equal(ref[n], nb[n], err_msg=n)


def _regression_trials(rng, dtype, n_trials, n_feat=SHAPE[1], n_out=SHAPE[0]):
    teacher = rng.standard_normal((n_out, n_feat))
    for _ in range(n_trials):
        X = rng.standard_normal((8, n_feat)).astype(dtype)
        yield X, (X.astype(np.float64) @ teacher.T).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("twin", ["reference", "compiled"])
def test_neutral_settings_reduce_to_plain_bitwise(dtype, twin):
    """EWC with lam = 0 and fast/slow with beta = pull = decay = 0 equal the plain rule,
    bitwise, through trials (U computed with the current effective weights) and block ends."""
    suffix = "_reference" if twin == "reference" else ""
    f = {n: getattr(ck, n + suffix) for n in ("plain_apply", "ewc_apply", "ewc_consolidate",
                                              "fast_slow_apply", "fast_slow_consolidate",
                                              "fast_slow_effective")}
    rng = np.random.default_rng(7)
    W0 = _rand(rng, dtype)
    W_plain, W_ewc = W0.copy(), W0.copy()
    F, W_star, F_acc = (np.zeros_like(W0) for _ in range(3))
    W_slow, W_fast, W_eff = np.zeros_like(W0), W0.copy(), np.empty_like(W0)
    anchor, imp, imp_acc = (np.zeros_like(W0) for _ in range(3))
    f["fast_slow_effective"](W_slow, W_fast, W_eff)
    eta = 0.01
    for trial, (X, Y) in enumerate(_regression_trials(rng, dtype, 60)):
        def U_of(W):
            return (Y - X @ W.T).T @ X
        f["plain_apply"](W_plain, U_of(W_plain), eta)
        f["ewc_apply"](W_ewc, U_of(W_ewc), F, W_star, F_acc, eta, 0.0)
        f["fast_slow_apply"](W_fast, U_of(W_eff), anchor, imp, imp_acc, eta, 0.0, 0.0)
        f["fast_slow_effective"](W_slow, W_fast, W_eff)
        if trial % 20 == 19:  # block end
            f["ewc_consolidate"](W_ewc, W_star, F, F_acc, 20, 1.0)
            f["fast_slow_consolidate"](W_slow, W_fast, anchor, imp, imp_acc, 20, 0.0, 1.0)
            f["fast_slow_effective"](W_slow, W_fast, W_eff)
            assert np.all(F > 0) and np.all(imp > 0)  # the penalties would be active
        np.testing.assert_array_equal(W_ewc, W_plain)
        np.testing.assert_array_equal(W_eff, W_plain)
    assert not np.array_equal(W_plain, W0)


@pytest.mark.parametrize("kernel", [ck.fast_slow_consolidate_reference, ck.fast_slow_consolidate])
@pytest.mark.parametrize("beta", [1.0, 0.25, 0.0])
def test_fast_slow_consolidation_hands_over(kernel, beta):
    rng = np.random.default_rng(8)
    W_slow, W_fast, anchor = (rng.standard_normal(SHAPE) for _ in range(3))
    imp, acc = np.ones(SHAPE), np.full(SHAPE, 6.0)
    anchor0, eff0, slow0 = anchor.copy(), W_slow + W_fast, W_slow.copy()
    delta = W_fast - anchor
    kernel(W_slow, W_fast, anchor, imp, acc, 3, beta, 0.5)
    np.testing.assert_allclose(W_slow + W_fast, eff0, rtol=0, atol=1e-12)  # behaviour kept
    np.testing.assert_allclose(W_slow, slow0 + beta * delta, atol=1e-12)  # beta of it is slow
    np.testing.assert_allclose(W_fast - anchor0, (1 - beta) * delta, atol=1e-12)  # rest decays
    np.testing.assert_array_equal(anchor, anchor0)  # the rest state does not move
    np.testing.assert_allclose(imp, 0.5 * 1.0 + 6.0 / 3)
    assert np.all(acc == 0.0) and np.any(delta != 0)


@pytest.mark.parametrize("apply", [ck.fast_slow_apply_reference, ck.fast_slow_apply])
def test_fast_slow_decay_toward_the_anchor_hand_computed(apply):
    """Per trial: w <- w + eta (u - pull I (w - a)); w <- w - decay (w - a). Hand-computed:
    a = 1, w0 = 3, decay = 0.1, pull = 0: with u = 0 the distance 2 shrinks by 0.9 a trial
    (2 -> 1.8 -> 1.62 -> 1.458); one trial with u = 4, eta = 0.5: w = 3 + 2 = 5, then
    5 - 0.1 * (5 - 1) = 4.6; with pull = 2, I = 0.25 as well: 3 + 0.5 (4 - 0.5 * 2) = 4.5,
    then 4.5 - 0.1 * 3.5 = 4.15. The importance accumulator adds u**2 either way."""
    one = lambda v: np.full((1, 1), float(v))  # noqa: E731
    w, a, imp, acc = one(3.0), one(1.0), one(0.25), one(0.0)
    for expected in (2.8, 2.62, 2.458):
        apply(w, one(0.0), a, imp, acc, 0.5, 0.0, 0.1)
        assert w[0, 0] == pytest.approx(expected, abs=1e-12)
    assert acc[0, 0] == 0.0 and a[0, 0] == 1.0
    w = one(3.0)
    apply(w, one(4.0), a, imp, acc, 0.5, 0.0, 0.1)
    assert w[0, 0] == pytest.approx(4.6, abs=1e-12) and acc[0, 0] == 16.0
    w = one(3.0)
    apply(w, one(4.0), a, imp, acc, 0.5, 2.0, 0.1)
    assert w[0, 0] == pytest.approx(4.15, abs=1e-12) and acc[0, 0] == 32.0
    # n trials without an update signal: w - a = (1 - decay)**n (w0 - a), any shape
    rng = np.random.default_rng(10)
    w0, a = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)
    w, z = w0.copy(), np.zeros(SHAPE)
    for _ in range(25):
        apply(w, z, a, z.copy(), z.copy(), 0.3, 0.0, 0.05)
    np.testing.assert_allclose(w - a, 0.95 ** 25 * (w0 - a), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fast_slow_beta_sets_what_survives_the_decay(dtype):
    """After a block end with beta, the fast weights keep (1 - beta) of the block's change
    and it decays away; the slow weights keep beta of it. Effective readout after n idle
    trials: W_slow0 + a + (beta + (1 - beta)(1 - decay)**n) delta."""
    rng = np.random.default_rng(11)
    W_slow, a, delta = (_rand(rng, dtype) for _ in range(3))
    W_fast = a + delta
    slow0, imp, acc, z = W_slow.copy(), np.zeros_like(a), np.zeros_like(a), np.zeros_like(a)
    beta, decay, n = 0.3, 0.1, 20
    ck.fast_slow_consolidate(W_slow, W_fast, a, imp, acc, 1, beta, 1.0)
    for _ in range(n):
        ck.fast_slow_apply(W_fast, z, a, imp, acc, 0.1, 0.0, decay)
    expected = (slow0.astype(np.float64) + a + (beta + (1 - beta) * (1 - decay) ** n)
                * delta.astype(np.float64))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(W_slow + W_fast, expected, rtol=0, atol=tol * 10)


@pytest.mark.parametrize("kernel", [ck.ewc_consolidate_reference, ck.ewc_consolidate])
def test_ewc_consolidation(kernel):
    rng = np.random.default_rng(9)
    W = rng.standard_normal(SHAPE)
    W_star, F, F_acc = np.zeros(SHAPE), np.full(SHAPE, 2.0), np.full(SHAPE, 8.0)
    kernel(W, W_star, F, F_acc, 4, 0.25)
    np.testing.assert_allclose(F, 0.25 * 2.0 + 8.0 / 4)
    np.testing.assert_array_equal(W_star, W)
    assert np.all(F_acc == 0.0)


def test_memory_per_synapse():
    assert ck.memory_per_synapse("plain") == 0
    assert ck.memory_per_synapse("classp") == 1
    assert ck.memory_per_synapse("ewc", during_block=False) == 2
    assert ck.memory_per_synapse("ewc") == 3
    assert ck.memory_per_synapse("fast_slow") == len(ck.MEMORY_PER_SYNAPSE["fast_slow"]["arrays"])
    with pytest.raises(KeyError, match="valid"):
        ck.memory_per_synapse("sgd")
