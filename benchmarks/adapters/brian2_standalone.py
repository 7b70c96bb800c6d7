"""Brian2 cpp_standalone adapter: generate, compile and run one benchmark in a project dir.

``python benchmarks/adapters/brian2_standalone.py NETWORK.npz --threads K --build-dir DIR
[--clean] --scheme S --dt-ms DT --duration-ms T``

``--threads`` sets ``prefs.devices.cpp_standalone.openmp_threads`` (0 = no OpenMP).
``--clean`` runs ``make clean`` first (cold compile); without it a project already built in
``DIR`` is only re-linked if its sources changed (warm). Loop time: Brian2's own measurement
of the simulation loop (``device._last_run_time``). Peak RSS: the larger of this Python
process and the simulation binary (measured with ``/usr/bin/time``; the compiler excluded).
Prints ``RESULT {json}``.
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
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--clean", action="store_true")
    ap.add_argument("--scheme", default="izhikevich2003", choices=common.SCHEMES)
    ap.add_argument("--dt-ms", type=float, default=1.0)
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    args = ap.parse_args(argv)

    import brian2 as b2
    build_dir = os.path.abspath(args.build_dir)
    os.makedirs(build_dir, exist_ok=True)
    b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = args.threads
    rss_file = os.path.join(build_dir, "main_peak_rss_kb.txt")
    if os.path.exists("/usr/bin/time"):
        b2.prefs.devices.cpp_standalone.run_cmd_unix = ["/usr/bin/time", "-f", "%M", "-o",
                                                        rss_file, "./main"]
    data = common.load_network(args.network)
    objects, mon = common.build(b2, data, args.scheme, args.dt_ms)
    net = b2.Network(*objects)
    net.run(args.duration_ms * b2.ms)
    t0 = time.perf_counter()
    b2.device.build(directory=build_dir, compile=True, run=True, clean=args.clean,
                    with_output=False)
    build_and_run_s = time.perf_counter() - t0
    loop_s = float(b2.device._last_run_time)
    spikes = int(mon.num_spikes)
    n = int(data["a"].shape[0])
    rss = common.self_peak_rss_mb()
    try:
        with open(rss_file) as f:
            rss = max(rss, float(f.read().split()[-1]) / 1024.0)
    except (OSError, ValueError, IndexError):
        pass
    timers = {k: v for k, v in getattr(b2.device, "timers", {}).items()
              if isinstance(v, (int, float))}
    common.emit(dict(wall_s_loop=loop_s, build_and_run_s=build_and_run_s, spikes=spikes,
                     mean_rate_hz=spikes / n / (args.duration_ms / 1000.0), peak_rss_mb=rss,
                     brian2_timers=timers))


if __name__ == "__main__":
    main()
