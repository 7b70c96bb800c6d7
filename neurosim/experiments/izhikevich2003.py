"""The Izhikevich (2003) benchmark network: 800 E + 200 I, dense, thalamic noise, 1 s.

``run`` simulates and writes HDF5 (spikes, population rate, optional v traces), saving a
checkpoint every ``run.checkpoint_every_chunks`` chunks; ``resume`` continues an interrupted
run of this kind from its last checkpoint (``neurosim run izhikevich2003 --resume FILE``).
Spikes go to the file only (``keep_in_memory=False``), so memory does not grow with duration.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import checkpoint
from ..monitors import Recorder
from ..network import build_network
from ..results import ResultsWriter
from ..simulator import Simulator
from ..streams import DurationStream
from .common import full_config, network_and_run, open_run, resolve

KIND = "izhikevich2003"
DEFAULT_CONFIG = {
    "network": {"n_neurons": 1000, "neuron_model": "izhikevich2003"},
    "run": {"dt_ms": 1.0, "duration_ms": 1000.0, "chunk_ms": 250.0},
}


def run(config: dict | None, out: Path, figure: Path | None = None, report="text",
        full: bool = False) -> dict:
    """Simulate, write ``out`` (HDF5) and a raster figure; return a summary dict."""
    config = resolve(DEFAULT_CONFIG, config)
    net_cfg, run_cfg = network_and_run(config)
    t0 = time.perf_counter()
    net = build_network(net_cfg, run_cfg.seed, run_cfg.dtype)
    writer, run_writer = open_run(out, KIND, full_config(net_cfg, run_cfg), run_cfg,
                                  {"n_neurons": net.n_neurons, "n_synapses": net.n_synapses},
                                  network=net)
    with writer:
        sim = Simulator(net, run_cfg)
        recorder = _recorder(net, run_cfg, run_writer)
        ckpt = checkpoint.Checkpointer(run_writer, recorder, run_cfg.checkpoint_every_chunks)
        summary = _simulate(sim, recorder, run_writer, ckpt, _stream(run_cfg), report, t0)
    _draw(out, run_writer.run_id, figure)
    return summary


def resume(path: Path, run_id: str | None = None, figure: Path | None = None,
           report="text") -> dict:
    """Continue the latest incomplete run of this kind in ``path`` (or ``run_id``).

    The network and simulator are rebuilt from the run's stored config, the state restored
    from its last checkpoint (data recorded after it are dropped), and the remaining chunks
    simulated. Returns the same summary as :func:`run`.
    """
    t0 = time.perf_counter()
    run_id = checkpoint.check_resumable(path, KIND, run_id)   # refuse before opening to write
    with ResultsWriter(path, mode="a") as writer:
        resumed = checkpoint.reopen(writer, KIND, run_id)
        net_cfg, run_cfg = network_and_run(resumed.config)
        net = build_network(net_cfg, run_cfg.seed, run_cfg.dtype)
        sim = Simulator(net, run_cfg)
        recorder = _recorder(net, run_cfg, resumed.run_writer)
        resumed.restore(sim, recorder)
        ckpt = resumed.checkpointer(recorder, run_cfg.checkpoint_every_chunks)
        stream = checkpoint.skip_chunks(_stream(run_cfg), resumed.stream_position)
        summary = _simulate(sim, recorder, resumed.run_writer, ckpt, stream, report, t0)
        summary["resumed_from_step"] = resumed.step
        run_id = resumed.run_writer.run_id
    _draw(path, run_id, figure)
    return summary


def _stream(run_cfg) -> DurationStream:
    return DurationStream(run_cfg.duration_ms, run_cfg.chunk_ms, run_cfg.dt_ms)


def _recorder(net, run_cfg, run_writer) -> Recorder:
    return Recorder(net.n_neurons, run_cfg.dt_ms, writer=run_writer, keep_in_memory=False)


def _simulate(sim, recorder, run_writer, ckpt, stream, report, t0) -> dict:
    """Run ``stream`` with checkpoints, write the summary metrics and finish the run."""
    net, run_cfg = sim.network, sim.run_config
    jit_s = sim.warm_up()  # one-time compile / cache load, kept out of the loop time
    ckpt.t_start += jit_s
    sim.run(stream, recorder=recorder, report=report, on_chunk=ckpt)
    duration = sim.step * run_cfg.dt_ms
    wall = ckpt.wall_time_s  # simulation loop and checkpoints, earlier sessions included
    counts = recorder.spike_count
    summary = {
        "neurons": net.n_neurons, "synapses": net.n_synapses, "spikes": int(counts.sum()),
        "rate_e_hz": _mean_rate(counts[net.excitatory], duration),
        "rate_i_hz": _mean_rate(counts[~net.excitatory], duration),
        "jit_load_s": jit_s, "loop_wall_s": wall, "process_wall_s": time.perf_counter() - t0,
        "real_time_factor": duration / 1000.0 / wall if wall > 0 else float("nan"),
    }
    run_writer.write_metrics(scalars=summary)
    run_writer.finish(wall_time_s=wall, duration_ms=duration)
    return summary


def _mean_rate(counts: np.ndarray, duration_ms: float) -> float:
    """Mean firing rate (Hz) of neurons with spike ``counts`` over ``duration_ms``."""
    return float(counts.mean() / (duration_ms / 1000.0)) if counts.size and duration_ms else 0.0


def _draw(path, run_id, figure):
    if figure is not None:
        from ..plotting import plot_file
        plot_file(path, run_id=run_id, kind="raster", out=figure)
