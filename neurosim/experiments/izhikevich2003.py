"""The Izhikevich (2003) benchmark network: 800 E + 200 I, dense, thalamic noise, 1 s."""
from __future__ import annotations

import time
from pathlib import Path

from ..monitors import Recorder
from ..network import build_network
from ..simulator import Simulator
from .common import full_config, network_and_run, open_run, resolve

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
    sim = Simulator(net, run_cfg)
    writer, run_writer = open_run(out, "izhikevich2003", full_config(net_cfg, run_cfg), run_cfg,
                                  {"n_neurons": net.n_neurons, "n_synapses": net.n_synapses})
    run_id = run_writer.group.name.split("/")[-1]
    with writer:
        recorder = Recorder(net.n_neurons, run_cfg.dt_ms, writer=run_writer)
        sim.run(recorder=recorder, report=report)
        spikes = recorder.spikes
        duration = run_cfg.duration_ms
        summary = {
            "neurons": net.n_neurons, "synapses": net.n_synapses, "spikes": spikes.num_spikes,
            "rate_excitatory_hz": spikes.mean_rate(duration, net.excitatory),
            "rate_inhibitory_hz": spikes.mean_rate(duration, ~net.excitatory),
            "loop_wall_s": sim.wall_time_s, "process_wall_s": time.perf_counter() - t0,
            "real_time_factor": duration / 1000.0 / sim.wall_time_s,
        }
        run_writer.write_metrics(scalars=summary)
        run_writer.finish(wall_time_s=sim.wall_time_s, duration_ms=duration)
    if figure is not None:
        from ..plotting import plot_file
        plot_file(out, run_id=run_id, kind="raster", out=figure)
    return summary
