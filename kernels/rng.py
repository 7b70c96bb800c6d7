"""Counter-based Gaussian noise: one draw per (key, step, neuron), the same on every backend.

Every backend asks for the noise of neuron ``i`` at global step ``t`` with :func:`normal`;
the value depends only on the 64-bit key (two 32-bit words, from the run's seed) and the
counter, never on the thread that computes it, the order of the calls or the chunking.
So a run gives the same spikes on NumPy, Numba with any number of threads and CUDA.

Generator
---------
Philox-4x32-10 (Salmon, Moraes, Dror & Shaw, SC 2011), a counter-based generator: four
32-bit output words per 128-bit counter. Words live in uint64 lanes masked to 32 bits, so
no operation overflows on any target.

Normal transform
----------------
A 256-layer ziggurat (Marsaglia & Tsang 2000, J. Stat. Softw. 5(8)) on one 32-bit word:
bits 0-7 pick the layer, bit 8 the sign, bits 9-31 a 23-bit magnitude ``m``. The fast path
(98.5 % of draws) is ``m * WN[layer]``: one IEEE multiplication, bitwise identical on CPU and
GPU. The slow path (wedges and the tail beyond R = 3.6542) takes fresh words from a second
counter stream and uses ``exp``/``log`` (~180 ns on the CPU; with 128 layers it ran for 2.7 %
of draws and cost more than the rest of the draw).

Counters: neuron ``i`` at step ``t`` takes word ``i % 4`` of
``philox(t_lo, t_hi, i // 4, 0)``; its slow path uses ``philox(t_lo, t_hi, i, a)`` for
attempts ``a = 1, 2, ...`` (the fourth word distinguishes the two streams).

Functions marked ``register_jitable`` are plain Python (the CUDA simulator and the tests
call them as such) and compile inside ``numba.njit`` and ``numba.cuda.jit`` code alike.
:func:`normals_host` is the vectorised NumPy oracle of :func:`normal`.
"""
import math

import numpy as np
from numba import njit
from numba.extending import register_jitable

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S8 = np.uint64(8)
_S9 = np.uint64(9)
_ONE = np.uint64(1)
_LAYER = np.uint64(255)


def _ziggurat_tables(n_layers=256, r=3.6541528853610088, v=4.92867323399e-3, bits=23):
    """Layer tables of a ziggurat for |N(0, 1)| with ``n_layers`` layers of area ``v``.

    Returns (KN, WN, FN): integer acceptance bounds for a ``bits``-bit magnitude, layer
    widths per magnitude unit, and f(x) = exp(-x^2/2) at each layer's right edge.
    """
    scale = float(2 ** bits)
    kn = np.zeros(n_layers, np.float64)
    wn = np.zeros(n_layers, np.float64)
    fn = np.zeros(n_layers, np.float64)
    q = v / math.exp(-0.5 * r * r)
    kn[0] = math.floor((r / q) * scale)
    wn[0] = q / scale
    wn[n_layers - 1] = r / scale
    fn[0] = 1.0
    fn[n_layers - 1] = math.exp(-0.5 * r * r)
    x, x_prev = r, r
    for i in range(n_layers - 2, 0, -1):
        x = math.sqrt(-2.0 * math.log(v / x + math.exp(-0.5 * x * x)))
        kn[i + 1] = math.floor((x / x_prev) * scale)
        x_prev = x
        fn[i] = math.exp(-0.5 * x * x)
        wn[i] = x / scale
    kn[1] = 0.0
    return kn, wn, fn


KN, WN, FN = _ziggurat_tables()
KN_INT = KN.astype(np.int64)           # the same bounds, for integer comparisons
R_TAIL = 3.6541528853610088
_INV_R = 1.0 / R_TAIL
_U32 = 2.3283064365386963e-10          # 2**-32


@register_jitable
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox-4x32-10 of counter (c0..c3) under key (k0, k1); uint64 lanes, 32-bit words."""
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        n0 = (p1 >> _S32) ^ c1 ^ k0
        n2 = (p0 >> _S32) ^ c3 ^ k1
        c1 = p1 & _MASK
        c3 = p0 & _MASK
        c0 = n0
        c2 = n2
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


@register_jitable
def _slow_path(word, k0, k1, t_lo, t_hi, i):
    """Wedge and tail cases of the ziggurat for neuron ``i``; rarely taken."""
    attempt = np.uint64(0)
    while True:
        layer = word & _LAYER
        mag = np.float64(word >> _S9)
        sign = -1.0 if (word >> _S8) & _ONE else 1.0
        if mag < KN[layer]:
            return sign * (mag * WN[layer])
        attempt += _ONE
        r0, r1, r2, r3 = philox4x32(t_lo, t_hi, np.uint64(i), attempt, k0, k1)
        ua = (np.float64(r1) + 0.5) * _U32           # uniform in (0, 1)
        ub = (np.float64(r2) + 0.5) * _U32
        if layer == 0:                                # tail beyond R (Marsaglia 1964)
            while True:
                xt = -math.log(ua) * _INV_R
                y = -math.log(ub)
                if y + y >= xt * xt:
                    return sign * (R_TAIL + xt)
                attempt += _ONE
                r0, r1, r2, r3 = philox4x32(t_lo, t_hi, np.uint64(i), attempt, k0, k1)
                ua = (np.float64(r1) + 0.5) * _U32
                ub = (np.float64(r2) + 0.5) * _U32
        x = mag * WN[layer]
        if FN[layer] + ua * (FN[layer - _ONE] - FN[layer]) < math.exp(-0.5 * x * x):
            return sign * x
        word = r0                                     # rejected: a fresh candidate


@register_jitable
def normal_from_word(word, k0, k1, t_lo, t_hi, i):
    """Standard normal of neuron ``i`` from its 32-bit ``word`` (fast path inline)."""
    layer = word & _LAYER
    mag = np.float64(word >> _S9)
    if mag < KN[layer]:
        x = mag * WN[layer]
        return -x if (word >> _S8) & _ONE else x
    return _slow_path(word, k0, k1, t_lo, t_hi, i)


@register_jitable
def normal(k0, k1, t, i):
    """Standard normal draw for global step ``t`` and neuron ``i`` under key (k0, k1)."""
    t = np.uint64(t)
    t_lo = t & _MASK
    t_hi = t >> _S32
    i = np.uint64(i)
    r0, r1, r2, r3 = philox4x32(t_lo, t_hi, i >> np.uint64(2), np.uint64(0), k0, k1)
    lane = i & np.uint64(3)
    word = r0 if lane == 0 else (r1 if lane == 1 else (r2 if lane == 2 else r3))
    return normal_from_word(word, k0, k1, t_lo, t_hi, i)


# Philox inlined by numba itself (its IR), for the CPU loop below. Left to LLVM, the call
# stays a call once that loop is linked into the chunk kernel, and a loop with a call does
# not vectorise: 6.3 us against 2.6 us for 1000 draws (same bits; benchmarks/RESULTS.md).
_philox4x32_inline = njit(inline="always")(philox4x32)


@njit(cache=True)
def _philox_words(words, g0, n_groups, t_lo, t_hi, k0, k1):
    """The four words of counters (t_lo, t_hi, g0 + g, 0) into ``words[4 g: 4 g + 4]`` for
    ``0 <= g < n_groups``. A compiled function of its own, so LLVM vectorises the loop."""
    for g in range(n_groups):
        r0, r1, r2, r3 = _philox4x32_inline(t_lo, t_hi, np.uint64(g0 + g), np.uint64(0), k0,
                                            k1)
        words[4 * g] = r0
        words[4 * g + 1] = r1
        words[4 * g + 2] = r2
        words[4 * g + 3] = r3


@register_jitable
def fill_normals(out, words, i0, k0, k1, t):
    """``out[i] = normal(k0, k1, t, i0 + i)`` for every ``i`` of ``out`` (``i0`` a multiple
    of 4).

    The CPU form of :func:`normal` (``numba.njit`` callers only): the Philox words of the
    range first (vectorised), then the ziggurat's branch-free fast path, then the rare slow
    cases. ``words``: uint32 work array of length >= 4 * ceil(len(out) / 4). Callers pass
    slices, so that every loop index is provably non-negative (LLVM then vectorises).
    """
    t = np.uint64(t)
    t_lo = t & _MASK
    t_hi = t >> _S32
    m = out.shape[0]
    _philox_words(words, i0 // 4, (m + 3) // 4, t_lo, t_hi, k0, k1)
    for i in range(m):
        w = np.int64(words[i])
        x = np.float64(w >> 9) * WN[w & 255]
        out[i] = -x if (w >> 8) & 1 else x
    for i in range(m):
        w = np.int64(words[i])
        if (w >> 9) >= KN_INT[w & 255]:
            out[i] = _slow_path(np.uint64(w), k0, k1, t_lo, t_hi, np.uint64(i0 + i))


def key_words(seed_sequence) -> tuple:
    """The two 32-bit key words (as np.uint64) derived from a ``numpy.random.SeedSequence``."""
    k = seed_sequence.generate_state(2, np.uint32)
    return np.uint64(k[0]), np.uint64(k[1])


# ------------------------------------------------------------------ NumPy oracle

def philox4x32_host(counter, key):
    """Vectorised Philox-4x32-10: counter (..., 4), key (..., 2) -> (..., 4) uint64 words."""
    c = [np.asarray(counter, np.uint64)[..., q].copy() for q in range(4)]
    k0, k1 = (np.asarray(key, np.uint64)[..., q].copy() for q in range(2))
    for _ in range(10):
        p0, p1 = _M0 * c[0], _M1 * c[2]
        c = [(p1 >> _S32) ^ c[1] ^ k0, p1 & _MASK, (p0 >> _S32) ^ c[3] ^ k1, p0 & _MASK]
        k0, k1 = (k0 + _W0) & _MASK, (k1 + _W1) & _MASK
    return np.stack(c, axis=-1)


def normals_host(key, step0: int, n_steps: int, n: int) -> np.ndarray:
    """The draws :func:`normal` gives for steps ``step0 .. step0 + n_steps - 1`` and neurons
    ``0 .. n - 1``, shape (n_steps, n), computed with NumPy (the slow path per draw)."""
    k0, k1 = (np.uint64(w) for w in key)
    t = np.arange(step0, step0 + n_steps, dtype=np.uint64)[:, None]
    groups = np.arange((n + 3) // 4, dtype=np.uint64)[None, :]
    tt, gg = np.broadcast_arrays(t, groups)
    ctr = np.stack([tt & _MASK, tt >> _S32, gg, np.zeros_like(gg)], axis=-1)
    words = philox4x32_host(ctr, np.array([k0, k1], np.uint64)).reshape(n_steps, -1)[:, :n]
    layer = (words & _LAYER).astype(np.intp)
    mag = (words >> _S9).astype(np.float64)
    out = mag * WN[layer]
    out = np.where((words >> _S8) & _ONE, -out, out)
    for s, i in zip(*np.nonzero(mag >= KN[layer])):
        step = np.uint64(step0 + s)
        out[s, i] = _slow_path(words[s, i], k0, k1, step & _MASK, step >> _S32, np.uint64(i))
    return out
