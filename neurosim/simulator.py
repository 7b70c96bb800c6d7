"""The thin owner of a run: builds kernel records, loops over chunks, records, reports.

Python acts only at chunk boundaries; each chunk is one compiled ``run_chunk`` call.
"""
from __future__ import annotations

import dataclasses
import math
import time
import zlib
from dataclasses import dataclass

import numpy as np

from . import interrupts
from .backends import get_backend
from .divergence import (_NEURON_CAUSE, _READOUT_CAUSE, DivergenceError, divergence_error,
                         neuron_cause, readout_cause)
from .config import ConfigError, RunConfig
from .kernels.records import CODES, ChunkIO, Noise, Params, Readout, Recording, State
from .kernels.rng import key_words
from .monitors import Recorder
from .network import Network, seed_streams
from .progress import make_reporter
from .residency import HostDeviceRecords
from .streams import DurationStream, chunk_arrays

f64 = np.float64


NOISE_REFERENCE_DT_MS = 1.0
"""The step at which ``noise_sigma`` is the current's standard deviation per step."""


def noise_scale(dt_ms: float) -> float:
    """Factor from ``noise_sigma`` to the per-step current's standard deviation at ``dt_ms``.

    The noise is a diffusion: its current's standard deviation grows as 1/sqrt(dt) relative
    to the 1 ms step of Izhikevich (2003), so the membrane's noise increment (dt times the
    current) scales as sqrt(dt), and rates converge as dt shrinks. At dt = 1 ms it is 1.
    """
    return math.sqrt(NOISE_REFERENCE_DT_MS / dt_ms)


def build_params(net: Network, dt_ms: float) -> Params:
    """Kernel parameter record for ``net`` at time step ``dt_ms`` (scalars as float64).

    ``sigma`` is the per-step noise current's standard deviation, float64:
    ``noise_sigma * noise_scale(dt_ms)``.
    """
    cfg = net.config
    syn, feat = cfg.synapse, cfg.features
    dtype = net.a.dtype
    empty_w = np.zeros((0, 0), dtype=dtype)
    if net.csr is None:
        indptr, indices, w_data = np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, dtype)
    else:
        indptr, indices, w_data = net.csr
    syn_kind = CODES["syn_kind"][syn.model]
    syn_scale = {0: 1.0, 1: 1.0 / syn.tau_decay_ms,
                 2: 1.0 / (syn.tau_rise_ms * syn.tau_decay_ms)}[syn_kind]
    feat_kind = CODES["feat_kind"][feat.kernel]
    C, k, vr, vt, v_peak = (f64(x) for x in net.constants)
    return Params(
        a=net.a, b=net.b, c=net.c, d=net.d, bias=net.bias,
        sigma=net.noise_sigma.astype(f64) * f64(noise_scale(dt_ms)),
        form=net.form, scheme=CODES["scheme"][cfg.integration], dt=f64(dt_ms),
        C=C, k=k, vr=vr, vt=vt, v_peak=v_peak, has_noise=bool(np.any(net.noise_sigma > 0)),
        dense=net.weights is not None,
        w_dense=net.weights if net.weights is not None else empty_w,
        indptr=indptr, indices=indices, w_data=w_data,
        syn_kind=syn_kind, syn_decay=f64(math.exp(-dt_ms / syn.tau_decay_ms)),
        syn_rise_decay=f64(math.exp(-dt_ms / syn.tau_rise_ms)), syn_scale=f64(syn_scale),
        proj=net.input_projection,
        feat_kind=feat_kind, f_decay=f64(math.exp(-dt_ms / feat.tau_fast_ms)),
        f_rise_decay=f64(math.exp(-dt_ms / feat.tau_rise_ms)),
        f_inc=f64(1.0 / (feat.tau_rise_ms * feat.tau_fast_ms)),
        has_slow=feat.tau_slow_ms > 0,
        s_decay=f64(math.exp(-dt_ms / feat.tau_slow_ms)) if feat.tau_slow_ms > 0 else f64(0.0),
        s_scale=f64(feat.resolved_slow_scale), center=feat.centering,
        c_rate=f64(dt_ms / feat.centering_tau_ms), bias_feature=feat.bias)


def n_features(net: Network) -> int:
    """Readout input size: fast bank, slow bank (if on) and the bias feature (if on)."""
    feat = net.config.features
    return net.n_neurons * (2 if feat.tau_slow_ms > 0 else 1) + (1 if feat.bias else 0)


def new_readout(n_out: int, n_feat: int, n_neurons: int, dtype, rule="frozen", eta=0.0,
                e_decay=0.0, lam=1.0, rls_every=1, dt_ms=1.0, online=None, P=None,
                encoders=None, W=None) -> Readout:
    """A readout record with zero weights (or ``W``), for the kernel.

    ``rule``: a built-in rule (``kernels.records.CODES["rule"]``: ``"frozen"``, ``"rls"``)
    or a registered local rule's name (``kernels.plugins``; ``"online"``, ``"accumulate"``
    and ``"oja"`` come with ``neurosim.learners``). A local rule reads its hyper-parameters
    from ``readout.hyper``; for every rule this puts the learning rate ``eta`` in
    ``hyper[0]`` and the step ``dt_ms`` in ``hyper[1]`` (``hyper[2:]`` zero), the slots
    ``"online"`` (eta) and ``"accumulate"`` (dt_ms) read.
    """
    from . import learners  # noqa: F401  (registers the local rules of the package)
    from .kernels import plugins
    from .kernels.rls import rls_lazy_work
    dtype = np.dtype(dtype)
    plug_ins = {r.name: r.code for r in plugins.RULES.values()}
    if rule not in CODES["rule"] and rule not in plug_ins:
        raise ConfigError(f"rule {rule!r} is unknown; valid names: "
                          f"{', '.join(list(CODES['rule']) + sorted(plug_ins))}")
    code = CODES["rule"][rule] if rule in CODES["rule"] else plug_ins[rule]
    W = np.zeros((n_out, n_feat), dtype) if W is None else np.ascontiguousarray(W, dtype)
    online = np.ones(n_out) if online is None else np.asarray(online, dtype=float)
    return Readout(
        W=W, W0=W.copy(), elig=np.zeros(n_feat, dtype), U=np.zeros((n_out, n_feat), dtype),
        P=np.zeros((0, 0), dtype) if P is None else np.ascontiguousarray(P, dtype),
        rls_work=rls_lazy_work(n_feat, dtype),
        err=np.zeros(n_out), z=np.zeros(n_out), z0=np.zeros(n_out),
        tag_sum=np.zeros(n_feat), online=online,
        enc=np.zeros((0, n_neurons), dtype) if encoders is None
        else np.ascontiguousarray(encoders, dtype),
        counters=np.zeros(3, np.int64), fsums=np.zeros(4),
        hyper=np.array([eta, dt_ms] + [0.0] * (plugins.N_HYPER - 2), np.float64),
        rule=code, e_decay=f64(e_decay), lam=f64(lam), rls_every=int(rls_every),
        dt_ms=f64(dt_ms))


def new_state(net: Network) -> State:
    """Initial state record of ``net`` (v0, u0; synapses, features and means at zero)."""
    n, dtype = net.n_neurons, net.a.dtype
    has_slow = net.config.features.tau_slow_ms > 0
    nf = n_features(net)
    return State(v=net.v0.copy(), u=net.u0.copy(), isyn=np.zeros(n, dtype),
                 hsyn=np.zeros(n, dtype), fb=np.zeros(n, dtype), ffast=np.zeros(n, dtype),
                 frise=np.zeros(n, dtype), fslow=np.zeros(n if has_slow else 0, dtype),
                 fmean=np.zeros(nf), x=np.zeros(nf, dtype))


class _SpikeSink:
    """The part of :class:`Recorder` :meth:`Simulator.run_one_chunk` calls: keeps spikes,
    and passes everything on to ``forward`` (a Recorder or None)."""

    def __init__(self, forward=None):
        self.steps, self.ids, self.forward = [], [], forward

    def add_spikes(self, steps, ids):
        self.steps.append(np.asarray(steps, np.int64).copy())
        self.ids.append(np.asarray(ids, np.int64).copy())
        if self.forward is not None:
            self.forward.add_spikes(steps, ids)

    def add_chunk(self, *args):
        if self.forward is not None:
            self.forward.add_chunk(*args)


class _NoSpikes:
    """Passes a chunk's series on to ``recorder``, not its spikes (``record_spikes`` off)."""

    def __init__(self, recorder):
        self.recorder = recorder

    def add_spikes(self, steps, ids):
        pass

    def add_chunk(self, *args):
        self.recorder.add_chunk(*args)


@dataclass
class ChunkResult:
    """What one chunk produced: its first global step, length, and per-step readout records."""
    step0: int
    n_steps: int
    z: np.ndarray
    z0: np.ndarray
    rate: np.ndarray


class Simulator(HostDeviceRecords):
    """Run a built network chunk by chunk on a backend, with an optional plastic readout.

    Parameters
    ----------
    network : Network
    run : RunConfig
        dt, backend, seed (noise stream), recording options.
    readout : Readout, optional
        Readout record (see :func:`new_readout`); a learner may replace its scalars per chunk.

    Residency (``cuda`` backend): state and readout stay on the device between chunks; the
    :attr:`state` and :attr:`readout` accessors, :meth:`pull` and :meth:`mark_modified` come
    from :class:`~neurosim.residency.HostDeviceRecords` (read its rules before keeping a
    reference to a host array across chunks).
    """

    def __init__(self, network: Network, run: RunConfig, readout: Readout | None = None):
        self.network, self.run_config = network, run
        if np.dtype(run.dtype) != network.a.dtype:   # the state follows the network's arrays
            raise ConfigError(
                f"run.dtype = {run.dtype!r} but the network was built in "
                f"{network.a.dtype.name}: build it with build_network(..., dtype=run.dtype)")
        self.backend = get_backend(run.backend)
        self.params = build_params(network, run.dt_ms)
        self._init_residency()
        self._state = new_state(network)
        nf = n_features(network)
        self._readout = readout if readout is not None else new_readout(
            0, nf, network.n_neurons, network.a.dtype)
        if self._readout.W.shape[1] != nf:
            raise ConfigError(f"readout has {self._readout.W.shape[1]} inputs; the network "
                              f"provides {nf} features")
        self.noise_key = key_words(seed_streams(run.seed)["noise"])
        self.step = 0
        self.chunk_index = 0
        self.trace_ids = np.asarray(run.record_traces, dtype=np.int64)
        if self.trace_ids.size and (self.trace_ids.min() < 0
                                    or self.trace_ids.max() >= network.n_neurons):
            raise ConfigError(f"run.record_traces = {list(run.record_traces)}: ids must lie in "
                              f"[0, {network.n_neurons - 1}]")
        self._spike_capacity = 4 * network.n_neurons
        self.readout_names = None   # names of the readout outputs, for error messages

    def warm_up(self) -> float:
        """Compile (or load from cache) the backend's kernel with a zero-step call.

        Returns the seconds it took, so that loop timings can exclude the one-time JIT cost.
        """
        from .streams import Chunk
        t0 = time.perf_counter()
        step, chunks = self.step, self.chunk_index
        self.run_one_chunk(Chunk(0))
        self.step, self.chunk_index = step, chunks
        return time.perf_counter() - t0

    def run_one_chunk(self, chunk, recorder: Recorder | None = None) -> ChunkResult:
        """Simulate one chunk (one compiled call, more only if the spike buffer fills).

        Raises :class:`neurosim.interrupts.Interrupted` instead, before any work, when SIGINT
        or SIGTERM arrived under :func:`neurosim.interrupts.deferred_signals`: every loop
        stops at a chunk boundary, after the previous chunk was recorded.
        """
        interrupts.check(self.step)
        net, dtype = self.network, self.network.a.dtype
        n_steps = int(chunk.n_steps)
        n_out = self._readout.W.shape[0]
        drive, target, gate, tag = chunk_arrays(chunk, net.input_projection.shape[0], n_out, dtype)
        io = ChunkIO(drive=drive, target=target, gate=gate, tag=tag)
        record_spikes = bool(self.run_config.record_spikes and recorder is not None)
        runner = getattr(self.backend, "resident", None)
        if runner is not None:
            rec = self._device_chunk(runner, io, n_steps, record_spikes, recorder)
        else:
            rec = self._host_chunk(io, n_steps, n_out, record_spikes, recorder)
        self._check_finite(n_steps, rec.z)   # before the chunk is recorded: no NaN rows
        if recorder is not None:
            recorder.add_chunk(self.step, rec.rate, rec.z, rec.z0, rec.traces)
        result = ChunkResult(self.step, n_steps, rec.z, rec.z0, rec.rate)
        self.step += n_steps
        self.chunk_index += 1
        return result

    def _host_chunk(self, io, n_steps, n_out, record_spikes, recorder) -> Recording:
        """One chunk on a CPU backend (the host records updated in place)."""
        self._to_host()
        dtype = self.network.a.dtype
        cap = self._spike_capacity if record_spikes else 0
        rec = Recording(record_spikes=record_spikes, spk_step=np.zeros(cap, np.int32),
                        spk_id=np.zeros(cap, np.int32), n_spk=np.zeros(1, np.int64),
                        rate=np.zeros(n_steps, np.int32), trace_ids=self.trace_ids,
                        traces=np.zeros((n_steps, self.trace_ids.size), dtype),
                        z=np.zeros((n_steps, n_out)), z0=np.zeros((n_steps, n_out)),
                        fault=np.full(3, -1, np.int64))
        t = -1
        while t < n_steps:  # at least one call, so a zero-step chunk loads the kernel
            t = self.backend.run_chunk(self.params, self._state, self._readout, io, rec,
                                       Noise(*self.noise_key, self.step), max(t, 0), n_steps)
            if record_spikes:   # (the spikes of steps before t: a fault's step has none)
                k = rec.n_spk[0]
                recorder.add_spikes(self.step + rec.spk_step[:k].astype(np.int64), rec.spk_id[:k])
                rec.n_spk[0] = 0
            if rec.fault[0] >= 0:
                self._stop_diverged(rec, recorder)
            if record_spikes:
                if t < n_steps:  # buffer was full: grow it for the rest of the run
                    self._spike_capacity *= 2
                    cap = self._spike_capacity
                    rec = rec._replace(spk_step=np.zeros(cap, np.int32),
                                       spk_id=np.zeros(cap, np.int32))
        return rec

    def _device_chunk(self, runner, io, n_steps, record_spikes, recorder) -> Recording:
        """One chunk on the device copies (``gpu.DeviceBatch.run_chunk``: spike buffers
        drained and doubled there); only the recordings come back."""
        self._to_device(runner)
        cap = self._spike_capacity if record_spikes else 0
        out = runner.run_resident(io, Noise(*self.noise_key, self.step), n_steps, cap,
                                  self.trace_ids, record_spikes)
        if record_spikes:
            for steps, ids in out.spikes[0]:
                recorder.add_spikes(self.step + steps.astype(np.int64), ids)
            self._spike_capacity = out.cap
        rec = Recording(record_spikes=record_spikes, spk_step=np.zeros(0, np.int32),
                        spk_id=np.zeros(0, np.int32), n_spk=np.zeros(1, np.int64),
                        rate=out.rate[0], trace_ids=self.trace_ids, traces=out.traces[0],
                        z=out.z[0], z0=out.z0[0], fault=out.fault[0])
        if rec.fault[0] >= 0:
            self._stop_diverged(rec, recorder)
        return rec

    def run_one_chunk_features(self, chunk, recorder: Recorder | None = None
                               ) -> tuple[ChunkResult, np.ndarray]:
        """:meth:`run_one_chunk`, plus the chunk's readout features ``X`` (n_steps, n_feat),
        float64: the kernel keeps only the current step's features, so they are replayed
        from the chunk's spikes with the reference feature update (``kernels.reference``),
        starting from the feature state at the chunk's start. The simulation itself is the
        same call (spikes recorded into a throw-away sink), so results do not change. For
        learners that need a trial's feature statistics (``kappatune``). ``recorder``
        receives the chunk as from :meth:`run_one_chunk` (spikes only if
        ``run.record_spikes``)."""
        from .kernels import reference
        s = self.state
        s0 = s._replace(ffast=s.ffast.copy(), frise=s.frise.copy(), fslow=s.fslow.copy(),
                        fmean=s.fmean.copy(), x=s.x.copy())
        cfg = self.run_config
        sink = _SpikeSink(recorder if recorder is None or cfg.record_spikes
                          else _NoSpikes(recorder))
        step0 = self.step
        if not cfg.record_spikes:
            self.run_config = dataclasses.replace(cfg, record_spikes=True)
        try:
            result = self.run_one_chunk(chunk, sink)
        finally:
            self.run_config = cfg
        n = self.network.n_neurons
        steps = np.concatenate(sink.steps) - step0 if sink.steps else np.zeros(0, np.int64)
        ids = np.concatenate(sink.ids) if sink.ids else np.zeros(0, np.int64)
        order = np.argsort(steps, kind="stable")
        bounds = np.searchsorted(steps[order], np.arange(result.n_steps + 1))
        ids = ids[order]
        X = np.empty((result.n_steps, s0.x.shape[0]))
        spiked = np.zeros(n)
        for t in range(result.n_steps):
            here = ids[bounds[t]:bounds[t + 1]]
            spiked[here] = 1.0
            reference._features(self.params, s0, spiked)
            spiked[here] = 0.0
            X[t] = s0.x
        return result, X

    def trials(self, stream, learner, recorder=None, inspect=None):
        """Run ``stream`` chunk by chunk (one chunk = one trial) under a readout ``learner``.

        Per chunk: ``learner.before_chunk`` (e.g. the normalised rate), :meth:`run_one_chunk`
        (:meth:`run_one_chunk_features` and ``learner.observe_features(X, gate)`` when the
        learner has ``wants_features()`` and it is true),
        ``inspect(index, chunk, result)`` if given (the readout as the trial left it, before
        the offline update: tag sums, outputs), ``learner.consolidate``; then the generator
        yields ``(index, chunk, result)``. ``recorder``: a
        :class:`~neurosim.monitors.Recorder`, None, or ``callable(index)`` returning one.
        """
        for index, chunk in enumerate(stream):
            self.readout = learner.before_chunk(self.readout, chunk)
            rec = recorder(index) if callable(recorder) else recorder
            if getattr(learner, "wants_features", lambda: False)():
                # the learner selects from this trial's features (kappatune)
                result, X = self.run_one_chunk_features(chunk, rec)
                gate = getattr(chunk, "gate", None)
                gate = np.zeros(result.n_steps) if gate is None else np.asarray(gate, float)
                learner.observe_features(X, gate)
            else:
                result = self.run_one_chunk(chunk, rec)
            if inspect is not None:
                inspect(index, chunk, result)
            learner.consolidate(self.readout, chunk, result)
            yield index, chunk, result

    def _stop_diverged(self, rec: Recording, recorder: Recorder | None) -> None:
        """The kernel stopped at step ``rec.fault[0]`` of this chunk because the run
        diverged there: record the chunk's good rows (the steps before it), advance
        :attr:`step` to it and raise :class:`DivergenceError`, naming the step, the neuron
        or readout output, and the likely cause."""
        t, kind, index = (int(x) for x in rec.fault)
        if recorder is not None:
            recorder.add_chunk(self.step, rec.rate[:t], rec.z[:t], rec.z0[:t], rec.traces[:t])
        self.step += t
        dt_ms = self.run_config.dt_ms
        raise divergence_error(
            kind, index, self.step, dt_ms, self.readout.W, self.readout_names,
            cause=(neuron_cause(self.network.config, dt_ms) if kind == 0
                   else readout_cause(self.readout)))

    def _check_finite(self, n_steps: int, z: np.ndarray) -> None:
        """Raise :class:`DivergenceError` if the chunk just simulated left a non-finite state
        variable or readout weight (v, u, synaptic current, W), naming where and why.

        A backstop: the kernels stop at the step where v or a readout output becomes
        non-finite (:meth:`_stop_diverged`); only u, the synaptic current or W becoming
        non-finite on the chunk's very last step (v and the outputs would follow a step
        later) is left for this check. On the device the check is a reduction there (4
        bytes back); the records come back only when it finds something."""
        if self._holder is not None and "state" in self._stale:
            if not self._holder.nonfinite().any():
                return
            self.pull()
        s, r = self._state, self._readout
        lo, hi = self.step, self.step + n_steps
        for name, arr, cause in (
                ("membrane potential v", s.v, _NEURON_CAUSE), ("recovery u", s.u, _NEURON_CAUSE),
                ("synaptic current", s.isyn, _NEURON_CAUSE)):
            bad = np.flatnonzero(~np.isfinite(arr))
            if bad.size:
                raise DivergenceError(
                    lo,
                    f"non-finite {name} of neuron {bad[0]} ({bad.size} neurons) in steps "
                    f"{lo}-{hi} (t = {lo * self.run_config.dt_ms:g}-"
                    f"{hi * self.run_config.dt_ms:g} ms): {cause}")
        bad_w = ~np.isfinite(r.W)
        if bad_w.any():
            out, feat = np.argwhere(bad_w)[0]
            rows = np.flatnonzero(~np.all(np.isfinite(z), axis=1)) if z.size else []
            at = (f"its output is non-finite from step {lo + rows[0]}" if len(rows)
                  else f"in steps {lo}-{hi}")
            raise DivergenceError(
                lo + rows[0] if len(rows) else lo,
                f"non-finite readout weight W[{out}, {feat}] (output {out}), {at}: the "
                f"{_READOUT_CAUSE}")

    def checkpoint(self) -> tuple[dict, dict]:
        """Full simulation state, enough to continue bitwise identically after :meth:`restore`.

        Returns
        -------
        arrays : dict of str -> ndarray
            Every array of the ``State`` record as ``state.<field>`` and of the ``Readout``
            record as ``readout.<field>`` (copies, dtypes kept; size-0 arrays included).
        meta : dict
            JSON-serialisable: ``step``, ``chunk_index``, ``spike_capacity``, the readout's
            scalars (``readout_scalars``) and ``network_crc``, a checksum of the parameters
            that ``restore`` compares with the rebuilt network's. The noise needs no state:
            its draws are keyed by the seed and the step.
        """
        self.pull()   # device -> host (read only: nothing to push afterwards)
        arrays = {f"state.{k}": np.array(v) for k, v in self._state._asdict().items()}
        scalars = {}
        for k, v in self._readout._asdict().items():
            if isinstance(v, np.ndarray):
                arrays[f"readout.{k}"] = np.array(v)
            else:
                scalars[k] = v.item() if isinstance(v, np.generic) else v
        meta = dict(step=int(self.step), chunk_index=int(self.chunk_index),
                    spike_capacity=int(self._spike_capacity), readout_scalars=scalars,
                    network_crc=self._network_crc())
        return arrays, meta

    def _network_crc(self) -> int:
        if getattr(self, "_crc", None) is None:  # params never change during a run
            self._crc = _params_crc(self.params)
        return self._crc

    def restore(self, arrays: dict, meta: dict) -> None:
        """Load a :meth:`checkpoint` into this simulator, built from the same config and seed.

        Arrays are copied in place (shapes and dtypes must match, so a different network or
        readout size is refused); keys other than ``state.*`` / ``readout.*`` are ignored.
        Raises ConfigError when the rebuilt network's parameters differ from the saved ones.
        """
        from .kernels.rls import rls_lazy_work
        crc = self._network_crc()
        if meta.get("network_crc", crc) != crc:
            raise ConfigError("checkpoint was taken on a network with different parameters "
                              "(config, seed or library version changed): cannot resume")
        self.mark_modified()   # pulled (arrays not in the checkpoint stay current), pushed next
        for prefix, record in (("state", self._state), ("readout", self._readout)):
            for k, v in record._asdict().items():
                if not isinstance(v, np.ndarray):
                    continue
                if f"{prefix}.{k}" not in arrays and k == "hyper":
                    continue     # saved before plug-in rules: no rule read it
                if f"{prefix}.{k}" not in arrays and k == "rls_work" \
                        and "readout.kbuf" in arrays:
                    # saved before the lazy RLS: the two-pass kernel's 1-D buffer carried
                    # nothing between chunks, so the work starts fresh (nothing pending)
                    np.copyto(v, rls_lazy_work(v.shape[1] - 2, v.dtype))
                    continue
                saved = np.asarray(arrays[f"{prefix}.{k}"])
                if saved.shape != v.shape or saved.dtype != v.dtype:
                    raise ConfigError(f"checkpoint {prefix}.{k} is {saved.dtype}{saved.shape}; "
                                      f"this simulator has {v.dtype}{v.shape}")
                np.copyto(v, saved)
        scalars = dict(meta["readout_scalars"])
        legacy = _legacy_local_rule(scalars)
        self.readout = self._readout._replace(**{
            k: type(getattr(self._readout, k))(scalars[k]) for k in scalars})
        if legacy is not None:     # the rate and step were scalars; the rules read hyper
            self._readout.hyper[:2] = legacy
        self.step, self.chunk_index = int(meta["step"]), int(meta["chunk_index"])
        self._spike_capacity = int(meta["spike_capacity"])

    def run(self, stream=None, duration_ms: float | None = None, recorder: Recorder | None = None,
            report=None, on_chunk=None) -> Recorder:
        """Run ``stream`` (or ``duration_ms`` with no drive) and return the recorder.

        ``on_chunk(sim, chunk, result)`` is called after every chunk (learners consolidate
        there); if it has an ``on_stop(sim)`` method (a :class:`~neurosim.checkpoint.
        Checkpointer`), that is called when SIGINT/SIGTERM stops the run at a chunk boundary
        (:mod:`neurosim.interrupts`), before ``Interrupted`` is raised. ``report`` is None, 'text', 'tqdm' or ``callable(done_ms, total_ms)``.
        """
        run = self.run_config
        if stream is None:
            stream = DurationStream(run.duration_ms if duration_ms is None else duration_ms,
                                    run.chunk_ms, run.dt_ms)
        if recorder is None:
            recorder = Recorder(self.network.n_neurons, run.dt_ms)
        recorder.trace_ids = self.trace_ids
        total_ms = _total_ms(stream, run.dt_ms)
        reporter = make_reporter(report, total_ms)
        start_step, t_start = self.step, time.perf_counter()
        try:
            for chunk in stream:
                if interrupts.requested() is not None:   # stop here, state saved if kept
                    getattr(on_chunk, "on_stop", lambda sim: None)(self)
                    interrupts.check(self.step)
                result = self.run_one_chunk(chunk, recorder)
                if on_chunk is not None:
                    on_chunk(self, chunk, result)
                reporter((self.step - start_step) * run.dt_ms, total_ms)
        finally:
            reporter.close()
            recorder.flush()
            self.pull()   # run end: the host records are current (device copies stay valid)
        self.wall_time_s = time.perf_counter() - t_start
        return recorder


def _legacy_local_rule(scalars: dict):
    """Brings a checkpoint's readout scalars from before the built-in local rules became
    plug-ins up to date, in place: rule codes 1 (online) and 2 (accumulate) become the
    plug-in codes, and the scalar ``eta`` leaves. Returns the ``hyper[:2]`` such a readout
    needs (``eta``, ``dt_ms``; the rules then read them there), or None for a current one."""
    from .kernels import plugins
    eta = scalars.pop("eta", None)
    name = {1: "online", 2: "accumulate"}.get(int(scalars.get("rule", 0)))
    if name is None:
        return None
    scalars["rule"] = plugins.rule_code(name)
    return [float(eta or 0.0), float(scalars.get("dt_ms", 1.0))]


def _params_crc(params: Params) -> int:
    """CRC-32 of the network's per-neuron parameters, weights and input projection."""
    crc = 0
    for name in ("a", "b", "c", "d", "bias", "sigma", "w_dense", "indptr", "indices", "w_data",
                 "proj"):
        crc = zlib.crc32(np.ascontiguousarray(getattr(params, name)).view(np.uint8), crc)
    return crc


def _total_ms(stream, dt_ms: float) -> float:
    """Total simulated time of ``stream`` in ms if it says (``total_steps`` / ``total_ms``)."""
    if hasattr(stream, "total_steps"):
        return stream.total_steps * dt_ms
    return float(getattr(stream, "total_ms", float("nan")))
