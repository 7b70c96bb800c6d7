"""B independent networks (one per seed), run together: one launch per chunk on 'cuda',
a loop over Simulators on the CPU backends (so results compare)."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from .gpu import DeviceBatch, check_rls_mode
from .kernels.rng import key_words
from .monitors import Recorder
from .network import build_network, seed_streams
from .divergence import DivergenceError, divergence_error, neuron_cause, readout_cause
from .simulator import Simulator, build_params, n_features, new_readout, new_state
from .streams import DurationStream, chunk_arrays


@dataclass
class Replicates:
    """Result of :func:`run_replicates`: one Recorder / State / Readout per seed.

    ``wall_s``: seconds of the simulation loop (on cuda excluding ``setup_s``, the upload of
    the B networks; includes JIT on a first call); host records are final.
    """
    seeds: list
    recorders: list
    states: list
    readouts: list
    wall_s: float
    backend: str
    setup_s: float = 0.0
    transfers: object = None   # cuda: the batch's ``gpu.TransferCounter``

    @property
    def spikes(self):
        """Per-replicate spike monitors (``SpikeMonitor``)."""
        return [rec.spikes for rec in self.recorders]


def run_replicates(net_cfg, run_cfg, seeds, backend="cuda", duration_ms=None, stream=None,
                   readout=None, threads=None, rls="auto") -> Replicates:
    """Simulate one network per seed: one launch per chunk on 'cuda', a loop on CPU.

    Parameters
    ----------
    net_cfg : NetworkConfig
    run_cfg : RunConfig
        dt, dtype, chunk length and recording options (its seed and backend are ignored).
    seeds : sequence of int
        One replicate per seed (network, initial state and noise all follow the seed).
    backend : {'cuda', 'numba', 'numpy'}
    duration_ms : float, optional
        Run length without drive (default ``run_cfg.duration_ms``), unless ``stream``.
    stream : iterable of chunks, optional
        Inputs shared by every replicate (must be iterable more than once on CPU).
    readout : callable(net) -> Readout, optional
        Builds each replicate's readout record (e.g. ``simulator.new_readout``).
    threads, rls : optional
        Threads per block and where RLS updates run on 'cuda' (``gpu.DeviceBatch``; the CPU
        backends update in the step and ignore it, but a wrong name is an error everywhere).

    Returns
    -------
    Replicates
    """
    check_rls_mode(rls)                               # on every backend: a typo is an error
    seeds = [int(x) for x in seeds]
    nets = [build_network(net_cfg, seed=sd, dtype=run_cfg.dtype) for sd in seeds]
    readouts = [readout(net) if readout else new_readout(0, n_features(net), net.n_neurons,
                                                          net.a.dtype) for net in nets]
    if stream is None:
        stream = DurationStream(run_cfg.duration_ms if duration_ms is None else duration_ms,
                                run_cfg.chunk_ms, run_cfg.dt_ms)
    t_start = time.perf_counter()
    if backend != "cuda":
        sims, recs = [], []
        for sd, net, ro in zip(seeds, nets, readouts):
            sim = Simulator(net, replace(run_cfg, seed=sd, backend=backend), readout=ro)
            try:
                recs.append(sim.run(stream=stream))
            except DivergenceError as err:
                raise DivergenceError(err.step, f"replicate seed {sd}: {err}") from None
            sims.append(sim)
        return Replicates(seeds, recs, [s.state for s in sims], [s.readout for s in sims],
                          time.perf_counter() - t_start, backend)
    params = [build_params(net, run_cfg.dt_ms) for net in nets]
    states = [new_state(net) for net in nets]
    batch = DeviceBatch(params, states, readouts, threads, rls=rls)
    keys = batch.upload_keys([key_words(seed_streams(sd)["noise"]) for sd in seeds])
    setup_s = time.perf_counter() - t_start
    t_start = time.perf_counter()                     # wall_s: the simulation loop only
    n, n_ch, n_out = nets[0].n_neurons, params[0].proj.shape[0], readouts[0].W.shape[0]
    dtype, trace_ids = nets[0].a.dtype, np.asarray(run_cfg.record_traces, np.int64)
    recorders = [Recorder(n, run_cfg.dt_ms) for _ in seeds]
    for rc in recorders:
        rc.trace_ids = trace_ids
    cap, step0 = 4 * n, 0
    for chunk in stream:
        n_steps = int(chunk.n_steps)
        io = batch.upload_io(*chunk_arrays(chunk, n_ch, n_out, dtype), n_ch)
        out = batch.run_chunk(io, keys, step0, n_steps, cap, trace_ids, run_cfg.record_spikes,
                              dtype)
        if np.any(out.fault[:, 0] >= 0):
            batch.download_readout(readouts)
            raise _replicate_divergence(out.fault, seeds, step0, run_cfg.dt_ms, readouts,
                                        net_cfg)
        cap = out.cap
        for b, rc in enumerate(recorders):
            for steps, ids in out.spikes[b]:
                rc.add_spikes(step0 + steps.astype(np.int64), ids)
            rc.add_chunk(step0, out.rate[b], out.z[b], out.z0[b], out.traces[b])
        step0 += n_steps
    batch.download_state(states)
    batch.download_readout(readouts)
    return Replicates(seeds, recorders, states, readouts, time.perf_counter() - t_start, "cuda",
                      setup_s, batch.transfers)


def _replicate_divergence(fault, seeds, step0, dt_ms, readouts, net_cfg) -> DivergenceError:
    """The error of the replicate that diverged first (the lowest index among those at the
    earliest step), naming its seed; the others that diverged in the chunk are counted."""
    bad = np.flatnonzero(fault[:, 0] >= 0)
    b = int(bad[np.argmin(fault[bad, 0])])
    t, kind, index = (int(x) for x in fault[b])
    others = (f" ({bad.size - 1} other replicates diverged in this chunk too)"
              if bad.size > 1 else "")
    return divergence_error(kind, index, step0 + t, dt_ms, readouts[b].W,
                            where=f"replicate seed {seeds[b]}{others}: ",
                            cause=(neuron_cause(net_cfg, dt_ms) if kind == 0
                                   else readout_cause(readouts[b])))
