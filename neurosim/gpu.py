"""Host side of the ``cuda`` backend: device arrays, transfers, RNG keys, batched replicates.

Arrays live in an array module ``xp``: CuPy on a machine with a CUDA GPU, NumPy under
``NUMBA_ENABLE_CUDASIM=1`` (numba's CUDA simulator runs the same kernels on NumPy arrays).
Every host<->device copy goes through :func:`to_device` / :func:`to_host`, and every copy a
:class:`DeviceBatch` makes is counted in its :class:`TransferCounter` (calls and bytes per
direction and per kind: ``params``, ``state``, ``readout``, ``io``, ``keys``, ``control``,
``record``, ``check``). Work buffers (recordings, spike buffers, flags) are allocated on the
device, not copied. CuPy and the kernels are imported lazily: the CPU path never needs them.

Residency (GeNN-style: the data stays on the device, every transfer explicit):

* :class:`DeviceBatch` holds B networks on the device -- connectivity and parameters,
  state, readout (W, P, ...) -- and :meth:`DeviceBatch.run_chunk` is the one device-side
  chunk loop (recording buffers, spike drain and buffer doubling, RLS due steps, faults),
  used by both users below. Only the chunk's inputs go up and its recordings come back.
* :class:`CudaChunkRunner` -- the ``cuda`` backend (``neurosim.backends``). Its resident
  API (:meth:`~CudaChunkRunner.attach`, ``push_*``, ``pull_*``, :meth:`~CudaChunkRunner.
  run_resident`) moves state and readout only when asked; the :class:`~neurosim.simulator.
  Simulator` decides when (its ``state`` / ``readout`` accessors pull on first host access
  after a device chunk and push a possibly edited host copy before the next chunk). Its
  ``run_chunk`` keeps the CPU backends' contract (host records updated in place: push,
  run, pull) for direct callers.
* :func:`neurosim.replicates.run_replicates` -- B independent networks (one per seed) in one
  launch per chunk, everything resident on the device for the whole run.

This module depends on the kernels and the config only (not on the simulator or the backend
registry); the residency bookkeeping (which copy is newer) lives in the simulator only.

Noise: drawn on the device with the counter-based generator of ``kernels/rng.py``, keyed by
the run's seed and the global step: the same numbers the CPU kernels draw.
"""
from __future__ import annotations

import os
import weakref
from dataclasses import dataclass

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


RLS_MODES = ("auto", "fused", "split")
# "auto" fuses the RLS update into the chunk launch when one block's pass over its own P is
# cheaper than the split path's fixed cost (a relaunch and ~6 CuPy kernels, some 30-40 us a
# due step) -- P up to this many bytes per replicate -- or when the replicates fill the GPU
# (B >= its multiprocessors). An estimate (one SM streams ~150 GB/s; the pass moves ~3x P's
# bytes), not yet measured: ``benchmarks/gpu_rls_modes.py`` measures both on a GPU.
FUSED_RLS_MAX_BYTES = 2 << 20


def multiprocessors() -> int:
    """Multiprocessors of the current device (1 under the simulator)."""
    if simulator_enabled():
        return 1
    from numba import cuda
    return int(cuda.get_current_device().MULTIPROCESSOR_COUNT)


def check_rls_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`RLS_MODES`, else a ConfigError naming it."""
    if mode not in RLS_MODES:
        raise ConfigError(f"rls = {mode!r}: must be one of {', '.join(RLS_MODES)}")
    return mode


def rls_fused(mode: str, n_replicates: int, n_feat: int, itemsize: int) -> bool:
    """Whether RLS updates run inside the chunk kernel (``mode`` "fused"), between split
    launches with CuPy (``"split"``), or as :data:`FUSED_RLS_MAX_BYTES` decides (``"auto"``)."""
    if check_rls_mode(mode) != "auto":
        return mode == "fused"
    return (n_feat * n_feat * itemsize <= FUSED_RLS_MAX_BYTES
            or n_replicates >= multiprocessors())


class TransferCounter:
    """Host<->device copies: calls (one per array copied) and bytes, per direction
    (``"h2d"``, ``"d2h"``) and per kind (``params``, ``state``, ``readout``, ``io``,
    ``keys``, ``control``, ``record``, ``check``). Device-side allocations are not copies
    and are not counted."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.by_kind = {}     # (direction, kind) -> [calls, bytes]

    def add(self, direction: str, kind: str, nbytes: int) -> None:
        entry = self.by_kind.setdefault((direction, kind), [0, 0])
        entry[0] += 1
        entry[1] += int(nbytes)

    def calls(self, direction: str, kind: str | None = None) -> int:
        """Copies in ``direction``, of ``kind`` (all kinds if None)."""
        return sum(c for (d, k), (c, _) in self.by_kind.items()
                   if d == direction and kind in (None, k))

    def bytes(self, direction: str, kind: str | None = None) -> int:
        """Bytes copied in ``direction``, of ``kind`` (all kinds if None)."""
        return sum(b for (d, k), (_, b) in self.by_kind.items()
                   if d == direction and kind in (None, k))

    def summary(self) -> dict:
        """``{"h2d": {kind: (calls, bytes)}, "d2h": {...}}`` (for reports and tests)."""
        out = {"h2d": {}, "d2h": {}}
        for (d, k), (c, b) in sorted(self.by_kind.items()):
            out[d][k] = (c, b)
        return out


@dataclass
class ChunkOutput:
    """Host recordings of one device chunk for B replicates (:meth:`DeviceBatch.run_chunk`).

    ``tpos`` (B,): the step each replicate reached (``n_steps`` unless it faulted, or stopped
    on a full spike buffer with ``grow=False``); ``fault`` (B, 3): step, kind, index (-1: no
    fault); ``rate`` (B, n), ``traces`` (B, n, n_traces), ``z`` / ``z0`` (B, n, n_out);
    ``spikes[b]``: list of (chunk steps, neuron ids) per drain of the spike buffer; ``cap``:
    the spike buffer capacity per replicate at the end (doubled at each refill)."""
    tpos: np.ndarray
    fault: np.ndarray
    rate: np.ndarray
    traces: np.ndarray
    z: np.ndarray
    z0: np.ndarray
    spikes: list
    cap: int


class DeviceBatch:
    """B networks of one configuration as device arrays with a leading replicate axis.

    Parameters
    ----------
    params, states, readouts : lists of B host records (``kernels.records``)
    threads : int, optional
        Threads per block (power of two <= ``kernels.cuda.MAX_THREADS``).
    counter : TransferCounter, optional
        Where the copies are counted (a new one by default: ``self.transfers``).
    rls : {"auto", "fused", "split"}
        Where an RLS readout's update runs (:func:`rls_fused`): inside the chunk kernel, or
        with CuPy between launches split at each due step.
    """

    def __init__(self, params, states, readouts, threads=None, counter=None, rls="auto"):
        from .kernels import cuda as kc
        self.kc, self.xp = kc, array_module()
        self.transfers = counter if counter is not None else TransferCounter()
        p0 = params[0]
        self.B, self.n = len(params), p0.a.shape[0]
        self.threads = threads or default_threads(self.n)
        if self.threads & (self.threads - 1) or self.threads > kc.MAX_THREADS:
            raise ConfigError(f"threads = {self.threads}: must be a power of two <= "
                              f"{kc.MAX_THREADS}")
        stack = lambda name: np.stack([getattr(p, name) for p in params])  # noqa: E731
        self.p = {f: self._up(stack(f), "params") for f in ("a", "b", "c", "d", "bias", "sigma",
                                                              "proj", "w_dense")}
        offsets = np.cumsum([0] + [p.indices.shape[0] for p in params[:-1]])
        for p in params:   # a non-increasing pair of indices may only straddle a row end
            drops = np.flatnonzero(np.diff(p.indices) <= 0) + 1
            if drops.size and not np.all(np.isin(drops, p.indptr)):
                raise ConfigError("CSR indices must be strictly increasing within each row")
        self.p["indptr"] = self._up(np.stack([p.indptr + o for p, o in zip(params, offsets)]),
                                    "params")
        self.p["indices"] = self._up(np.concatenate([p.indices for p in params]), "params")
        self.p["w_data"] = self._up(np.concatenate([p.w_data for p in params]), "params")
        self.p0, self.has_fb = p0, states[0].fb.shape[0] > 0
        self.rls_mode = check_rls_mode(rls)
        self.upload_state(states)
        self.upload_readout(readouts)
        self.tpos = self._zeros((self.B,), np.int64)
        self.launches = 0                       # chunk-kernel launches so far
        self.flag = self._zeros((self.B, self.n), np.int32)
        self.splist = self._zeros((self.B, self.n), np.int32)

    # -------------------------------------------------------------- transfers
    def _up(self, host, kind):
        dev = to_device(host)
        self.transfers.add("h2d", kind, dev.nbytes)
        return dev

    def _down(self, dev, kind) -> np.ndarray:
        host = to_host(dev)
        self.transfers.add("d2h", kind, host.nbytes)
        return host

    def _zeros(self, shape, dtype, fill=0):
        """A device array allocated there (no copy); zero-size dims padded to 1 as
        :func:`to_device` does."""
        return self.xp.full(tuple(max(1, int(s)) for s in shape), fill, dtype)

    def upload_state(self, states):
        self.s = {f: self._up(np.stack([getattr(s, f) for s in states]), "state")
                  for f in _STATE_FIELDS}

    def download_state(self, states):
        for f in _STATE_FIELDS:
            if getattr(states[0], f).size:
                arr = self._down(self.s[f], "state")
                for b, s in enumerate(states):
                    getattr(s, f)[...] = arr[b]

    def upload_readout(self, readouts):
        r0 = readouts[0]
        self.r = {f: self._up(np.stack([getattr(r, f) for r in readouts]), "readout")
                  for f in _READOUT_ARRAYS}
        self.r0, self.n_out, self.n_feat = r0, r0.W.shape[0], r0.W.shape[1]
        self.n_enc = r0.enc.shape[0]
        self.fused = (r0.rule == 3 and self.n_out > 0
                      and rls_fused(self.rls_mode, self.B, self.n_feat, r0.P.itemsize))
        shape = (self.B, self.n_feat if self.fused else 1)
        if getattr(self, "kvec", None) is None or self.kvec.shape != shape:
            self.kvec = self._zeros(shape, np.float64)

    def download_readout(self, readouts):
        for f in _READOUT_MUTABLE:
            if getattr(readouts[0], f).size:
                arr = self._down(self.r[f], "readout")
                for b, r in enumerate(readouts):
                    getattr(r, f)[...] = arr[b]

    def upload_io(self, drive, target, gate, tag, n_ch) -> dict:
        """One chunk's inputs, shared by the B replicates (host arrays of ``chunk_arrays``);
        the host gate is kept for the RLS schedule."""
        return {"drive": self._up(drive, "io"), "target": self._up(target, "io"),
                "gate": self._up(gate, "io"), "tag": self._up(tag, "io"), "n_ch": n_ch,
                "gate_host": np.asarray(gate)}

    def upload_keys(self, keys):
        """Noise keys of the B replicates, ``[(k0, k1), ...]``, as a (B, 2) uint64 array."""
        return self._up(np.array([[int(k0), int(k1)] for k0, k1 in keys], np.uint64), "keys")

    def nonfinite(self) -> np.ndarray:
        """(4,) bool: some replicate has a non-finite v, u, synaptic current or readout
        weight (reduced on the device: 4 bytes come back)."""
        xp = self.xp
        flags = xp.stack([~xp.all(xp.isfinite(a)) for a in
                          (self.s["v"], self.s["u"], self.s["isyn"], self.r["W"])])
        return self._down(flags, "check")

    def new_recording(self, n_steps, cap, trace_ids, record_spikes, dtype):
        """Device recording buffers for one chunk (spike buffers of ``cap`` per replicate),
        allocated on the device; only the trace ids are copied."""
        B, n_out, z = self.B, self.n_out, self._zeros
        return {"spk_step": z((B, cap), np.int32), "spk_id": z((B, cap), np.int32),
                "n_spk": z((B,), np.int64), "rate": z((B, n_steps), np.int32),
                "trace_ids": self._up(np.asarray(trace_ids, np.int64), "control"),
                "traces": z((B, n_steps, len(trace_ids)), dtype),
                "rz": z((B, n_steps, n_out), np.float64),
                "rz0": z((B, n_steps, n_out), np.float64),
                "fault": z((B, 3), np.int64, -1),
                "cap": cap, "n_tr": len(trace_ids), "record": bool(record_spikes)}

    # -------------------------------------------------------------- launches
    def launch(self, io, rec, keys, step0, t_end):
        """One kernel launch: every replicate runs from ``tpos[b]`` to ``t_end`` (or stops
        early when its spike buffer is full). ``io``: dict of device input arrays; ``keys``
        (B, 2) device noise keys; ``step0``: the global step of the chunk's step 0."""
        sc = self.kc.scalars(self.p0, self.r0, record=int(rec["record"]), n_ch=io["n_ch"],
                             n_out=self.n_out, n_feat=self.n_feat, n_enc=self.n_enc,
                             n_tr=rec["n_tr"], has_fb=int(self.has_fb), cap=rec["cap"],
                             rls_fused=int(self.fused))
        p, s, r = self.p, self.s, self.r
        self.launches += 1
        self.kc.kernel_for(self.r0.rule)[self.B, self.threads](
            p["a"], p["b"], p["c"], p["d"], p["bias"], p["sigma"], p["proj"], p["w_dense"],
            p["indptr"], p["indices"], p["w_data"],
            s["v"], s["u"], s["isyn"], s["hsyn"], s["fb"], s["ffast"], s["frise"], s["fslow"],
            s["fmean"], s["x"],
            r["W"], r["W0"], r["U"], r["elig"], r["err"], r["z"], r["z0"], r["tag_sum"],
            r["enc"], r["online"], r["counters"], r["fsums"], r["hyper"], r["P"], self.kvec,
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
        while True:
            tpos = self._down(self.tpos, "control")
            t_min = int(tpos.min())
            if t_min >= t_stop:
                return tpos
            later = due[due >= t_min]
            end = int(later[0]) + 1 if later.size and later[0] < t_stop else t_stop
            self.launch(io, rec, keys, step0, end)
            tpos = self._down(self.tpos, "control")
            if np.any(tpos < end):
                return tpos
            if later.size and end == int(later[0]) + 1:
                r = self.r
                self.kc.rls_update(self.xp, r["P"], r["W"], self.s["x"], r["err"], self.r0.lam)

    def set_tpos(self, t):
        self.tpos = self._up(np.full(self.B, t, np.int64), "control")

    def rls_due(self, io, t0) -> np.ndarray:
        """Chunk steps >= ``t0`` with an RLS update due (the gated-step count of replicate 0
        is read from the device: the replicates share the gate); none when the kernel
        applies the update itself."""
        if self.r0.rule != 3 or not self.n_out or self.fused:
            return np.zeros(0, np.int64)
        count = int(self._down(self.r["counters"][0], "control")[2])
        return rls_due_steps(io["gate_host"], count, max(1, self.r0.rls_every), t0)

    def run_chunk(self, io, keys, step0, n_steps, cap, trace_ids, record_spikes, dtype, t0=0,
                  grow=True) -> ChunkOutput:
        """Run one chunk of B replicates from chunk step ``t0`` to ``n_steps``: the one
        device-side chunk loop (both users of this module call it).

        Launches (split at each due RLS step), drains the spike buffers to the host after
        each stop and, with ``grow``, doubles them and continues until every replicate
        reached ``n_steps`` (without ``grow`` it returns at the first full buffer, the CPU
        backends' contract). A fault stops the loop (the caller raises). Then the chunk's
        recordings come back (rate; traces and outputs when there are any)."""
        B = self.B
        rec = self.new_recording(n_steps, cap, trace_ids, record_spikes, dtype)
        due = self.rls_due(io, t0)
        self.set_tpos(t0)
        spikes = [[] for _ in range(B)]
        while True:
            tpos = self.advance(io, rec, keys, step0, n_steps, due)
            if rec["record"]:
                ks = self._down(rec["n_spk"], "record")
                k_max = int(ks.max())
                if k_max:
                    st, ids = (self._down(self.xp.ascontiguousarray(rec[f][:, :k_max]),
                                          "record") for f in ("spk_step", "spk_id"))
                    for b in range(B):
                        spikes[b].append((st[b, :ks[b]], ids[b, :ks[b]]))
                rec["n_spk"].fill(0)
            fault = self._down(rec["fault"], "control")
            if np.any(fault[:, 0] >= 0) or np.all(tpos >= n_steps) or not grow:
                break
            cap *= 2
            rec["spk_step"] = self._zeros((B, cap), np.int32)
            rec["spk_id"] = self._zeros((B, cap), np.int32)
            rec["cap"] = cap

        def back(name, shape, dt):   # (a size-0 recording is padded on the device)
            return self._down(rec[name], "record") if all(shape) else np.zeros(shape, dt)

        return ChunkOutput(tpos, fault, back("rate", (B, n_steps), np.int32),
                           back("traces", (B, n_steps, rec["n_tr"]), dtype),
                           back("rz", (B, n_steps, self.n_out), np.float64),
                           back("rz0", (B, n_steps, self.n_out), np.float64), spikes, cap)


def device_keys(keys) -> object:
    """Noise keys of B replicates, ``[(k0, k1), ...]``, as a (B, 2) uint64 device array
    (uncounted: for callers without a :class:`DeviceBatch`; see ``upload_keys``)."""
    return to_device(np.array([[int(k0), int(k1)] for k0, k1 in keys], np.uint64))


class CudaChunkRunner:
    """The ``cuda`` backend: one network whose state and readout can stay on the device.

    Resident API (the :class:`~neurosim.simulator.Simulator` decides when to call it):
    :meth:`attach` uploads a network with its state and readout; :meth:`push_state` /
    :meth:`push_readout` upload a host copy, :meth:`pull_state` / :meth:`pull_readout`
    copy the device's into host records in place; :meth:`run_resident` runs one chunk on
    the device copies and returns the host recordings. :meth:`run_chunk` keeps the CPU
    backends' contract (push, run, pull) for direct callers. Every copy is counted in
    :attr:`transfers` (a :class:`TransferCounter`).

    Parameters
    ----------
    threads : int, optional
        Threads per block.
    rls : {"auto", "fused", "split"}
        Where an RLS readout's update runs (:func:`rls_fused`).
    """

    def __init__(self, threads=None, rls="auto"):
        self.threads, self.rls = threads, check_rls_mode(rls)
        self.transfers = TransferCounter()
        self._p, self._batch, self._keys, self._evict = None, None, None, None

    # -------------------------------------------------------------- residency
    def holds(self, p) -> bool:
        """True if the device holds the network of ``p`` (and a state and readout for it)."""
        return self._batch is not None and self._p is p

    def attach(self, p, s, r, on_evict=None) -> None:
        """Upload the network ``p`` with state ``s`` and readout ``r``. ``on_evict()`` is
        called before another ``attach`` replaces them (the owner pulls what it needs)."""
        self.evict()
        self._batch = DeviceBatch([p], [s], [r], self.threads, counter=self.transfers,
                                  rls=self.rls)
        self._p, self._keys = p, None
        if on_evict is None:
            self._evict = None
        elif hasattr(on_evict, "__self__"):   # a bound method: do not keep its owner alive
            self._evict = weakref.WeakMethod(on_evict)
        else:
            self._evict = lambda: on_evict

    def evict(self) -> None:
        """Let the current owner pull its data, then forget the device copies."""
        callback = self._evict() if self._evict is not None else None
        self._evict = None
        if callback is not None:
            callback()
        self._p, self._batch, self._keys = None, None, None

    def push_state(self, s) -> None:
        self._batch.upload_state([s])

    def push_readout(self, r) -> None:
        self._batch.upload_readout([r])

    def pull_state(self, s) -> None:
        self._batch.download_state([s])

    def pull_readout(self, r) -> None:
        self._batch.download_readout([r])

    def nonfinite(self) -> np.ndarray:
        """(4,) bool: non-finite v, u, synaptic current, readout weight on the device."""
        return self._batch.nonfinite()

    def run_resident(self, io, noise, n_steps, cap, trace_ids, record_spikes, t0=0,
                     grow=True) -> ChunkOutput:
        """One chunk on the device copies (:meth:`DeviceBatch.run_chunk`, B = 1); ``io``: a
        ``ChunkIO`` of host arrays, ``noise``: the chunk's ``Noise`` record."""
        batch = self._batch
        if self._keys is None or self._keys[0] != (noise.k0, noise.k1):
            self._keys = ((noise.k0, noise.k1), batch.upload_keys([(noise.k0, noise.k1)]))
        dio = batch.upload_io(io.drive, io.target, io.gate, io.tag, self._p.proj.shape[0])
        return batch.run_chunk(dio, self._keys[1], noise.step0, n_steps, cap, trace_ids,
                               record_spikes, self._p.a.dtype, t0=t0, grow=grow)

    # -------------------------------------------------------------- CPU contract
    def run_chunk(self, p, s, r, io, rec, noise, t0, n_steps):
        """Advance from ``t0`` to ``n_steps`` in place; see ``kernels.reference.run_chunk``
        (uploads ``s`` and ``r``, runs, downloads them: two transfers of each per call)."""
        if not self.holds(p):
            self.attach(p, s, r)
        else:
            self.push_state(s)
            self.push_readout(r)
        base = int(rec.n_spk[0])
        out = self.run_resident(io, noise, n_steps, rec.spk_step.shape[0] - base,
                                rec.trace_ids, rec.record_spikes, t0=t0, grow=False)
        t = int(out.tpos[0])
        if out.fault[0, 0] >= 0:    # diverged at step t = fault[0]: nothing of it recorded
            rec.fault[:] = out.fault[0]
        self.pull_state(s)
        self.pull_readout(r)
        rec.rate[t0:t] = out.rate[0, t0:t]
        if rec.traces.shape[1]:
            rec.traces[t0:t] = out.traces[0, t0:t]
        if r.W.shape[0]:
            rec.z[t0:t] = out.z[0, t0:t]
            rec.z0[t0:t] = out.z0[0, t0:t]
        if rec.record_spikes:
            k = base
            for steps, ids in out.spikes[0]:
                rec.spk_step[k:k + steps.size] = steps
                rec.spk_id[k:k + ids.size] = ids
                k += steps.size
            rec.n_spk[0] = k
        return t
