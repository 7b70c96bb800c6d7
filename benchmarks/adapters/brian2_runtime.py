"""Brian2 runtime mode (cython target) adapter: one benchmark run in this process.

``python benchmarks/adapters/brian2_runtime.py NETWORK.npz --scheme S --dt-ms DT
--duration-ms T --cache-dir DIR [--target cython]``

Runs ``warmup_ms`` first (code generation + Cython compile, or load from ``--cache-dir``),
then times ``Network.run(T)`` alone: that is the loop time. The caller times the whole
process. Prints ``RESULT {json}``.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import brian2_common as common  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("network")
    ap.add_argument("--scheme", default="izhikevich2003", choices=common.SCHEMES)
    ap.add_argument("--dt-ms", type=float, default=1.0)
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--warmup-ms", type=float, default=10.0)
    ap.add_argument("--cache-dir", default=None, help="Cython cache (fresh dir = cold compile)")
    ap.add_argument("--target", default="cython", choices=("cython", "numpy"))
    args = ap.parse_args(argv)

    import brian2 as b2
    b2.prefs.codegen.target = args.target
    if args.cache_dir:
        b2.prefs.codegen.runtime.cython.cache_dir = args.cache_dir
    data = common.load_network(args.network)
    objects, mon = common.build(b2, data, args.scheme, args.dt_ms)
    net = b2.Network(*objects)
    t0 = time.perf_counter()
    net.run(args.warmup_ms * b2.ms)
    warm_s = time.perf_counter() - t0
    before = mon.num_spikes
    t0 = time.perf_counter()
    net.run(args.duration_ms * b2.ms)
    loop_s = time.perf_counter() - t0
    spikes = int(mon.num_spikes - before)
    n = int(data["a"].shape[0])
    common.emit(dict(wall_s_loop=loop_s, first_run_s=warm_s, spikes=spikes,
                     mean_rate_hz=spikes / n / (args.duration_ms / 1000.0),
                     peak_rss_mb=common.self_peak_rss_mb()))


if __name__ == "__main__":
    main()
