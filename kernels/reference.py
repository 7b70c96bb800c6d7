"""Plain NumPy reference kernel: the oracle every other backend is tested against.

One step, in Brian2's default schedule order:

1. input current  I = bias + sigma * noise + sum_c drive_c * proj_c + isyn + fb, the noise
                  being the counter-based draw of (step, neuron) (``kernels/rng.py``)
2. state update   (v, u) by the integration scheme, with I held over the step
3. threshold      spiking = v >= v_peak; a non-finite v stops the run (``Recording.fault``)
4. synapses       each spiking neuron j (in increasing j) adds its weight row to v (delta),
                  or to the synaptic current variables, which decay first
5. reset          v = c, u += d for spiking neurons
6. features       filtered spike trains, centring, readout z = W x, learning, feedback

Arithmetic is written in the same order as the compiled kernel (``kernels/cpu.py``) so that
float64 results agree bitwise: scalars are evaluated in float64, dot products are summed in
8 interleaved lanes (element j into lane j % 8, each lane left to right, then the lanes in a
fixed tree; :func:`lane_dot`), and spikes are propagated one presynaptic row at a time.
"""
import numpy as np

from . import plugins
from .rls import rls_step_reference
from .rng import normals_host


LANES = 8


def lane_dot(matrix, vector):
    """Row-wise dot products in float64, summed the way the compiled kernel sums them.

    Element j goes to lane j % 8; each lane is summed left to right from 0.0; the lanes are
    then combined as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). Eight independent
    sums let the CPU kernel keep them in one vector register (a plain left-to-right sum is
    one add's latency per element).
    """
    matrix = np.atleast_2d(matrix)
    rows, n = matrix.shape
    prod = np.zeros((rows, -(-n // LANES) * LANES))
    prod[:, :n] = matrix.astype(np.float64) * np.asarray(vector, np.float64)
    lanes = np.zeros((rows, LANES))
    for block in prod.reshape(rows, -1, LANES).transpose(1, 0, 2):
        lanes = lanes + block
    return (((lanes[:, 0] + lanes[:, 1]) + (lanes[:, 2] + lanes[:, 3]))
            + ((lanes[:, 4] + lanes[:, 5]) + (lanes[:, 6] + lanes[:, 7])))


def _dv(p, v, u, current):
    if p.form == 0:
        return 0.04 * v * v + 5.0 * v + 140.0 - u + current
    return (p.k * (v - p.vr) * (v - p.vt) - u + current) / p.C


def _du(p, v, u):
    if p.form == 0:
        return p.a * (p.b * v - u)
    return p.a * (p.b * (v - p.vr) - u)


def _neurons(p, s, io, t, noise):
    n = s.v.shape[0]
    current = p.bias.astype(np.float64)
    if p.has_noise:
        current = current + p.sigma * normals_host((noise.k0, noise.k1), noise.step0 + t, 1, n)[0]
    for ch in range(p.proj.shape[0]):
        if io.drive[t, ch] != 0.0:
            current = current + np.float64(io.drive[t, ch]) * p.proj[ch].astype(np.float64)
    if p.syn_kind != 0:
        current = current + s.isyn
    if s.fb.shape[0] > 0:
        current = current + s.fb
    v = s.v.astype(np.float64)
    u = s.u.astype(np.float64)
    if p.scheme == 0:
        half = 0.5 * p.dt
        v = v + half * _dv(p, v, u, current)
        v = v + half * _dv(p, v, u, current)
        u = u + p.dt * _du(p, v, u)
    else:
        dv = _dv(p, v, u, current)
        du = _du(p, v, u)
        v = v + p.dt * dv
        u = u + p.dt * du
    s.v[:] = v
    s.u[:] = u
    return spike_flags(s.v, p.v_peak)


def spike_flags(v, v_peak):
    """0 no spike, 1 spike, 2 ``v`` not finite (``equations.spike_flag``, vectorised)."""
    v = np.asarray(v, np.float64)
    with np.errstate(invalid="ignore"):
        bad = v - v != 0.0
    return np.where(bad, 2, np.where(v >= v_peak, 1, 0))


def _synapses(p, s, spiking):
    if p.syn_kind == 0:
        target, scale = s.v, 1.0
    elif p.syn_kind == 1:
        s.isyn[:] = s.isyn * p.syn_decay
        target, scale = s.isyn, p.syn_scale
    else:
        s.isyn[:] = s.isyn * p.syn_rise_decay + s.hsyn * p.dt
        s.hsyn[:] = s.hsyn * p.syn_decay
        target, scale = s.hsyn, p.syn_scale
    for j in spiking:
        if p.dense:
            target[:] = target + scale * p.w_dense[j].astype(np.float64)
        else:
            lo, hi = p.indptr[j], p.indptr[j + 1]
            post = p.indices[lo:hi]
            target[post] = target[post] + scale * p.w_data[lo:hi].astype(np.float64)


def _features(p, s, spiked):
    n = s.v.shape[0]
    if p.feat_kind == 0:
        s.ffast[:] = s.ffast * p.f_decay + spiked
    else:
        s.ffast[:] = s.ffast * p.f_rise_decay + s.frise * p.dt
        s.frise[:] = s.frise * p.f_decay + spiked * p.f_inc
    s.x[:n] = s.ffast
    m = n
    if p.has_slow:
        s.fslow[:] = s.fslow * p.s_decay + spiked
        s.x[n:2 * n] = s.fslow * p.s_scale
        m = 2 * n
    if p.center:
        raw = s.x[:m].astype(np.float64)
        s.x[:m] = raw - s.fmean[:m]
        s.fmean[:m] = s.fmean[:m] + p.c_rate * (raw - s.fmean[:m])
    if p.bias_feature:
        s.x[m] = 1.0


def _readout(r, s, io, t):
    """One step of the readouts; returns -1, or the first output whose z is not finite
    (then it stops before learning)."""
    g = np.float64(io.gate[t])
    x = s.x.astype(np.float64)
    if g > 0.0 and r.counters[0] == 0:
        r.W0[:] = r.W
    r.counters[0] = 1 if g > 0.0 else 0
    r.z[:] = lane_dot(r.W, x) if r.W.shape[0] else r.z
    r.z0[:] = lane_dot(r.W0, x) if g > 0.0 and r.W.shape[0] else r.z
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(r.z - r.z != 0.0)
    if bad.size:
        return bad[0]
    if r.e_decay == 0.0:
        r.elig[:] = x
    else:
        r.elig[:] = r.elig * r.e_decay + x
    if g > 0.0:
        r.fsums[0] += lane_dot(x, x)[0]
        r.fsums[1] += 1.0
        if r.rule == 3:
            if r.counters[2] % r.rls_every == 0:
                for k in range(r.W.shape[0]):
                    r.err[k] = (r.z[k] - io.target[t, k]) if r.online[k] > 0.0 else 0.0
                rls_step_reference(r.P, r.W, x.astype(r.P.dtype), r.err, r.lam)
            r.counters[2] += 1
        elif r.rule >= plugins.FIRST_CODE:   # a plug-in local rule on whole rows at once
            update = plugins.rule(r.rule).update
            elig = r.elig.astype(np.float64)
            for k in range(r.W.shape[0]):
                if r.online[k] > 0.0:
                    e = np.float64(io.target[t, k]) - r.z[k]
                    r.W[k], r.U[k] = update(r.W[k].astype(np.float64),
                                            r.U[k].astype(np.float64), x, elig, r.z[k], e, g,
                                            r.hyper)
    if io.tag[t]:
        r.tag_sum[:] = r.tag_sum + x
        r.counters[1] += 1
    if r.enc.shape[0] > 0:
        fb = np.zeros(r.enc.shape[1])
        for k in range(r.enc.shape[0]):
            fb = fb + r.enc[k] * r.z[k]
        s.fb[:] = fb
    return -1


def run_chunk(p, s, r, io, rec, noise, t0, n_steps):
    """Advance the network from step ``t0`` to ``n_steps`` of the chunk, in place.

    ``noise`` (a ``Noise`` record) keys the draws: step ``t`` of the chunk draws global
    step ``noise.step0 + t``.

    Returns the step at which it stopped: ``n_steps``, or earlier if the spike buffer could
    not hold another step's worth of spikes (the caller empties it and calls again), or
    earlier when the run diverged at that step: then ``rec.fault`` holds [step, kind,
    index] (kind 0: the lowest neuron whose v is not finite after the state update; kind 1:
    the first readout output that is not finite) and nothing of that step is recorded.
    """
    n = s.v.shape[0]
    for t in range(t0, n_steps):
        if rec.record_spikes and rec.n_spk[0] + n > rec.spk_step.shape[0]:
            return t
        flags = _neurons(p, s, io, t, noise)
        bad = np.flatnonzero(flags == 2)
        if bad.size:
            rec.fault[:] = (t, 0, bad[0])
            return t
        spiking = np.flatnonzero(flags == 1)
        _synapses(p, s, spiking)
        s.v[spiking] = p.c[spiking]
        s.u[spiking] = s.u[spiking] + p.d[spiking]
        spiked = np.zeros(n)
        spiked[spiking] = 1.0
        if r.W.shape[0] > 0:  # features feed the readouts only
            _features(p, s, spiked)
            bad = _readout(r, s, io, t)
            if bad >= 0:
                rec.fault[:] = (t, 1, bad)
                return t
            rec.z[t] = r.z
            rec.z0[t] = r.z0
        rec.rate[t] = spiking.size
        if rec.record_spikes:
            k = rec.n_spk[0]
            rec.spk_step[k:k + spiking.size] = t
            rec.spk_id[k:k + spiking.size] = spiking
            rec.n_spk[0] = k + spiking.size
        if rec.trace_ids.shape[0] > 0:
            rec.traces[t] = s.v[rec.trace_ids]
    return n_steps
