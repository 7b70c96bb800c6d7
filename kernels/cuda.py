"""numba-cuda kernels: a whole chunk of steps per launch, one thread block per network.

This module is a leaf (numpy + numba only). It is imported lazily by ``neurosim.gpu``; it
works on real device arrays (CuPy, via ``__cuda_array_interface__``) and, under
``NUMBA_ENABLE_CUDASIM=1``, on NumPy arrays standing in for them.

Launch layout
-------------
``chunk_kernel[B, T]``: block ``b`` simulates replicate network ``b`` (``B`` independent
networks of the same size and configuration); its ``T`` threads (a power of two, at most
``MAX_THREADS``) loop over the steps ``tpos[b] .. t_end - 1`` with ``cuda.syncthreads()``
between the phases of one step, in the order of ``kernels/reference.py``:

1. neuron update (thread ``i mod T`` owns neuron ``i``) and threshold into ``flag``;
2. ordered compaction of the spiking ids into ``splist`` (each thread counts a contiguous
   slice of ``flag``, block-wide prefix sum, in-order write), so rows are added in
   increasing presynaptic id exactly as the reference does -- deterministic, no atomics;
3. synaptic decay, then propagation: dense, a thread adds column ``i`` of every spiking
   row to its own targets; CSR (indices sorted within each row), a thread owns a
   contiguous slice of postsynaptic ids and binary-searches each spiking row for it;
4. reset; feature traces (+ centring) when there is a readout; spike / rate / trace
   recording into device buffers;
5. readout: ``z = W x`` (block tree reduction), eligibility, then a local rule's update per
   synapse (rule >= 4, e.g. the three-factor ``"online"`` and ``"accumulate"``: the kernel
   of :func:`kernel_for`, compiled with the rule's function, ``kernels/plugins.py``);
   for RLS (rule 3, built in) the kernel writes the a-priori error at each due step and
   then either applies the update itself (``rls_fused``: the block's threads compute
   ``k = P x`` a column each, ``c`` by a block sum, then the rank-1 update of P and W; no
   launch ends) or the host stops the launch after the due step and applies it with CuPy
   (cuBLAS, :func:`rls_update`); tag sums; feedback ``fb = enc^T z``.

A block stops early (``tpos[b]`` < ``t_end``) when its spike buffer could not hold another
step's worth of spikes (the same protocol as the CPU kernels), or when its network diverged
at step ``t`` (``fault[b]`` = [t, kind, index], see ``kernels/records.py``): a neuron whose v
is not finite after the update (flag 2; ``cuda.atomic.min`` in shared memory picks the
lowest one, as the CPU kernels report) or a readout output that is not finite (its block
sum is the same in every thread). Every thread of the block sees the same value after a
``syncthreads`` and leaves the loop together, before anything of step ``t`` is recorded; a
later launch does not run a faulted block again.

Noise
-----
The counter-based draws of ``kernels/rng.py`` (Philox-4x32-10 and a ziggurat), keyed by
``keys[b]`` and the global step ``step0 + t``: the same numbers every CPU backend draws, so
a seed gives the same run on every backend. The equations come from ``kernels/equations.py``,
the same source the CPU kernel compiles.
"""
from collections import namedtuple

import numpy as np
from numba import cuda, float64, int64

from . import plugins
from .equations import centre, feature_step, neuron_step, spike_flag, synapse_decay
from .rng import normal

# a local rule's per-synapse update: none in the generic kernel (:func:`kernel_for`)
_local_update = plugins.no_update

MAX_THREADS = 1024

# The kernel's scalar arguments, one record built from the kernel records' fields by name
# (``scalars``): Params fields, Readout fields, then the launch's sizes and switches.
PARAM_SCALARS = ("dt", "C", "k", "vr", "vt", "v_peak", "syn_decay", "syn_rise_decay",
                 "syn_scale", "f_decay", "f_rise_decay", "f_inc", "s_decay", "s_scale", "c_rate",
                 "form", "scheme", "has_noise", "dense", "syn_kind", "feat_kind", "has_slow",
                 "center", "bias_feature")
READOUT_SCALARS = ("e_decay", "rule", "rls_every", "lam")
LAUNCH_SCALARS = ("record", "n_ch", "n_out", "n_feat", "n_enc", "n_tr", "has_fb", "cap",
                  "rls_fused")
Scalars = namedtuple("Scalars", PARAM_SCALARS + READOUT_SCALARS + LAUNCH_SCALARS)


def scalars(params, readout, **launch) -> Scalars:
    """The kernel's scalar record from a ``Params`` and a ``Readout`` record and the launch's
    values (``LAUNCH_SCALARS``): floats as float64, integers and flags as int64, so that one
    compiled kernel serves every configuration."""
    values = {f: getattr(params, f) for f in PARAM_SCALARS}
    values.update({f: getattr(readout, f) for f in READOUT_SCALARS})
    values["rls_every"] = max(1, int(values["rls_every"]))
    values.update(launch)
    return Scalars(**{f: np.float64(v) if isinstance(v, (float, np.floating)) else np.int64(v)
                      for f, v in values.items()})


@cuda.jit(device=True)
def _block_sum(sh, val, tid, nt):
    """Sum of ``val`` over the block (fixed tree order); every thread gets the total."""
    sh[tid] = val
    cuda.syncthreads()
    s = nt // 2
    while s > 0:
        if tid < s:
            sh[tid] += sh[tid + s]
        cuda.syncthreads()
        s //= 2
    total = sh[0]
    cuda.syncthreads()
    return total


@cuda.jit(device=True)
def _block_scan(sh, val, tid, nt):
    """Inclusive prefix sum of ``val`` over thread ids; returns (own prefix, block total)."""
    sh[tid] = val
    cuda.syncthreads()
    off = 1
    while off < nt:
        add = sh[tid - off] if tid >= off else 0
        cuda.syncthreads()
        sh[tid] += add
        cuda.syncthreads()
        off *= 2
    mine = sh[tid]
    total = sh[nt - 1]
    cuda.syncthreads()
    return mine, total


@cuda.jit
def chunk_kernel(a, b, c, d, bias, sigma, proj, w_dense, indptr, indices, w_data,
                 v, u, isyn, hsyn, fb, ffast, frise, fslow, fmean, x,
                 W, W0, U, elig, err, z, z0, tag_sum, enc, online, counters, fsums, hyper,
                 P, kvec, drive, target, gate, tag,
                 spk_step, spk_id, n_spk, rate, trace_ids, traces, rz, rz0,
                 flag, splist, step0, keys, tpos, t_end, fault, sc):
    """Advance replicate ``blockIdx.x`` from ``tpos[b]`` to ``t_end`` (see module docstring).

    Per-replicate arrays have a leading axis B: neuron arrays (B, N); ``proj`` (B, C, N);
    ``w_dense`` (B, N, N); ``indptr`` (B, N+1) into the concatenated ``indices``/``w_data``;
    features (B, F); ``W``/``W0``/``U`` (B, n_out, F); ``enc`` (B, n_enc, N); recording
    ``spk_*`` (B, cap), ``rate`` (B, n_steps), ``traces`` (B, n_steps, n_tr), ``rz``/``rz0``
    (B, n_steps, n_out); ``P`` (B, F, F) RLS's inverse correlation matrix and ``kvec`` (B, F)
    float64 its gain work vector (used with ``sc.rls_fused``); inputs
    ``drive``/``target``/``gate``/``tag`` are shared (n_steps, .).
    Sizes that may be zero come from ``sc`` (arrays are padded to at least one element);
    ``sc`` is the :func:`scalars` record. ``fault`` (B, 3) int64, -1 until the replicate
    diverges.
    """
    rb = cuda.blockIdx.x
    tid = np.int64(cuda.threadIdx.x)
    nt = np.int64(cuda.blockDim.x)
    sh_f = cuda.shared.array(MAX_THREADS, float64)
    sh_i = cuda.shared.array(MAX_THREADS, int64)
    sh_bad = cuda.shared.array(1, int64)      # lowest neuron with a non-finite v, else n
    n = v.shape[1]
    form, scheme, has_noise, dense = sc.form, sc.scheme, sc.has_noise, sc.dense
    syn_kind, feat_kind, has_slow, center = sc.syn_kind, sc.feat_kind, sc.has_slow, sc.center
    bias_feature, rule, rls_every, record = sc.bias_feature, sc.rule, sc.rls_every, sc.record
    n_ch, n_out, n_feat, n_enc, n_tr = sc.n_ch, sc.n_out, sc.n_feat, sc.n_enc, sc.n_tr
    has_fb, cap = sc.has_fb, sc.cap
    dt = sc.dt
    kk, vr, vt, cm, v_peak = sc.k, sc.vr, sc.vt, sc.C, sc.v_peak
    per = (n + nt - 1) // nt
    lo = tid * per                      # (no min(): it does not type in numba's CUDA target)
    if lo > n:
        lo = n
    hi = lo + per
    if hi > n:
        hi = n
    m = 2 * n if has_slow else n
    t = tpos[rb]
    if fault[rb, 0] >= 0:               # diverged in an earlier launch: stays stopped
        return
    if tid == 0:
        sh_bad[0] = n
    while t < t_end:
        cuda.syncthreads()
        base = n_spk[rb]
        if record != 0 and base + n > cap:
            break
        # 1. neurons
        for i in range(tid, n, nt):
            cur = np.float64(bias[rb, i])
            if has_noise != 0:
                cur = cur + sigma[rb, i] * normal(keys[rb, 0], keys[rb, 1], step0 + t, i)
            for ch in range(n_ch):
                dr = drive[t, ch]
                if dr != 0.0:
                    cur = cur + np.float64(dr) * proj[rb, ch, i]
            if syn_kind != 0:
                cur = cur + isyn[rb, i]
            if has_fb != 0:
                cur = cur + fb[rb, i]
            vv, uu = neuron_step(form, scheme, np.float64(v[rb, i]), np.float64(u[rb, i]),
                                 np.float64(a[rb, i]), np.float64(b[rb, i]), cur, dt, kk, vr,
                                 vt, cm)
            v[rb, i] = vv
            u[rb, i] = uu
            fl = spike_flag(np.float64(v[rb, i]), v_peak)
            flag[rb, i] = fl
            if fl == 2:
                cuda.atomic.min(sh_bad, 0, i)
        cuda.syncthreads()
        bad = sh_bad[0]
        if bad < n:                     # the same in every thread: all leave together
            if tid == 0:
                fault[rb, 0] = t
                fault[rb, 1] = 0
                fault[rb, 2] = bad
            break
        # 2. ordered compaction of spiking ids (flags are 0 or 1 here)
        cnt = 0
        for i in range(lo, hi):
            cnt += flag[rb, i]
        incl, total = _block_scan(sh_i, cnt, tid, nt)
        pos = incl - cnt
        for i in range(lo, hi):
            if flag[rb, i] != 0:
                splist[rb, pos] = i
                pos += 1
        # 3. synapses: decay, then add the spiking rows in increasing presynaptic id
        if syn_kind != 0:
            for i in range(tid, n, nt):
                si, hi_ = synapse_decay(syn_kind, isyn[rb, i], hsyn[rb, i], sc.syn_decay,
                                        sc.syn_rise_decay, dt)
                isyn[rb, i] = si
                hsyn[rb, i] = hi_
        cuda.syncthreads()
        tgt = v if syn_kind == 0 else (isyn if syn_kind == 1 else hsyn)
        scale = 1.0 if syn_kind == 0 else sc.syn_scale
        if dense != 0:
            for i in range(tid, n, nt):
                for q in range(total):
                    j = splist[rb, q]
                    tgt[rb, i] = tgt[rb, i] + scale * np.float64(w_dense[rb, j, i])
        elif lo < hi:
            for q in range(total):
                j = splist[rb, q]
                left = indptr[rb, j]
                right = indptr[rb, j + 1]
                end = right
                while left < right:                 # first entry with post id >= lo
                    mid = (left + right) // 2
                    if indices[mid] < lo:
                        left = mid + 1
                    else:
                        right = mid
                idx = left
                while idx < end and indices[idx] < hi:
                    post = indices[idx]
                    tgt[rb, post] = tgt[rb, post] + scale * np.float64(w_data[idx])
                    idx += 1
        cuda.syncthreads()
        # 4. reset, features, recording
        for i in range(tid, n, nt):
            spk = 0.0
            if flag[rb, i] != 0:
                v[rb, i] = c[rb, i]
                u[rb, i] = u[rb, i] + d[rb, i]
                spk = 1.0
            if n_out == 0:              # features feed the readouts only
                continue
            ff, fr = feature_step(feat_kind, ffast[rb, i], frise[rb, i], spk, sc.f_decay,
                                  sc.f_rise_decay, sc.f_inc, dt)
            ffast[rb, i] = ff
            frise[rb, i] = fr
            x[rb, i] = ffast[rb, i]
            if has_slow != 0:
                fslow[rb, i] = fslow[rb, i] * sc.s_decay + spk
                x[rb, n + i] = fslow[rb, i] * sc.s_scale
            if center != 0:
                for jj in range(i, m, n):
                    xc, mc = centre(np.float64(x[rb, jj]), fmean[rb, jj], sc.c_rate)
                    x[rb, jj] = xc
                    fmean[rb, jj] = mc
        if tid == 0:
            if bias_feature != 0 and n_out > 0:
                x[rb, m] = 1.0
            rate[rb, t] = total
        if record != 0:
            for q in range(tid, total, nt):
                spk_step[rb, base + q] = t
                spk_id[rb, base + q] = splist[rb, q]
        cuda.syncthreads()
        for q in range(tid, n_tr, nt):
            traces[rb, t, q] = v[rb, trace_ids[q]]
        # 5. readout
        if n_out > 0:
            g = np.float64(gate[t])
            if g > 0.0 and counters[rb, 0] == 0:
                for e in range(tid, n_out * n_feat, nt):
                    W0[rb, e // n_feat, e % n_feat] = W[rb, e // n_feat, e % n_feat]
                cuda.syncthreads()
            bad_k = -1
            for k in range(n_out):
                part = 0.0
                for j in range(tid, n_feat, nt):
                    part += np.float64(W[rb, k, j]) * np.float64(x[rb, j])
                zk = _block_sum(sh_f, part, tid, nt)
                if bad_k < 0 and zk - zk != 0.0:
                    bad_k = k
                z0k = zk
                if g > 0.0:
                    part = 0.0
                    for j in range(tid, n_feat, nt):
                        part += np.float64(W0[rb, k, j]) * np.float64(x[rb, j])
                    z0k = _block_sum(sh_f, part, tid, nt)
                if tid == 0:
                    z[rb, k] = zk
                    z0[rb, k] = z0k
                    rz[rb, t, k] = zk
                    rz0[rb, t, k] = z0k
            if bad_k >= 0:              # zk is the block's sum, the same in every thread
                if tid == 0:
                    fault[rb, 0] = t
                    fault[rb, 1] = 1
                    fault[rb, 2] = bad_k
                break
            for j in range(tid, n_feat, nt):
                if sc.e_decay == 0.0:
                    elig[rb, j] = x[rb, j]
                else:
                    elig[rb, j] = elig[rb, j] * sc.e_decay + x[rb, j]
            cuda.syncthreads()
            if g > 0.0:
                part = 0.0
                for j in range(tid, n_feat, nt):
                    part += np.float64(x[rb, j]) * np.float64(x[rb, j])
                sq = _block_sum(sh_f, part, tid, nt)
                if tid == 0:
                    fsums[rb, 0] += sq
                    fsums[rb, 1] += 1.0
                if rule >= 4:     # plug-in local rule: each thread its synapses
                    for k in range(n_out):
                        if online[rb, k] > 0.0:
                            zk = z[rb, k]
                            e = np.float64(target[t, k]) - zk
                            for j in range(tid, n_feat, nt):
                                w, uu = _local_update(np.float64(W[rb, k, j]),
                                                      np.float64(U[rb, k, j]),
                                                      np.float64(x[rb, j]),
                                                      np.float64(elig[rb, j]), zk, e, g,
                                                      hyper[rb])
                                W[rb, k, j] = w
                                U[rb, k, j] = uu
                elif rule == 3:
                    due = counters[rb, 2] % rls_every == 0
                    cuda.syncthreads()          # every thread has read the count
                    if tid == 0:
                        if due:
                            for k in range(n_out):
                                err[rb, k] = ((z[rb, k] - target[t, k]) if online[rb, k] > 0.0
                                              else 0.0)
                        counters[rb, 2] += 1
                    if due and sc.rls_fused != 0:
                        cuda.syncthreads()      # err written
                        _rls_block(P, W, kvec, x, err, rb, n_out, n_feat, sc.lam, sh_f, tid,
                                   nt)
            if tag[t] != 0:
                for j in range(tid, n_feat, nt):
                    tag_sum[rb, j] = tag_sum[rb, j] + np.float64(x[rb, j])
            for i in range(tid, n, nt):
                if n_enc > 0:
                    acc = 0.0
                    for k in range(n_enc):
                        acc = acc + np.float64(enc[rb, k, i]) * z[rb, k]
                    fb[rb, i] = acc
            cuda.syncthreads()
            if tid == 0:
                counters[rb, 0] = 1 if g > 0.0 else 0
                if tag[t] != 0:
                    counters[rb, 1] += 1
        cuda.syncthreads()
        if tid == 0 and record != 0:
            n_spk[rb] = base + total
        t += 1
    if tid == 0:
        tpos[rb] = t


@cuda.jit(device=True)
def _rls_block(P, W, kvec, x, err, rb, n_out, nf, lam, sh, tid, nt):
    """One RLS update of replicate ``rb`` by its block (``kernels.rls.rls_step_reference``):
    ``k = P x`` (thread ``i mod nt`` computes k_i from column i of the symmetric P, so a warp
    reads consecutive addresses), ``c = 1 / (lam + x.k)`` (block sum), ``P -= c k k^T``
    (then ``/ lam``), ``W -= c err k^T``; float64 arithmetic, stored in P's and W's dtype."""
    for i in range(tid, nf, nt):
        acc = 0.0
        for j in range(nf):
            acc += np.float64(P[rb, j, i]) * np.float64(x[rb, j])
        kvec[rb, i] = acc
    part = 0.0
    for i in range(tid, nf, nt):
        part += np.float64(x[rb, i]) * kvec[rb, i]
    c = 1.0 / (lam + _block_sum(sh, part, tid, nt))     # (its syncthreads publish kvec)
    for i in range(nf):
        ki = kvec[rb, i]
        for j in range(tid, nf, nt):
            pij = np.float64(P[rb, i, j]) - c * (ki * kvec[rb, j])   # symmetric bit for bit
            if lam != 1.0:
                pij = pij / lam
            P[rb, i, j] = pij
    for k in range(n_out):
        ek = err[rb, k]
        for j in range(tid, nf, nt):
            W[rb, k, j] = np.float64(W[rb, k, j]) - c * (ek * kvec[rb, j])
    cuda.syncthreads()


_PLUGIN_KERNELS = {}


def kernel_for(rule_code: int):
    """The chunk kernel for readout rule ``rule_code``: ``chunk_kernel`` for the built-in
    rules, else a copy compiled with the plug-in rule's update (one per rule, kept)."""
    if rule_code < plugins.FIRST_CODE:
        return chunk_kernel
    if rule_code not in _PLUGIN_KERNELS:
        rule = plugins.rule(rule_code)
        _PLUGIN_KERNELS[rule_code] = cuda.jit(plugins.specialise(
            chunk_kernel.py_func, f"chunk_kernel__{rule.name}",
            {"_local_update": rule.update}))
    return _PLUGIN_KERNELS[rule_code]


# ---------------------------------------------------------------- host-side companions

def rls_update(xp, P, W, x, err, lam):
    """Batched RLS step (see ``kernels.rls.rls_step_reference``), in place, via ``xp``.

    P (B, F, F), W (B, n_out, F), x (B, F), err (B, n_out) float64; cuBLAS on CuPy.
    """
    x = x.astype(P.dtype)
    k = xp.matmul(P, x[:, :, None])[:, :, 0]
    c = 1.0 / (lam + xp.sum(x * k, axis=1))
    P -= c[:, None, None] * (k[:, :, None] * k[:, None, :])
    if lam != 1.0:
        P /= lam
    W -= c[:, None, None] * (err[:, :, None] * k[:, None, :])
