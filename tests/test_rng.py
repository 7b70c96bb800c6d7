"""The counter-based noise (``kernels/rng.py``): known answers, one value per (key, step,
neuron) whichever way it is computed, and the right distribution."""
import numpy as np
import pytest
from numba import njit
from scipy import stats

from neurosim.kernels import rng as R


def test_philox_known_answers():
    """Random123's known-answer vectors for Philox-4x32-10."""
    kat = R.philox4x32_host([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
                            [0xA4093822, 0x299F31D0])
    assert [int(x) for x in kat] == [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]
    assert [int(x) for x in R.philox4x32_host([0] * 4, [0] * 2)] == [
        0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    scalar = R.philox4x32(*(np.uint64(w) for w in (0x243F6A88, 0x85A308D3, 0x13198A2E,
                                                   0x03707344, 0xA4093822, 0x299F31D0)))
    assert [int(x) for x in scalar] == [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


@njit
def _scalar_draws(out, k0, k1, step0):
    for s in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[s, i] = R.normal(k0, k1, step0 + s, i)


@njit
def _range_draws(out, words, lo, k0, k1, step0):
    for s in range(out.shape[0]):
        R.fill_normals(out[s, lo:], words, lo, k0, k1, step0 + s)


@pytest.mark.parametrize("step0", [0, 2**32 - 3])       # crossing the counter's low word
def test_every_form_gives_the_same_bits(step0):
    """Python scalar, compiled scalar, compiled range fill (any range start) and the NumPy
    oracle agree bitwise, slow-path draws included."""
    key = (np.uint64(12345), np.uint64(678))
    n_steps, n = 60, 203
    oracle = R.normals_host(key, step0, n_steps, n)
    compiled = np.zeros((n_steps, n))
    _scalar_draws(compiled, key[0], key[1], step0)
    np.testing.assert_array_equal(compiled, oracle)
    for lo in (0, 4, 100):
        ranged = np.zeros((n_steps, n))
        _range_draws(ranged, np.zeros(n + 4, np.uint32), lo, key[0], key[1], step0)
        np.testing.assert_array_equal(ranged[:, lo:], oracle[:, lo:])
    for s, i in ((0, 0), (7, 5), (59, 202)):
        assert R.normal(key[0], key[1], step0 + s, i) == oracle[s, i]
    steps = np.uint64(step0) + np.arange(n_steps, dtype=np.uint64)[:, None]
    groups = np.arange((n + 3) // 4, dtype=np.uint64)[None, :]
    st, gr = np.broadcast_arrays(steps, groups)
    words = R.philox4x32_host(np.stack([st & np.uint64(0xFFFFFFFF), st >> np.uint64(32), gr,
                                        np.zeros_like(gr)], axis=-1),
                              np.array(key, np.uint64)).reshape(n_steps, -1)[:, :n]
    slow = (words >> np.uint64(9)).astype(np.int64) >= R.KN_INT[(words & np.uint64(255))
                                                                .astype(np.intp)]
    assert slow.sum() >= 1, "the case must exercise the slow path"


def test_draws_are_standard_normal():
    """1.2 million draws: moments, a KS test, and the tail beyond the ziggurat's base."""
    x = R.normals_host((np.uint64(3), np.uint64(9)), 0, 400, 3000).ravel()
    assert abs(x.mean()) < 0.005 and abs(x.std() - 1.0) < 0.005
    assert abs(stats.skew(x)) < 0.01 and abs(stats.kurtosis(x)) < 0.02
    assert stats.kstest(x, "norm").pvalue > 1e-3
    tail = np.mean(np.abs(x) > R.R_TAIL)
    expected = 2 * stats.norm.sf(R.R_TAIL)            # 5.8e-4: ~690 draws expected
    assert abs(tail - expected) < 5 * np.sqrt(expected / x.size)
    assert np.abs(x).max() > R.R_TAIL                  # the tail sampler ran


def test_keys_steps_and_neurons_give_independent_streams():
    a = R.normals_host((np.uint64(1), np.uint64(2)), 0, 200, 64)
    b = R.normals_host((np.uint64(1), np.uint64(3)), 0, 200, 64)
    c = R.normals_host((np.uint64(1), np.uint64(2)), 200, 200, 64)
    for u, v in ((a, b), (a, c), (a[:, :32], a[:, 32:])):
        assert abs(np.corrcoef(u.ravel(), v.ravel())[0, 1]) < 0.03
    # neighbours sharing a Philox call (lanes of one group) are uncorrelated too
    assert abs(np.corrcoef(a[:, 0::4].ravel(), a[:, 1::4].ravel())[0, 1]) < 0.05
