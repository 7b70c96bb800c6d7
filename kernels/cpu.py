"""Numba CPU kernel: the whole chunk's time loop in one compiled call, serial or parallel.

The loop composes the scalar equations of ``kernels/equations.py`` and the counter-based
noise of ``kernels/rng.py`` in the step order of ``kernels/reference.py``; the two agree
bitwise in float64.

Parallel form
-------------
The neurons are cut into ``n_parts`` contiguous ranges (multiples of 4, for the noise
words). Each step has two parallel phases over the ranges, joined by a serial compaction
of the spiking ids:

1. noise, input current, state update and threshold of the range's neurons;
2. synaptic decay, spike propagation *into* the range (each spiking row is searched for the
   range's first postsynaptic id, so every target is written by one thread, in increasing
   presynaptic order as in the reference), reset and feature traces of the range.

The readout, learning and recording then run serially. Learning is RLS (rule 3, built in:
in float64 the single-pass :func:`~kernels.rls.rls_step_lazy`, its pending update flushed
into P before the loop returns; in float32 the two-pass ``rls_step``, see ``_rls_update``)
or a local rule's per-synapse update (``kernels/plugins.py``): the three-factor ``"online"``
and ``"accumulate"`` rules are plug-ins too, each compiled into its own renamed copy of the
loop (:func:`_kernels_for`, disk-cached; ``_chunk_serial`` / ``_chunk_parallel`` serve the
frozen and RLS readouts). The serial compaction also finds a
diverged neuron (flag 2, v not finite), the lowest one: the kernel records it in
``rec.fault`` and returns that step (see ``reference.run_chunk``); so does a non-finite
readout output.

No value depends on ``n_parts``: the noise is keyed by (step, neuron) and every sum keeps its
order, so 1 and 2 threads (and NumPy and CUDA) give the same bits. The same source is
compiled twice, with and without ``parallel=True``; :func:`run_chunk` picks the parallel one
when it pays (see ``PARALLEL_MIN_NEURONS``).
"""
import numba
import numpy as np
from numba import njit, prange

from . import equations, plugins
from .rls import rls_flush, rls_step, rls_step_lazy
from .rng import fill_normals

# the equations, inlined into the loops below (see kernels/equations.py)
neuron_step, synapse_decay, feature_step, centre, spike_flag = (
    njit(inline="always")(getattr(equations, name))
    for name in ("neuron_step", "synapse_decay", "feature_step", "centre", "spike_flag"))

# a local rule's per-synapse update: none in the generic loop (:func:`_kernels_for`)
_local_update = njit(inline="always")(plugins.no_update)

PARALLEL_MIN_NEURONS = 2048
"""Below this many neurons the serial kernel runs: two thread fork/joins per step (~2-3 us
each with 2 OpenMP threads) cost more than the work they split (``benchmarks/``)."""


# ---- loops over one neuron range: arrays in, so that LLVM vectorises them (a loop over
# record fields or over slices made inside the step loop stays scalar, 3-5x slower).

def _noisy_bias(c, bias, sigma, words, i0, k0, k1, t):
    fill_normals(c, words, i0, k0, k1, t)
    for i in range(c.shape[0]):
        c[i] = np.float64(bias[i]) + sigma[i] * c[i]


def _set(c, values):
    for i in range(c.shape[0]):
        c[i] = np.float64(values[i])


def _add(c, values):
    for i in range(c.shape[0]):
        c[i] = c[i] + values[i]


def _add_scaled(c, scale, values):
    for i in range(c.shape[0]):
        c[i] = c[i] + scale * np.float64(values[i])


def _integrate(v, u, a, b, c, form, scheme, dt, k, vr, vt, cm):
    for i in range(v.shape[0]):
        v[i], u[i] = neuron_step(form, scheme, np.float64(v[i]), np.float64(u[i]),
                                 np.float64(a[i]), np.float64(b[i]), c[i], dt, k, vr, vt, cm)


def _threshold(flag, v, v_peak):
    for i in range(v.shape[0]):
        flag[i] = spike_flag(np.float64(v[i]), v_peak)


def _decay(kind, isyn, hsyn, decay, rise_decay, dt):
    for i in range(isyn.shape[0]):
        isyn[i], hsyn[i] = synapse_decay(kind, isyn[i], hsyn[i], decay, rise_decay, dt)


def _reset(v, u, c, d, flag):
    for i in range(v.shape[0]):
        if flag[i]:
            v[i] = c[i]
            u[i] = u[i] + d[i]


def _traces(kind, fast, rise, x, flag, decay, rise_decay, inc, dt):
    for i in range(fast.shape[0]):
        fast[i], rise[i] = feature_step(kind, fast[i], rise[i], np.float64(flag[i]), decay,
                                        rise_decay, inc, dt)
        x[i] = fast[i]


def _slow_traces(slow, x, flag, decay, scale):
    for i in range(slow.shape[0]):
        slow[i] = slow[i] * decay + np.float64(flag[i])
        x[i] = slow[i] * scale


def _centre(x, mean, rate):
    for i in range(x.shape[0]):
        x[i], mean[i] = centre(np.float64(x[i]), mean[i], rate)


def _first_at_least(indices, left, right, value):
    """First position in the sorted ``indices[left:right]`` holding an id >= ``value``."""
    while left < right:
        mid = (left + right) // 2
        if indices[mid] < value:
            left = mid + 1
        else:
            right = mid
    return left


def _add_sparse_rows(target, scale, delta, spikes, count, indptr, indices, w_data, lo, hi):
    """Rows of the spiking neurons, restricted to postsynaptic ids in [lo, hi), into the
    whole-network array ``target``, row by row in increasing presynaptic id. The range's part
    of a row is found by binary search, so the inner loop is a plain counted scatter; ids go
    in unsigned (numba then skips its negative-index wraparound on every access)."""
    n = target.shape[0]
    for q in range(count):
        j = spikes[q]
        start = indptr[j]
        end = indptr[j + 1]
        if lo > 0:
            start = _first_at_least(indices, start, end, lo)
        if hi < n:
            end = _first_at_least(indices, start, end, hi)
        if delta:
            for k in range(start, end):
                post = np.uint64(indices[k])
                target[post] = target[post] + w_data[k]
        else:
            for k in range(start, end):
                post = np.uint64(indices[k])
                target[post] = target[post] + scale * np.float64(w_data[k])


# ---- the two phases of a step, for neurons [lo, hi)

def _neurons(p, s, io, t, noise, lo, hi, cur, words, flag):
    """Phase 1: input current, (v, u) update, threshold flag."""
    c = cur[lo:hi]
    if p.has_noise:
        _noisy_bias(c, p.bias[lo:hi], p.sigma[lo:hi], words[lo:], lo, noise.k0, noise.k1,
                    noise.step0 + t)
    else:
        _set(c, p.bias[lo:hi])
    for ch in range(p.proj.shape[0]):
        drive = np.float64(io.drive[t, ch])
        if drive != 0.0:
            _add_scaled(c, drive, p.proj[ch, lo:hi])
    if p.syn_kind != 0:
        _add(c, s.isyn[lo:hi])
    if s.fb.shape[0] > 0:
        _add(c, s.fb[lo:hi])
    _integrate(s.v[lo:hi], s.u[lo:hi], p.a[lo:hi], p.b[lo:hi], c, p.form, p.scheme, p.dt,
               p.k, p.vr, p.vt, p.C)
    _threshold(flag[lo:hi], s.v[lo:hi], p.v_peak)


def _post(p, s, spikes, count, lo, hi, flag, with_features):
    """Phase 2: synaptic decay, propagation into [lo, hi), reset, features."""
    kind = p.syn_kind
    if kind != 0:
        _decay(kind, s.isyn[lo:hi], s.hsyn[lo:hi], p.syn_decay, p.syn_rise_decay, p.dt)
    whole = s.v if kind == 0 else (s.isyn if kind == 1 else s.hsyn)
    if p.dense:
        target = whole[lo:hi]
        for q in range(count):
            if kind == 0:     # delta: the reference adds w itself, unscaled
                _add(target, p.w_dense[spikes[q], lo:hi])
            else:
                _add_scaled(target, p.syn_scale, p.w_dense[spikes[q], lo:hi])
    else:
        _add_sparse_rows(whole, p.syn_scale, kind == 0, spikes, count, p.indptr, p.indices,
                         p.w_data, lo, hi)
    f = flag[lo:hi]
    _reset(s.v[lo:hi], s.u[lo:hi], p.c[lo:hi], p.d[lo:hi], f)
    if not with_features:
        return
    n = s.v.shape[0]
    _traces(p.feat_kind, s.ffast[lo:hi], s.frise[lo:hi], s.x[lo:hi], f, p.f_decay,
            p.f_rise_decay, p.f_inc, p.dt)
    if p.has_slow:
        _slow_traces(s.fslow[lo:hi], s.x[n + lo:n + hi], f, p.s_decay, p.s_scale)
    if p.center:
        _centre(s.x[lo:hi], s.fmean[lo:hi], p.c_rate)
        if p.has_slow:
            _centre(s.x[n + lo:n + hi], s.fmean[n + lo:n + hi], p.c_rate)


def _lane_dot(w, x):
    """sum_j w[j] x[j] in float64, in the lane order of ``reference.lane_dot``: element j into
    lane j % 8, each lane from 0.0 left to right, lanes combined in a fixed tree. The eight
    independent sums fill a vector register; one sequential sum would wait on each add."""
    n = x.shape[0]
    m = n - n % 8
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    for j in range(0, m, 8):
        a0 += np.float64(w[j]) * np.float64(x[j])
        a1 += np.float64(w[j + 1]) * np.float64(x[j + 1])
        a2 += np.float64(w[j + 2]) * np.float64(x[j + 2])
        a3 += np.float64(w[j + 3]) * np.float64(x[j + 3])
        a4 += np.float64(w[j + 4]) * np.float64(x[j + 4])
        a5 += np.float64(w[j + 5]) * np.float64(x[j + 5])
        a6 += np.float64(w[j + 6]) * np.float64(x[j + 6])
        a7 += np.float64(w[j + 7]) * np.float64(x[j + 7])
    tail = n - m
    if tail > 0:
        a0 += np.float64(w[m]) * np.float64(x[m])
    if tail > 1:
        a1 += np.float64(w[m + 1]) * np.float64(x[m + 1])
    if tail > 2:
        a2 += np.float64(w[m + 2]) * np.float64(x[m + 2])
    if tail > 3:
        a3 += np.float64(w[m + 3]) * np.float64(x[m + 3])
    if tail > 4:
        a4 += np.float64(w[m + 4]) * np.float64(x[m + 4])
    if tail > 5:
        a5 += np.float64(w[m + 5]) * np.float64(x[m + 5])
    if tail > 6:
        a6 += np.float64(w[m + 6]) * np.float64(x[m + 6])
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))


def _axpy(y, a, x):
    """y += a * x (x converted to float64 first), elementwise."""
    for j in range(y.shape[0]):
        y[j] = y[j] + a * np.float64(x[j])


def _readout(r, s, io, t):
    """One step of the readouts. Returns -1, or the first output k whose z is not finite
    (its weights diverged): then it stops right after computing the outputs, before any
    learning, as every backend does."""
    g = np.float64(io.gate[t])
    n_out, n_feat = r.W.shape
    x = s.x
    if g > 0.0 and r.counters[0] == 0:
        r.W0[:, :] = r.W
    r.counters[0] = 1 if g > 0.0 else 0
    learning = r.rule != 0
    for k in range(n_out):
        r.z[k] = _lane_dot(r.W[k], x)
        # rows that do not learn inside the kernel equal their snapshot: z0 is z
        if g > 0.0 and learning and r.online[k] > 0.0:
            r.z0[k] = _lane_dot(r.W0[k], x)
        else:
            r.z0[k] = r.z[k]
    for k in range(n_out):
        if r.z[k] - r.z[k] != 0.0:
            return k
    elig = r.elig
    if r.e_decay == 0.0:
        for j in range(n_feat):
            elig[j] = x[j]
    else:
        decay = r.e_decay
        for j in range(n_feat):
            elig[j] = elig[j] * decay + x[j]
    if g > 0.0:
        r.fsums[0] += _lane_dot(x, x)
        r.fsums[1] += 1.0
        if r.rule == 3:
            if r.counters[2] % r.rls_every == 0:
                for k in range(n_out):
                    r.err[k] = (r.z[k] - io.target[t, k]) if r.online[k] > 0.0 else 0.0
                _rls_update(r, x)
            r.counters[2] += 1
        elif r.rule >= 4:     # a plug-in local rule, per synapse (kernels/plugins.py)
            for k in range(n_out):
                if r.online[k] > 0.0:
                    e = np.float64(io.target[t, k]) - r.z[k]
                    zk = r.z[k]
                    wk = r.W[k]
                    uk = r.U[k]
                    for j in range(n_feat):
                        w, u = _local_update(np.float64(wk[j]), np.float64(uk[j]),
                                             np.float64(x[j]), np.float64(elig[j]), zk, e, g,
                                             r.hyper)
                        wk[j] = w
                        uk[j] = u
    if io.tag[t]:
        _axpy(r.tag_sum, 1.0, x)
        r.counters[1] += 1
    n_enc = r.enc.shape[0]
    if n_enc > 0:
        for i in range(r.enc.shape[1]):
            acc = 0.0
            for k in range(n_enc):
                acc = acc + np.float64(r.enc[k, i]) * r.z[k]
            s.fb[i] = acc
    return -1


def _rls_update(r, x):
    """One RLS update of the readout (rule 3). float64 P: the single-pass
    :func:`rls_step_lazy` (its rank-1 update of P pending in ``r.rls_work``); float32 P:
    the two-pass :func:`rls_step` (``r.rls_work[0]`` its k), which measured faster there
    (``benchmarks/b7_force_loop.py``, the FORCE loop at n_feat = 2000, medians of 7 runs:
    two-pass / lazy time 1.24x in float64, 0.82x in float32; benchmarks/RESULTS.md). With
    lam = 1 both give the same bits."""
    if r.P.itemsize == 8:
        rls_step_lazy(r.P, r.W, x, r.err, r.lam, r.rls_work)
    else:
        rls_step(r.P, r.W, x, r.err, r.lam, r.rls_work[0])


def _settle_rls(r):
    """Apply the RLS update still pending in ``r.rls_work`` to P (:func:`rls_step_lazy`
    defers each rank-1 update to the next one): every return of the chunk loop calls this,
    so between calls P is the true P (checkpoints, learners, other backends read it)."""
    if r.rule == 3:
        n = r.P.shape[0]
        if r.rls_work[1, n] != 1.0 or r.rls_work[1, n + 1] != 0.0:
            rls_flush(r.P, r.rls_work)


def _chunk(p, s, r, io, rec, noise, t0, n_steps, n_parts):
    """Advance from step ``t0`` to ``n_steps`` with the neurons cut into ``n_parts`` ranges."""
    n = s.v.shape[0]
    spikes = np.empty(n, dtype=np.int64)
    flag = np.zeros(n, dtype=np.uint8)
    cur = np.empty(n, dtype=np.float64)
    words = np.empty(4 * ((n + 3) // 4), dtype=np.uint32)
    bounds = np.empty(n_parts + 1, dtype=np.int64)
    per = 4 * (((n + 3) // 4 + n_parts - 1) // n_parts)
    for q in range(n_parts + 1):
        bounds[q] = min(q * per, n)
    n_traces = rec.trace_ids.shape[0]
    with_features = r.W.shape[0] > 0          # features feed the readouts only
    for t in range(t0, n_steps):
        if rec.record_spikes and rec.n_spk[0] + n > rec.spk_step.shape[0]:
            _settle_rls(r)
            return t
        for q in prange(n_parts):
            _neurons(p, s, io, t, noise, bounds[q], bounds[q + 1], cur, words, flag)
        count = 0
        for i in range(n):
            if flag[i]:
                if flag[i] == 2:     # v not finite: stop before anything of step t is kept
                    rec.fault[0] = t
                    rec.fault[1] = 0
                    rec.fault[2] = i
                    _settle_rls(r)
                    return t
                spikes[count] = i
                count += 1
        for q in prange(n_parts):
            _post(p, s, spikes, count, bounds[q], bounds[q + 1], flag, with_features)
        if with_features:
            if p.bias_feature:
                s.x[s.x.shape[0] - 1] = 1.0
            bad = _readout(r, s, io, t)
            if bad >= 0:      # output not finite: its weights diverged
                rec.fault[0] = t
                rec.fault[1] = 1
                rec.fault[2] = bad
                _settle_rls(r)
                return t
            for k in range(r.W.shape[0]):
                rec.z[t, k] = r.z[k]
                rec.z0[t, k] = r.z0[k]
        rec.rate[t] = count
        if rec.record_spikes:
            base = rec.n_spk[0]
            for q in range(count):
                rec.spk_step[base + q] = t
                rec.spk_id[base + q] = spikes[q]
            rec.n_spk[0] = base + count
        for q in range(n_traces):
            rec.traces[t, q] = s.v[rec.trace_ids[q]]
    _settle_rls(r)
    return n_steps


for _name in ("_noisy_bias", "_set", "_add", "_add_scaled", "_integrate", "_threshold",
              "_decay", "_reset", "_traces", "_slow_traces", "_centre", "_first_at_least",
              "_add_sparse_rows", "_neurons", "_post", "_lane_dot", "_axpy", "_readout",
              "_rls_update", "_settle_rls"):
    globals()[_name] = njit(cache=True)(globals()[_name])
# Numba's disk cache files a function under its qualified name and line, not its jit
# options: compiled from one function object, the parallel and the serial form would load
# each other's cached code. Each form is compiled from its own renamed copy.
_chunk_serial = njit(cache=True)(plugins.specialise(_chunk, "_chunk_serial", {}))
_chunk_parallel = njit(cache=True, parallel=True)(
    plugins.specialise(_chunk, "_chunk_parallel", {}))
_PLUGIN_KERNELS = {}


def _kernels_for(code):
    """(serial, parallel) chunk kernels of plug-in rule ``code``: renamed copies of the loop
    and of ``_readout`` with the rule's update inlined, cached on disk per rule."""
    if code not in _PLUGIN_KERNELS:
        rule = plugins.rule(code)
        readout = njit(cache=True)(plugins.specialise(
            _readout.py_func, f"_readout__{rule.name}",
            {"_local_update": njit(inline="always")(rule.update)}, rule.source))
        _PLUGIN_KERNELS[code] = tuple(
            njit(cache=True, parallel=par)(plugins.specialise(
                _chunk, f"_chunk_{form}__{rule.name}", {"_readout": readout}, rule.source))
            for form, par in (("serial", False), ("parallel", True)))
    return _PLUGIN_KERNELS[code]


def run_chunk(p, s, r, io, rec, noise, t0, n_steps):
    """Advance from step ``t0`` to ``n_steps`` in place; see ``reference.run_chunk``.

    Runs in parallel over ``numba.get_num_threads()`` neuron ranges when there are at least
    ``PARALLEL_MIN_NEURONS`` neurons; the result is the same bits either way.
    """
    serial, parallel = ((_chunk_serial, _chunk_parallel) if r.rule < plugins.FIRST_CODE
                        else _kernels_for(r.rule))
    threads = numba.get_num_threads()
    if threads > 1 and s.v.shape[0] >= PARALLEL_MIN_NEURONS:
        return parallel(p, s, r, io, rec, noise, t0, n_steps, threads)
    return serial(p, s, r, io, rec, noise, t0, n_steps, 1)
