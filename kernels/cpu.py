"""Numba CPU kernel: the whole chunk's time loop in one compiled call.

Same step order and the same float64 arithmetic as ``kernels/reference.py`` (see its
docstring); the two agree bitwise in float64. Noise is drawn inside the loop from a
``numpy.random.Generator`` passed in (numba reproduces NumPy's stream exactly), never with
``np.random.randn``. Spike propagation is event-driven: a weight row per spiking neuron.
"""
import numpy as np
from numba import njit

from .rls import rls_step


@njit(cache=True)
def _currents(p, s, io, t, rng, cur):
    """Input current of every neuron for step ``t`` into ``cur`` (float64, (N,)).

    Summed in the reference's order: bias + noise, each channel in turn, synapses, feedback.
    """
    n = s.v.shape[0]
    if p.has_noise:
        for i in range(n):
            cur[i] = np.float64(p.bias[i]) + p.sigma[i] * rng.standard_normal()
    else:
        for i in range(n):
            cur[i] = np.float64(p.bias[i])
    for ch in range(p.proj.shape[0]):
        drive = np.float64(io.drive[t, ch])
        if drive != 0.0:
            for i in range(n):
                cur[i] = cur[i] + drive * p.proj[ch, i]
    if p.syn_kind != 0:
        for i in range(n):
            cur[i] = cur[i] + s.isyn[i]
    if s.fb.shape[0] > 0:
        for i in range(n):
            cur[i] = cur[i] + s.fb[i]


@njit(cache=True)
def _neurons(p, s, io, t, rng, spikes, cur):
    """State update and threshold; fills ``spikes`` and returns how many neurons spiked.

    One branch-free loop per (model form, scheme), so LLVM can vectorise it.
    """
    _currents(p, s, io, t, rng, cur)
    n = s.v.shape[0]
    dt, half = p.dt, 0.5 * p.dt
    k, vr, vt, C = p.k, p.vr, p.vt, p.C
    v_arr, u_arr, a_arr, b_arr = s.v, s.u, p.a, p.b
    if p.form == 0 and p.scheme == 0:
        for i in range(n):
            v = np.float64(v_arr[i])
            u = np.float64(u_arr[i])
            v = v + half * (0.04 * v * v + 5.0 * v + 140.0 - u + cur[i])
            v = v + half * (0.04 * v * v + 5.0 * v + 140.0 - u + cur[i])
            u = u + dt * (np.float64(a_arr[i]) * (np.float64(b_arr[i]) * v - u))
            v_arr[i] = v
            u_arr[i] = u
    elif p.form == 0:
        for i in range(n):
            v = np.float64(v_arr[i])
            u = np.float64(u_arr[i])
            dv = 0.04 * v * v + 5.0 * v + 140.0 - u + cur[i]
            du = np.float64(a_arr[i]) * (np.float64(b_arr[i]) * v - u)
            v_arr[i] = v + dt * dv
            u_arr[i] = u + dt * du
    elif p.scheme == 0:
        for i in range(n):
            v = np.float64(v_arr[i])
            u = np.float64(u_arr[i])
            v = v + half * ((k * (v - vr) * (v - vt) - u + cur[i]) / C)
            v = v + half * ((k * (v - vr) * (v - vt) - u + cur[i]) / C)
            u = u + dt * (np.float64(a_arr[i]) * (np.float64(b_arr[i]) * (v - vr) - u))
            v_arr[i] = v
            u_arr[i] = u
    else:
        for i in range(n):
            v = np.float64(v_arr[i])
            u = np.float64(u_arr[i])
            dv = (k * (v - vr) * (v - vt) - u + cur[i]) / C
            du = np.float64(a_arr[i]) * (np.float64(b_arr[i]) * (v - vr) - u)
            v_arr[i] = v + dt * dv
            u_arr[i] = u + dt * du
    count = 0
    v_peak = p.v_peak
    for i in range(n):
        if v_arr[i] >= v_peak:
            spikes[count] = i
            count += 1
    return count


@njit(cache=True)
def _synapses(p, s, spikes, count):
    n = s.v.shape[0]
    if p.syn_kind == 0:
        target = s.v
        scale = 1.0
    elif p.syn_kind == 1:
        for i in range(n):
            s.isyn[i] = s.isyn[i] * p.syn_decay
        target = s.isyn
        scale = p.syn_scale
    else:
        for i in range(n):
            s.isyn[i] = s.isyn[i] * p.syn_rise_decay + s.hsyn[i] * p.dt
            s.hsyn[i] = s.hsyn[i] * p.syn_decay
        target = s.hsyn
        scale = p.syn_scale
    if p.syn_kind == 0:
        _add_rows(p, target, spikes, count)
    else:
        _add_scaled_rows(p, target, spikes, count, scale)


@njit(cache=True)
def _add_rows(p, target, spikes, count):
    """target[post] += w for each spiking row, in the state's precision.

    In float32 this equals the reference's float64 sum rounded to float32: a float32 sum
    computed in float64 is exact up to one rounding, and double rounding through float64
    cannot change a float32 sum (53 >= 2 * 24 + 2 bits).
    """
    n = target.shape[0]
    for q in range(count):
        j = spikes[q]
        if p.dense:
            row = p.w_dense[j]
            for i in range(n):
                target[i] = target[i] + row[i]
        else:
            for idx in range(p.indptr[j], p.indptr[j + 1]):
                post = p.indices[idx]
                target[post] = target[post] + p.w_data[idx]


@njit(cache=True)
def _add_scaled_rows(p, target, spikes, count, scale):
    n = target.shape[0]
    for q in range(count):
        j = spikes[q]
        if p.dense:
            row = p.w_dense[j]
            for i in range(n):
                target[i] = target[i] + scale * np.float64(row[i])
        else:
            for idx in range(p.indptr[j], p.indptr[j + 1]):
                post = p.indices[idx]
                target[post] = target[post] + scale * np.float64(p.w_data[idx])


@njit(cache=True)
def _features(p, s, spiked):
    n = s.v.shape[0]
    for i in range(n):
        if p.feat_kind == 0:
            s.ffast[i] = s.ffast[i] * p.f_decay + spiked[i]
        else:
            s.ffast[i] = s.ffast[i] * p.f_rise_decay + s.frise[i] * p.dt
            s.frise[i] = s.frise[i] * p.f_decay + spiked[i] * p.f_inc
        s.x[i] = s.ffast[i]
    m = n
    if p.has_slow:
        for i in range(n):
            s.fslow[i] = s.fslow[i] * p.s_decay + spiked[i]
            s.x[n + i] = s.fslow[i] * p.s_scale
        m = 2 * n
    if p.center:
        for j in range(m):
            raw = np.float64(s.x[j])
            s.x[j] = raw - s.fmean[j]
            s.fmean[j] = s.fmean[j] + p.c_rate * (raw - s.fmean[j])
    if p.bias_feature:
        s.x[m] = 1.0


@njit(cache=True)
def _readout(r, s, io, t):
    g = np.float64(io.gate[t])
    n_out, n_feat = r.W.shape
    x = s.x
    if g > 0.0 and r.counters[0] == 0:
        r.W0[:, :] = r.W
    r.counters[0] = 1 if g > 0.0 else 0
    learning = r.rule != 0
    for k in range(n_out):
        if g > 0.0 and learning and r.online[k] > 0.0:
            # W may have moved since the gate opened: z and z0 in one pass over x
            acc = 0.0
            acc0 = 0.0
            for j in range(n_feat):
                xj = np.float64(x[j])
                acc += np.float64(r.W[k, j]) * xj
                acc0 += np.float64(r.W0[k, j]) * xj
            r.z[k] = acc
            r.z0[k] = acc0
        else:
            # rows that do not learn inside the kernel equal their snapshot: z0 is z
            acc = 0.0
            for j in range(n_feat):
                acc += np.float64(r.W[k, j]) * np.float64(x[j])
            r.z[k] = acc
            r.z0[k] = acc
    if r.e_decay == 0.0:
        for j in range(n_feat):
            r.elig[j] = x[j]
    else:
        for j in range(n_feat):
            r.elig[j] = r.elig[j] * r.e_decay + x[j]
    if g > 0.0:
        sq = 0.0
        for j in range(n_feat):
            sq += np.float64(x[j]) * np.float64(x[j])
        r.fsums[0] += sq
        r.fsums[1] += 1.0
        if r.rule == 1 or r.rule == 2:
            for k in range(n_out):
                if r.online[k] > 0.0:
                    e = np.float64(io.target[t, k]) - r.z[k]
                    if r.rule == 1:
                        coef = r.eta * g * e
                        for j in range(n_feat):
                            r.W[k, j] = r.W[k, j] + coef * np.float64(r.elig[j])
                    else:
                        coef = g * e * r.dt_ms
                        for j in range(n_feat):
                            r.U[k, j] = r.U[k, j] + coef * np.float64(r.elig[j])
        elif r.rule == 3:
            if r.counters[2] % r.rls_every == 0:
                for k in range(n_out):
                    r.err[k] = (r.z[k] - io.target[t, k]) if r.online[k] > 0.0 else 0.0
                rls_step(r.P, r.W, x, r.err, r.lam, r.kbuf)
            r.counters[2] += 1
    if io.tag[t]:
        for j in range(n_feat):
            r.tag_sum[j] = r.tag_sum[j] + np.float64(x[j])
        r.counters[1] += 1
    n_enc = r.enc.shape[0]
    if n_enc > 0:
        for i in range(r.enc.shape[1]):
            acc = 0.0
            for k in range(n_enc):
                acc = acc + np.float64(r.enc[k, i]) * r.z[k]
            s.fb[i] = acc


@njit(cache=True)
def run_chunk(p, s, r, io, rec, rng, t0, n_steps):
    """Advance from step ``t0`` to ``n_steps`` in place; see ``reference.run_chunk``."""
    n = s.v.shape[0]
    spikes = np.empty(n, dtype=np.int64)
    spiked = np.zeros(n, dtype=np.float64)
    cur = np.empty(n, dtype=np.float64)
    n_traces = rec.trace_ids.shape[0]
    for t in range(t0, n_steps):
        if rec.record_spikes and rec.n_spk[0] + n > rec.spk_step.shape[0]:
            return t
        count = _neurons(p, s, io, t, rng, spikes, cur)
        _synapses(p, s, spikes, count)
        for q in range(count):
            j = spikes[q]
            s.v[j] = p.c[j]
            s.u[j] = s.u[j] + p.d[j]
            spiked[j] = 1.0
        if r.W.shape[0] > 0:  # features feed the readouts only
            _features(p, s, spiked)
            _readout(r, s, io, t)
            for k in range(r.W.shape[0]):
                rec.z[t, k] = r.z[k]
                rec.z0[t, k] = r.z0[k]
        for q in range(count):
            spiked[spikes[q]] = 0.0
        rec.rate[t] = count
        if rec.record_spikes:
            base = rec.n_spk[0]
            for q in range(count):
                rec.spk_step[base + q] = t
                rec.spk_id[base + q] = spikes[q]
            rec.n_spk[0] = base + count
        for q in range(n_traces):
            rec.traces[t, q] = s.v[rec.trace_ids[q]]
    return n_steps
