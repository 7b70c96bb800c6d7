"""NEST 3 adapter: the benchmark network as NEST ``izhikevich`` neurons, one run, one process.

``python benchmarks/adapters/nest_izhikevich.py NETWORK.npz --threads K [--dt-ms 1]
[--duration-ms 1000] [--warmup-ms 10] [--seed 1]``

The network file is the one the Brian2 adapters read (``brian2_common.py``): per-neuron
``a, b, c, d, bias, sigma, v0, u0`` and synapses ``pre, post, w``. The NEST model differs
from neurosim's in two places, both of which the rate check of the caller sees:

* ``consistent_integration = False`` is Izhikevich's published scheme (two dt/2 half-steps
  of v, then u from the new v), as neurosim's ``izhikevich2003``; but NEST adds the
  synaptic weights arriving in a step to v *after* the integration (neurosim and Brian2 add
  them to v right after the spikes, so they enter the next step's integration).
* Noise: one ``noise_generator`` per population (E: std 5, I: std 2 times the per-step scale
  in ``sigma``), which sends an independent current of that std to every target, held for
  ``dt``; NEST reads a step's input current at the end of the step, so it acts one step
  later than neurosim's. Rates agree in statistics, not spike by spike.

Synapses: ``static_synapse`` with delay ``dt`` (neurosim's spike of step t reaches v at step
t + 1). Timing: ``nest.Simulate(warmup)`` first (it also builds NEST's internal tables),
then the loop time of ``nest.Simulate(duration)`` by ``perf_counter``. Spikes are counted
by a ``spike_recorder`` in memory (the other adapters record every spike too).
Prints ``RESULT {json}`` (``brian2_common.emit``).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import brian2_common as common  # noqa: E402  (load_network, emit, peak RSS; no Brian2 import)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("network")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dt-ms", type=float, default=1.0)
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--warmup-ms", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    import nest
    nest.verbosity = nest.VerbosityLevel.ERROR
    data = common.load_network(args.network)
    n = int(data["a"].shape[0])
    t0 = time.perf_counter()
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": args.dt_ms, "local_num_threads": args.threads,
                          "rng_seed": args.seed, "print_time": False})
    pop = nest.Create("izhikevich", n, params={"consistent_integration": False,
                                               "V_th": 30.0})
    pop.set(a=data["a"].tolist(), b=data["b"].tolist(), c=data["c"].tolist(),
            d=data["d"].tolist(), I_e=data["bias"].tolist(), V_m=data["v0"].tolist(),
            U_m=data["u0"].tolist())
    sigma = np.asarray(data["sigma"], float)
    for level in np.unique(sigma):
        if level <= 0:
            continue
        members = np.flatnonzero(sigma == level)
        gen = nest.Create("noise_generator", params={"mean": 0.0, "std": float(level),
                                                      "dt": args.dt_ms})
        nest.Connect(gen, pop[members.tolist()] if members.size < n else pop)
    first = pop.global_id if n == 1 else pop[0].global_id
    nest.Connect(data["pre"].astype(np.int64) + first, data["post"].astype(np.int64) + first,
                 conn_spec="one_to_one",
                 syn_spec={"synapse_model": "static_synapse",
                           "weight": np.asarray(data["w"], float),
                           "delay": np.full(data["w"].shape[0], args.dt_ms)})
    rec = nest.Create("spike_recorder")
    nest.Connect(pop, rec)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    nest.Simulate(args.warmup_ms)
    warmup_s = time.perf_counter() - t0
    before = int(rec.n_events)
    t0 = time.perf_counter()
    nest.Simulate(args.duration_ms)
    loop_s = time.perf_counter() - t0
    spikes = int(rec.n_events) - before
    common.emit(dict(wall_s_loop=loop_s, build_s=build_s, warmup_s=warmup_s, spikes=spikes,
                     mean_rate_hz=spikes / n / (args.duration_ms / 1000.0),
                     synapses=int(nest.GetKernelStatus("num_connections")),
                     peak_rss_mb=common.self_peak_rss_mb(),
                     nest_version=nest.__version__))


if __name__ == "__main__":
    main()
