"""neurosim (numba backend) adapter: one benchmark run in this process, plus the case table.

``python benchmarks/adapters/neurosim_numba.py --case b1 [--scheme S] [--dtype float32]
[--dt-ms 1] [--duration-ms 1000] [--seed 0]``; ``--case scale --n N``: the scaling network
of ``b5_scaling.build_b5_network`` (K = 1000 targets per neuron), built from its seed.

Imports neurosim, builds the case's network, runs ``warmup_ms`` (JIT compile, or load from
the Numba cache: point ``NUMBA_CACHE_DIR`` at an empty directory for a cold start), then
times ``Simulator.run`` of ``duration_ms`` on the warmed-up simulator: the loop time. The
caller times the whole process. Prints ``RESULT {json}``.
"""
import argparse
import json
import resource
import sys
import time
from pathlib import Path


def case_config(case: str, scheme: str = "izhikevich2003"):
    """NetworkConfig of benchmark ``case`` (PERFORMANCE.md)."""
    from neurosim.config import NetworkConfig
    if case == "b1":  # Izhikevich 2003: 800 E + 200 I, dense all-to-all, noise 5 / 2
        return NetworkConfig(integration=scheme)
    if case == "b2":  # same model, N = 10,000, p = 0.1, weights x 1000/N
        return NetworkConfig(n_neurons=10_000, connectivity="sparse", connection_probability=0.1,
                             scale_weights_with_n=True, integration=scheme)
    raise ValueError(f"case {case!r} is unknown; valid names: b1, b2, scale")


NETWORK_SEED = 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", required=True, choices=("b1", "b2", "scale"))
    ap.add_argument("--n", type=int, help="neurons (case 'scale')")
    ap.add_argument("--scheme", default="izhikevich2003", choices=("izhikevich2003", "euler"))
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--dt-ms", type=float, default=1.0)
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--warmup-ms", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from neurosim.config import RunConfig
    from neurosim.monitors import Recorder
    from neurosim.network import build_network
    from neurosim.simulator import Simulator

    if args.case == "scale":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from b5_scaling import build_b5_network
        net = build_b5_network(args.n, seed=NETWORK_SEED, dtype=args.dtype)
    else:
        net = build_network(case_config(args.case, args.scheme), seed=NETWORK_SEED,
                            dtype=args.dtype)
    sim = Simulator(net, RunConfig(backend="numba", dtype=args.dtype, dt_ms=args.dt_ms,
                                   duration_ms=args.duration_ms, seed=args.seed))
    t0 = time.perf_counter()
    sim.run(duration_ms=args.warmup_ms)
    first_run_s = time.perf_counter() - t0
    recorder = Recorder(net.n_neurons, args.dt_ms)
    t0 = time.perf_counter()
    sim.run(duration_ms=args.duration_ms, recorder=recorder)
    loop_s = time.perf_counter() - t0
    spikes = recorder.spikes.num_spikes
    result = dict(wall_s_loop=loop_s, first_run_s=first_run_s, spikes=spikes,
                  mean_rate_hz=spikes / net.n_neurons / (args.duration_ms / 1000.0),
                  synapses=net.n_synapses,
                  peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
