"""Host side of the ``cuda`` backend: device arrays, transfers, RNG keys, batched replicates.

Arrays live in an array module ``xp``: CuPy on a machine with a CUDA GPU, NumPy under
``NUMBA_ENABLE_CUDASIM=1`` (numba's CUDA simulator runs the same kernels on NumPy arrays).
Every host<->device copy goes through :func:`to_device` / :func:`to_host`; nothing else
moves data. CuPy and the kernels are imported lazily: the CPU path never needs them.

Two users:

* :class:`CudaChunkRunner` -- the ``run_chunk`` of the ``cuda`` backend
  (``neurosim.backends``). It follows the CPU contract (host records updated in place): the
  connectivity and constant parameters are uploaded once per ``Params`` record and stay on
  the device; state and readout (O(N + n_feat^2)) are uploaded and downloaded once per call,
  because learners edit them between chunks.
* :func:`neurosim.replicates.run_replicates` -- B independent networks (one per seed) in one
  launch per chunk, everything resident on the device.

This module depends on the kernels and the config only (not on the simulator or the backend
registry).

Noise: drawn on the device with the counter-based generator of ``kernels/rng.py``, keyed by
the run's seed and the global step: the same numbers the CPU kernels draw.
"""
from __future__ import annotations

import os

import numpy as np

from .config import ConfigError
from .kernels.records import State

_STATE_FIELDS = State._fields
_READOUT_ARRAYS = ("W", "W0", "U", "elig", "err", "z", "z0", "tag_sum", "enc", "online",
                   "counters", "fsums", "hyper", "P")
_READOUT_MUTABLE = ("W", "W0", "U", "elig", "err", "z", "z0", "tag_sum", "counters", "fsums", "P")


def cuda_available() -> bool:
    """True if CuPy imports and sees at least one CUDA device."""
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, CUDARuntimeError, missing driver ...
        return False


def simulator_enabled() -> bool:
    """True when numba's CUDA simulator is on (``NUMBA_ENABLE_CUDASIM=1``)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def gpu_usable() -> bool:
    """True if the cuda backend can run here (a visible GPU with CuPy, or the simulator)."""
    return simulator_enabled() or cuda_available()


def array_module():
    """``cupy`` with a real GPU, ``numpy`` under the CUDA simulator."""
    if simulator_enabled():
        return np
    if not cuda_available():
        raise ConfigError("the cuda backend needs CuPy and a visible CUDA GPU (or "
                          "NUMBA_ENABLE_CUDASIM=1 to simulate); install neurosim[gpu]")
    import cupy
    return cupy


def to_device(host):
    """Copy a host array to the device (a fresh array; zero-size dims padded to 1)."""
    host = np.asarray(host)
    if host.size == 0:
        host = np.zeros(tuple(max(1, s) for s in host.shape), host.dtype)
    return array_module().array(np.ascontiguousarray(host), copy=True)


def to_host(dev) -> np.ndarray:
    """Copy a device array to a fresh host NumPy array (synchronises with the device)."""
    if hasattr(dev, "get"):
        return dev.get()
    return np.array(dev, copy=True)


def default_threads(n_neurons: int) -> int:
    """Threads per block: a power of two, small under the simulator (Python threads).

    256 on a GPU whatever N: the chunk kernel is large, and 1024 threads would leave it only
    64 registers each (a launch can fail with 'too many resources'); pass ``threads`` to try
    512 / 1024 for one big network.
    """
    limit = 16 if simulator_enabled() else 256
    t = 1
    while t < min(n_neurons, limit):
        t *= 2
    return t


def rls_due_steps(gate: np.ndarray, count: int, every: int, t0: int) -> np.ndarray:
    """Chunk steps >= t0 at which an RLS update is due (gated, ``count % every == 0``).

    ``count`` is the number of gated steps before ``t0`` (``counters[2]``).
    """
    gated = np.asarray(gate[t0:]) > 0
    before = count + np.cumsum(gated) - gated
    return t0 + np.flatnonzero(gated & (before % every == 0))


class DeviceBatch:
    """B networks of one configuration as device arrays with a leading replicate axis.

    Parameters
    ----------
    params, states, readouts : lists of B host records (``kernels.records``)
    threads : int, optional
        Threads per block (power of two <= ``kernels.cuda.MAX_THREADS``).
    """

    def __init__(self, params, states, readouts, threads=None):
        from .kernels import cuda as kc
        self.kc, self.xp = kc, array_module()
        p0 = params[0]
        self.B, self.n = len(params), p0.a.shape[0]
        self.threads = threads or default_threads(self.n)
        if self.threads & (self.threads - 1) or self.threads > kc.MAX_THREADS:
            raise ConfigError(f"threads = {self.threads}: must be a power of two <= "
                              f"{kc.MAX_THREADS}")
        stack = lambda name: np.stack([getattr(p, name) for p in params])  # noqa: E731
        self.p = {f: to_device(stack(f)) for f in ("a", "b", "c", "d", "bias", "sigma", "proj",
                                                   "w_dense")}
        offsets = np.cumsum([0] + [p.indices.shape[0] for p in params[:-1]])
        for p in params:   # a non-increasing pair of indices may only straddle a row end
            drops = np.flatnonzero(np.diff(p.indices) <= 0) + 1
            if drops.size and not np.all(np.isin(drops, p.indptr)):
                raise ConfigError("CSR indices must be strictly increasing within each row")
        self.p["indptr"] = to_device(np.stack([p.indptr + o for p, o in zip(params, offsets)]))
        self.p["indices"] = to_device(np.concatenate([p.indices for p in params]))
        self.p["w_data"] = to_device(np.concatenate([p.w_data for p in params]))
        self.p0, self.has_fb = p0, states[0].fb.shape[0] > 0
        self.upload_state(states)
        self.upload_readout(readouts)
        self.tpos = to_device(np.zeros(self.B, np.int64))

    # -------------------------------------------------------------- transfers
    def upload_state(self, states):
        self.s = {f: to_device(np.stack([getattr(s, f) for s in states])) for f in _STATE_FIELDS}

    def download_state(self, states):
        for f in _STATE_FIELDS:
            if getattr(states[0], f).size:
                arr = to_host(self.s[f])
                for b, s in enumerate(states):
                    getattr(s, f)[...] = arr[b]

    def upload_readout(self, readouts):
        r0 = readouts[0]
        self.r = {f: to_device(np.stack([getattr(r, f) for r in readouts]))
                  for f in _READOUT_ARRAYS}
        self.r0, self.n_out, self.n_feat = r0, r0.W.shape[0], r0.W.shape[1]
        self.n_enc = r0.enc.shape[0]

    def download_readout(self, readouts):
        for f in _READOUT_MUTABLE:
            if getattr(readouts[0], f).size:
                arr = to_host(self.r[f])
                for b, r in enumerate(readouts):
                    getattr(r, f)[...] = arr[b]

    def new_recording(self, n_steps, cap, trace_ids, record_spikes, dtype):
        """Device recording buffers for one chunk (spike buffers of ``cap`` per replicate)."""
        B, n_out = self.B, self.n_out
        return {"spk_step": to_device(np.zeros((B, cap), np.int32)),
                "spk_id": to_device(np.zeros((B, cap), np.int32)),
                "n_spk": to_device(np.zeros(B, np.int64)),
                "rate": to_device(np.zeros((B, n_steps), np.int32)),
                "trace_ids": to_device(np.asarray(trace_ids, np.int64)),
                "traces": to_device(np.zeros((B, n_steps, len(trace_ids)), dtype)),
                "rz": to_device(np.zeros((B, n_steps, n_out))),
                "rz0": to_device(np.zeros((B, n_steps, n_out))),
                "fault": to_device(np.full((B, 3), -1, np.int64)),
                "cap": cap, "n_tr": len(trace_ids), "record": bool(record_spikes)}

    # -------------------------------------------------------------- launches
    def launch(self, io, rec, keys, step0, t_end):
        """One kernel launch: every replicate runs from ``tpos[b]`` to ``t_end`` (or stops
        early when its spike buffer is full). ``io``: dict of device input arrays; ``keys``
        (B, 2) device noise keys; ``step0``: the global step of the chunk's step 0."""
        sc = self.kc.scalars(self.p0, self.r0, record=int(rec["record"]), n_ch=io["n_ch"],
                             n_out=self.n_out, n_feat=self.n_feat, n_enc=self.n_enc,
                             n_tr=rec["n_tr"], has_fb=int(self.has_fb), cap=rec["cap"])
        p, s, r = self.p, self.s, self.r
        self.kc.kernel_for(self.r0.rule)[self.B, self.threads](
            p["a"], p["b"], p["c"], p["d"], p["bias"], p["sigma"], p["proj"], p["w_dense"],
            p["indptr"], p["indices"], p["w_data"],
            s["v"], s["u"], s["isyn"], s["hsyn"], s["fb"], s["ffast"], s["frise"], s["fslow"],
            s["fmean"], s["x"],
            r["W"], r["W0"], r["U"], r["elig"], r["err"], r["z"], r["z0"], r["tag_sum"],
            r["enc"], r["online"], r["counters"], r["fsums"], r["hyper"],
            io["drive"], io["target"], io["gate"], io["tag"],
            rec["spk_step"], rec["spk_id"], rec["n_spk"], rec["rate"], rec["trace_ids"],
            rec["traces"], rec["rz"], rec["rz0"], self.flag, self.splist, np.int64(step0), keys,
            self.tpos, np.int64(t_end), rec["fault"], sc)

    def advance(self, io, rec, keys, step0, t_stop, due):
        """Launch until every replicate reached ``t_stop`` or one stopped on a full spike
        buffer (then the caller drains it and calls again) or diverged (``rec["fault"]``
        says which: the caller must stop; a faulted replicate does not run again). Applies
        the RLS update after each due step ``due`` (sorted chunk steps). Returns ``tpos`` on
        the host, (B,)."""
        if not hasattr(self, "flag"):
            self.flag = to_device(np.zeros((self.B, self.n), np.int32))
            self.splist = to_device(np.zeros((self.B, self.n), np.int32))
        while True:
            tpos = to_host(self.tpos)
            t_min = int(tpos.min())
            if t_min >= t_stop:
                return tpos
            later = due[due >= t_min]
            end = int(later[0]) + 1 if later.size and later[0] < t_stop else t_stop
            self.launch(io, rec, keys, step0, end)
            tpos = to_host(self.tpos)
            if np.any(tpos < end):
                return tpos
            if later.size and end == int(later[0]) + 1:
                r = self.r
                self.kc.rls_update(self.xp, r["P"], r["W"], self.s["x"], r["err"], self.r0.lam)

    def set_tpos(self, t):
        self.tpos = to_device(np.full(self.B, t, np.int64))


def device_io(io, n_ch) -> dict:
    """Upload one chunk's shared inputs (a ``ChunkIO`` of host arrays)."""
    return {"drive": to_device(io.drive), "target": to_device(io.target),
            "gate": to_device(io.gate), "tag": to_device(io.tag), "n_ch": n_ch}


def device_keys(keys) -> object:
    """Noise keys of B replicates, ``[(k0, k1), ...]``, as a (B, 2) uint64 device array."""
    return to_device(np.array([[int(k0), int(k1)] for k0, k1 in keys], np.uint64))


class CudaChunkRunner:
    """``run_chunk`` with the CPU backends' contract, running on the device.

    Parameters
    ----------
    threads : int, optional
        Threads per block.
    """

    def __init__(self, threads=None):
        self.threads = threads
        self._p, self._batch, self._keys = None, None, None

    def run_chunk(self, p, s, r, io, rec, noise, t0, n_steps):
        """Advance from ``t0`` to ``n_steps`` in place; see ``kernels.reference.run_chunk``."""
        if self._p is not p:
            self._batch, self._p = DeviceBatch([p], [s], [r], self.threads), p
        else:
            self._batch.upload_state([s])
            self._batch.upload_readout([r])
        batch = self._batch
        if self._keys is None or self._keys[0] != (noise.k0, noise.k1):
            self._keys = ((noise.k0, noise.k1), device_keys([(noise.k0, noise.k1)]))
        drec = batch.new_recording(n_steps, rec.spk_step.shape[0], rec.trace_ids,
                                   rec.record_spikes, rec.traces.dtype)
        base = int(rec.n_spk[0])
        drec["n_spk"] = to_device(np.array([base], np.int64))
        batch.set_tpos(t0)
        due = (rls_due_steps(io.gate, int(r.counters[2]), max(1, r.rls_every), t0)
               if r.rule == 3 and r.W.shape[0] else np.zeros(0, np.int64))
        t = int(batch.advance(device_io(io, p.proj.shape[0]), drec, self._keys[1], noise.step0,
                              n_steps, due)[0])
        fault = to_host(drec["fault"])[0]
        if fault[0] >= 0:    # diverged at step t = fault[0]: nothing of it was recorded
            rec.fault[:] = fault
        batch.download_state([s])
        batch.download_readout([r])
        rec.rate[t0:t] = to_host(drec["rate"])[0, t0:t]
        if rec.traces.shape[1]:
            rec.traces[t0:t] = to_host(drec["traces"])[0, t0:t]
        if r.W.shape[0]:
            rec.z[t0:t] = to_host(drec["rz"])[0, t0:t]
            rec.z0[t0:t] = to_host(drec["rz0"])[0, t0:t]
        if rec.record_spikes:
            k = int(to_host(drec["n_spk"])[0])
            rec.spk_step[base:k] = to_host(drec["spk_step"])[0, base:k]
            rec.spk_id[base:k] = to_host(drec["spk_id"])[0, base:k]
            rec.n_spk[0] = k
        return t
