"""In-memory records of a run with Brian2-style accessors (``i``, ``t``, ``count``, ...)."""
from __future__ import annotations

import numpy as np


class SpikeMonitor:
    """Spikes of one population (or of all, merged), with Brian2 ``SpikeMonitor`` names.

    The one spike-record type: ``Recorder.spikes`` (in memory) and
    ``neurosim.results.Run.spikes()`` (from a file; ``neurosim.results.SpikeData`` is this
    class) both return it.

    Attributes
    ----------
    i : ndarray (n_spikes,) int64
        Neuron index of each spike, in time order.
    t : ndarray (n_spikes,) float64
        Spike times in ms.
    n_neurons : int
        Population size (silent neurons included).
    """

    def __init__(self, i: np.ndarray, t_ms: np.ndarray, n_neurons: int):
        self.i = np.asarray(i, dtype=np.int64)
        self.t = np.asarray(t_ms, dtype=np.float64)
        self.n_neurons = int(n_neurons)

    def __len__(self):
        return self.num_spikes

    def __repr__(self):
        return f"SpikeMonitor({self.num_spikes} spikes, {self.n_neurons} neurons)"

    @property
    def count(self) -> np.ndarray:
        """Spike count per neuron, shape (N,)."""
        return np.bincount(self.i, minlength=self.n_neurons)

    @property
    def num_spikes(self) -> int:
        return int(self.i.size)

    def spike_trains(self) -> dict[int, np.ndarray]:
        """Dict neuron id -> spike times (ms), for every neuron (empty arrays included)."""
        order = np.argsort(self.i, kind="stable")
        ids, times = self.i[order], self.t[order]
        bounds = np.searchsorted(ids, np.arange(self.n_neurons + 1))
        return {n: times[bounds[n]:bounds[n + 1]] for n in range(self.n_neurons)}

    def mean_rate(self, duration_ms: float, mask: np.ndarray | None = None) -> float:
        """Mean firing rate in Hz over ``duration_ms``, optionally of a neuron subset."""
        counts = self.count if mask is None else self.count[mask]
        return float(counts.mean() / (duration_ms / 1000.0)) if counts.size else 0.0


class Recorder:
    """Collects a run's chunk records in memory and, optionally, streams them to HDF5.

    Spikes are kept as (global step, id) in int arrays per chunk and joined on demand, so
    memory grows with the number of spikes only; per-step series (rate, readouts) grow with
    duration. With ``keep_in_memory=False`` only the HDF5 writer receives the data and memory
    stays bounded however long the run: what is pending is written every
    ``flush_every_steps`` steps (and by :meth:`flush`). Per-neuron spike counts
    (:attr:`spike_count`) are kept either way, for summaries.

    A chunk's spikes reach the writer only together with its per-step series
    (:meth:`add_chunk`), so a flush after an interruption never writes half a chunk.
    """

    def __init__(self, n_neurons: int, dt_ms: float, writer=None, keep_in_memory: bool = True,
                 population: str = "reservoir", flush_every_steps: int = 20000):
        self.n_neurons, self.dt_ms = n_neurons, dt_ms
        self.writer, self.keep = writer, keep_in_memory
        # HDF5 appends cost ~0.5 ms each: gather chunks and write every flush_every_steps.
        self.flush_every_steps = flush_every_steps
        self._pending, self._pending_steps = {}, 0
        self.population = population
        self._steps, self._ids, self._rate, self._z, self._z0 = [], [], [], [], []
        self._traces, self._series = [], {}
        self.trace_ids = np.zeros(0, dtype=np.int64)
        self._chunk_spikes = []  # spikes of the chunk in flight, queued by add_chunk
        #: int64 (n_neurons,): spikes per neuron so far (kept even without keep_in_memory)
        self.spike_count = np.zeros(n_neurons, dtype=np.int64)
        #: global step after the last chunk received (0 before any)
        self.step_end = 0

    def add_spikes(self, steps: np.ndarray, ids: np.ndarray):
        """Spikes of the chunk in flight: global steps (n,) int and neuron ids (n,) int."""
        if self.keep:
            self._steps.append(steps.astype(np.int64))
            self._ids.append(ids.astype(np.int32))
        if ids.size:
            self.spike_count += np.bincount(ids, minlength=self.n_neurons)
        if self.writer is not None and steps.size:
            self._chunk_spikes.append((steps * self.dt_ms, ids))

    def add_chunk(self, step0: int, rate, z, z0, traces):
        """Per-step series of one chunk (already trimmed to its length); ends the chunk."""
        self.step_end = int(step0) + int(rate.shape[0])
        if self.writer is not None:
            for item in self._chunk_spikes:
                self._queue("spikes", item)
            self._chunk_spikes = []
        if self.keep:
            self._rate.append(rate.copy())
            if z.shape[1]:
                self._z.append(z.copy())
                self._z0.append(z0.copy())
            if traces.shape[1]:
                self._traces.append(traces.copy())
        if self.writer is not None:
            self._queue("rate", rate)
            if z.shape[1]:
                self._queue("z", z)
                self._queue("z0", z0)
            if traces.shape[1]:
                self._queue("traces", (traces, (step0 + np.arange(traces.shape[0])) * self.dt_ms))
            self._pending_steps += rate.shape[0]
            if self._pending_steps >= self.flush_every_steps:
                self.flush()

    def add_series(self, name: str, values: np.ndarray):
        """Any other per-step series of the chunk (targets, gate, ...)."""
        if self.keep:
            self._series.setdefault(name, []).append(np.asarray(values).copy())
        if self.writer is not None:
            self._queue(name, np.asarray(values))

    def _queue(self, name, item):
        self._pending.setdefault(name, []).append(item)

    def flush(self):
        """Write every whole chunk gathered since the last flush to the HDF5 run (if any),
        set the run's ``duration_ms`` to the end of the last chunk, and flush the file."""
        if self.writer is None:
            return
        for name, items in self._pending.items():
            if name == "spikes":
                self.writer.append_spikes(self.population, np.concatenate([t for t, _ in items]),
                                          np.concatenate([i for _, i in items]),
                                          n_nodes=self.n_neurons)
            elif name == "rate":   # the same unit as Recorder.rate: Hz
                self.writer.append_series(name, self._hz(np.concatenate(items)), units="Hz")
            elif name == "traces":
                self.writer.append_trace("v", np.concatenate([v for v, _ in items]),
                                         self.trace_ids, np.concatenate([t for _, t in items]))
            else:
                self.writer.append_series(name, np.concatenate(items))
        self._pending, self._pending_steps = {}, 0
        self.writer.set_attrs(duration_ms=self.step_end * self.dt_ms)
        self.writer.flush()

    def checkpoint(self) -> tuple[dict, dict]:
        """State needed to continue after a resume: ``recorder.spike_count`` and the step.

        Call right after :meth:`flush` (nothing pending), as checkpoints are.
        """
        return {"recorder.spike_count": self.spike_count.copy()}, {"recorder_step_end":
                                                                  self.step_end}

    def restore(self, arrays: dict, meta: dict) -> None:
        """Continue counting from a :meth:`checkpoint` (in-memory records start empty)."""
        self.spike_count[:] = arrays["recorder.spike_count"]
        self.step_end = int(meta["recorder_step_end"])

    def clear_memory(self):
        """Drop the in-memory records (e.g. after reading a kept trial's ``spikes``)."""
        self._steps, self._ids, self._rate, self._z, self._z0 = [], [], [], [], []
        self._traces, self._series = [], {}

    @staticmethod
    def _join(parts, width=None, dtype=float):
        if parts:
            return np.concatenate(parts)
        return np.zeros((0,) if width is None else (0, width), dtype=dtype)

    @property
    def spikes(self) -> SpikeMonitor:
        steps = self._join(self._steps, dtype=np.int64)
        return SpikeMonitor(self._join(self._ids, dtype=np.int32), steps * self.dt_ms,
                            self.n_neurons)

    def _hz(self, counts: np.ndarray) -> np.ndarray:
        """Spike counts per step -> population rate in Hz (float64)."""
        return counts / self.n_neurons / (self.dt_ms / 1000.0)

    @property
    def rate(self) -> np.ndarray:
        """Population rate per step in Hz, shape (n_steps,); equal, bit for bit, to the
        file's ``series("rate")``."""
        return self._hz(self._join(self._rate, dtype=np.int32))

    @property
    def z(self) -> np.ndarray:
        return self._join(self._z, 0)

    @property
    def z0(self) -> np.ndarray:
        return self._join(self._z0, 0)

    @property
    def traces(self) -> np.ndarray:
        """Recorded v, shape (n_steps, n_traces), in mV (after each step's reset)."""
        return self._join(self._traces, len(self.trace_ids))

    def series(self, name: str) -> np.ndarray:
        return self._join(self._series.get(name, []))
