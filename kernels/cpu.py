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
def _neurons(p, s, io, t, rng, spikes):
    """State update and threshold; fills ``spikes`` and returns how many neurons spiked."""
    n = s.v.shape[0]
    n_ch = p.proj.shape[0]
    has_fb = s.fb.shape[0] > 0
    has_noise, current_syn = p.has_noise, p.syn_kind != 0
    form, euler, dt, half = p.form, p.scheme == 1, p.dt, 0.5 * p.dt
    k, vr, vt, C, v_peak = p.k, p.vr, p.vt, p.C, p.v_peak
    count = 0
    for i in range(n):
        current = np.float64(p.bias[i])
        if has_noise:
            current = current + p.sigma[i] * rng.standard_normal()
        for ch in range(n_ch):
            drive = io.drive[t, ch]
            if drive != 0.0:
                current = current + np.float64(drive) * p.proj[ch, i]
        if current_syn:
            current = current + s.isyn[i]
        if has_fb:
            current = current + s.fb[i]
        v = np.float64(s.v[i])
        u = np.float64(s.u[i])
        a_i = np.float64(p.a[i])
        b_i = np.float64(p.b[i])
        if form == 0:
            if euler:
                dv = 0.04 * v * v + 5.0 * v + 140.0 - u + current
                du = a_i * (b_i * v - u)
                v = v + dt * dv
                u = u + dt * du
            else:
                v = v + half * (0.04 * v * v + 5.0 * v + 140.0 - u + current)
                v = v + half * (0.04 * v * v + 5.0 * v + 140.0 - u + current)
                u = u + dt * (a_i * (b_i * v - u))
        else:
            if euler:
                dv = (k * (v - vr) * (v - vt) - u + current) / C
                du = a_i * (b_i * (v - vr) - u)
                v = v + dt * dv
                u = u + dt * du
            else:
                v = v + half * ((k * (v - vr) * (v - vt) - u + current) / C)
                v = v + half * ((k * (v - vr) * (v - vt) - u + current) / C)
                u = u + dt * (a_i * (b_i * (v - vr) - u))
        s.v[i] = v
        s.u[i] = u
        if s.v[i] >= v_peak:
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
    for k in range(n_out):
        acc = 0.0
        for j in range(n_feat):
            acc += np.float64(r.W[k, j]) * np.float64(x[j])
        r.z[k] = acc
        if g > 0.0:
            acc0 = 0.0
            for j in range(n_feat):
                acc0 += np.float64(r.W0[k, j]) * np.float64(x[j])
            r.z0[k] = acc0
        else:
            r.z0[k] = r.z[k]
    for j in range(n_feat):
        if r.e_decay == 0.0:
            r.elig[j] = x[j]
        else:
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
    n_traces = rec.trace_ids.shape[0]
    for t in range(t0, n_steps):
        if rec.record_spikes and rec.n_spk[0] + n > rec.spk_step.shape[0]:
            return t
        count = _neurons(p, s, io, t, rng, spikes)
        _synapses(p, s, spikes, count)
        for q in range(count):
            j = spikes[q]
            s.v[j] = p.c[j]
            s.u[j] = s.u[j] + p.d[j]
            spiked[j] = 1.0
        _features(p, s, spiked)
        for q in range(count):
            spiked[spikes[q]] = 0.0
        if r.W.shape[0] > 0:
            _readout(r, s, io, t)
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
    return n_steps
