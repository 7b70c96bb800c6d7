"""Benchmarks B1 and B2 (PERFORMANCE.md): neurosim (numba) vs Brian2 runtime and cpp_standalone.

``python benchmarks/run_b1_b2.py [--quick] [--repeats 3] [--cases b1 b2] [--threads 1 2]``

Every measurement is a fresh subprocess running one adapter (``benchmarks/adapters/``); the
adapters of the different simulators alternate within each repeat, and the summary reports
medians over repeats. Per measurement:

* ``wall_s_loop``: the simulation loop only (neurosim: ``Simulator.run`` on a warmed-up
  simulator; Brian2 runtime: the second ``Network.run``; cpp_standalone: Brian2's own timer of
  the compiled loop, ``device._last_run_time``);
* ``wall_s_process``: the whole subprocess (interpreter start, imports, network build,
  JIT / code generation / compilation, a 10 ms warm-up run (not standalone), the 1 s run).
  ``cache=cold``: neurosim with an empty ``NUMBA_CACHE_DIR``, Brian2 cython with an empty
  cache dir, cpp_standalone after ``make clean``; ``cache=warm``: caches already filled.

Both simulators run the same network: neurosim builds it; the Brian2 adapters load the built
arrays from ``benchmarks/out/work/<case>_<scheme>.npz`` (so Brian2's process time excludes
neurosim's network build; neurosim's includes it). Noise is independent (Brian2 ``randn()``),
so the check is statistical: a Brian2 timing is void (``rate_ok`` False) unless its mean
rate is within 5 % of neurosim's (float32, the default precision).

Writes the tidy CSV ``benchmarks/out/b1_b2.csv`` and a Markdown summary
``benchmarks/out/b1_b2_summary.md``; ``benchmarks/plot.py`` draws the figure.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ADAPTERS = HERE / "adapters"
sys.path.insert(0, str(ADAPTERS))

COLUMNS = ["case", "repeat", "simulator", "backend", "threads", "cache", "dtype", "scheme", "N",
           "synapses", "dt_ms", "simulated_s", "wall_s_loop", "wall_s_process",
           "ms_per_sim_s_loop", "spikes", "mean_rate_hz", "peak_rss_mb", "rate_ok", "host"]
RATE_TOLERANCE = 0.05


def host_description() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return f"{platform.node()} | {model} | {os.cpu_count()} cpus"


def write_network(case: str, scheme: str, path: Path, dt_ms: float) -> dict:
    """Build the case's network with neurosim (float64) and save it for the Brian2 adapters
    (``sigma``: the noise current's std per step of ``dt_ms``, as neurosim draws it)."""
    import numpy as np
    from neurosim.network import build_network
    from neurosim_numba import NETWORK_SEED, case_config
    net = build_network(case_config(case, scheme), seed=NETWORK_SEED, dtype="float64")
    if net.csr is not None:
        indptr, indices, data = net.csr
        pre = np.repeat(np.arange(net.n_neurons, dtype=np.int32), np.diff(indptr))
        post, w = indices.astype(np.int32), data
    else:
        pre, post = np.nonzero(net.weights)
        pre, post = pre.astype(np.int32), post.astype(np.int32)
        w = net.weights[pre, post]
    from neurosim.simulator import noise_scale
    sigma = net.noise_sigma * noise_scale(dt_ms)
    np.savez(path, a=net.a, b=net.b, c=net.c, d=net.d, bias=net.bias, sigma=sigma,
             v0=net.v0, u0=net.u0, pre=pre, post=post, w=w)
    return dict(N=net.n_neurons, synapses=int(w.size))


def run_adapter(cmd: list[str], env_extra: dict | None = None) -> tuple[dict | None, float]:
    env = dict(os.environ)
    env.update(env_extra or {})
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
    if proc.returncode != 0 or result is None:
        sys.stderr.write(f"FAILED ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}\n")
        return None, wall
    return result, wall


def plan(case: str, args, work: Path, net_file: Path, include_cold_cython: bool):
    """The measurements of one repeat of one case, neurosim and Brian2 alternating."""
    py = sys.executable
    common = ["--scheme", args.scheme, "--dt-ms", str(args.dt_ms),
              "--duration-ms", str(args.duration_ms)]
    ns = [py, str(ADAPTERS / "neurosim_numba.py"), "--case", case] + common
    warm_numba = {"NUMBA_CACHE_DIR": str(work / "numba_cache")}
    rt = [py, str(ADAPTERS / "brian2_runtime.py"), str(net_file)] + common
    sa = [py, str(ADAPTERS / "brian2_standalone.py"), str(net_file)] + common

    def cpp(threads, cold):
        return (dict(simulator="brian2", backend="cpp_standalone", threads=threads,
                     cache="cold" if cold else "warm", dtype="float64"),
                sa + ["--threads", str(threads), "--build-dir",
                      str(work / f"cpp_{case}_{args.scheme}_t{threads}")]
                + (["--clean"] if cold else []), None)

    def neurosim(dtype, cold, threads=1):
        env = {"NUMBA_CACHE_DIR": tempfile.mkdtemp(prefix="numba_cold_", dir=work)} if cold \
            else dict(warm_numba)
        env["NUMBA_NUM_THREADS"] = str(threads)
        return (dict(simulator="neurosim", backend="numba", threads=threads,
                     cache="cold" if cold else "warm", dtype=dtype),
                ns + ["--dtype", dtype], env)

    steps = [neurosim("float32", False)]
    for threads in args.threads:
        steps += [cpp(threads, cold=True), neurosim("float32", True, threads)]
    steps += [(dict(simulator="brian2", backend="cython", threads=1, cache="warm",
                    dtype="float64"), rt + ["--cache-dir", str(work / "cython_cache")], None),
              neurosim("float64", False)]
    for threads in args.threads:
        steps += [cpp(threads, cold=False), neurosim("float32", False, threads)]
    if include_cold_cython:
        steps += [(dict(simulator="brian2", backend="cython", threads=1, cache="cold",
                        dtype="float64"),
                   rt + ["--cache-dir", tempfile.mkdtemp(prefix="cython_cold_", dir=work)], None),
                  neurosim("float32", True)]
    return steps


def rerun_binary(build_dir: Path, env_extra: dict | None = None) -> tuple[dict | None, float]:
    """Re-run an already compiled cpp_standalone binary: its loop time, spikes and peak RSS."""
    env = dict(os.environ)
    env.update(env_extra or {})
    build_dir = Path(build_dir).resolve()  # ./main runs with cwd=build_dir
    rss_file = build_dir / "rerun_peak_rss_kb.txt"
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss_file), "./main"],
                          cwd=build_dir, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(f"FAILED rerun in {build_dir}: {proc.stderr[-2000:]}\n")
        return None, wall
    loop_s = float((build_dir / "results" / "last_run_info.txt").read_text().split()[0])
    spike_files = list((build_dir / "results").glob("_dynamic_array_spikes_i_*"))
    spikes = spike_files[0].stat().st_size // 4 if spike_files else -1  # int32 neuron ids
    rss = float(rss_file.read_text().split()[-1]) / 1024.0
    return dict(wall_s_loop=loop_s, spikes=spikes, peak_rss_mb=rss), wall


def rerun_stage(case, args, work, meta, host, repeats):
    """Tightly alternated loop timings: neurosim (warm) and the compiled cpp binaries rerun.

    No compilation or code generation in between, so the loop times of both simulators are
    sampled close together in time (the machine is shared). Rows get ``cache='rerun'``.
    """
    py = sys.executable
    ns = [py, str(ADAPTERS / "neurosim_numba.py"), "--case", case, "--scheme", args.scheme,
          "--dt-ms", str(args.dt_ms), "--duration-ms", str(args.duration_ms), "--dtype", "float32"]
    rows = []
    for repeat in range(repeats):
        items = [("neurosim", "numba", 1, None, "")]
        for threads in args.threads:
            items += [("brian2", "cpp_standalone", threads, {}, ""),
                      ("neurosim", "numba", threads, None, "")]
            if threads > 1:
                items += [("brian2", "cpp_standalone", threads, {"OMP_WAIT_POLICY": "PASSIVE"},
                           "passive")]
        for simulator, backend, threads, omp_env, tag in items:
            if simulator == "neurosim":
                result, wall = run_adapter(ns, {"NUMBA_CACHE_DIR": str(work / "numba_cache"),
                                                "NUMBA_NUM_THREADS": str(threads)})
            else:
                build_dir = work / f"cpp_{case}_{args.scheme}_t{threads}"
                result, wall = rerun_binary(build_dir, omp_env)
                if result is not None:
                    result["mean_rate_hz"] = result["spikes"] / meta["N"] / (args.duration_ms / 1000)
            if result is None:
                continue
            row = dict(case=case, repeat=repeat, scheme=args.scheme, N=meta["N"],
                       synapses=meta["synapses"], dt_ms=args.dt_ms,
                       simulated_s=args.duration_ms / 1000.0, host=host,
                       wall_s_process=round(wall, 4), simulator=simulator, backend=backend,
                       threads=threads, cache="rerun" + (f"-{tag}" if tag else ""),
                       dtype="float32" if simulator == "neurosim" else "float64")
            row.update({k: result[k] for k in ("wall_s_loop", "spikes", "mean_rate_hz",
                                               "peak_rss_mb")})
            row["ms_per_sim_s_loop"] = 1000 * row["wall_s_loop"] / row["simulated_s"]
            rows.append(row)
            print(f"{case} rerun{repeat} {simulator:8s} {backend:14s} t{threads} {tag:7s}: loop "
                  f"{row['ms_per_sim_s_loop']:8.1f} ms/sim-s, rate {row['mean_rate_hz']:.2f} Hz",
                  flush=True)
    return rows


def warm_up(steps):
    """Fill the warm caches (numba, cython, cpp builds) once, untimed."""
    seen = set()
    for info, cmd, env in steps:
        key = (info["backend"], info["threads"], info["dtype"])
        if info["cache"] == "warm" and key not in seen:
            seen.add(key)
            run_adapter(cmd, env)


def _pool_key(key):
    return key[:4] + key[5:] + (("passive",) if key[4] == "rerun-passive" else ())


def median_table(rows):
    """Medians per (case, simulator, backend, threads, cache, dtype); ``ms_loop_all`` pools
    the loop times of cold and warm runs (the loop does not depend on the cache), valid runs
    only (``rate_ok``)."""
    pooled = {}
    for r in rows:
        if not r["rate_ok"]:    # a void run (rate off by > 5 %) times another network state
            continue
        key = (r["case"], r["simulator"], r["backend"], r["threads"], r["dtype"])
        if r["cache"] == "rerun-passive":  # a different OpenMP setting: its own pool
            key = key + ("passive",)
        pooled.setdefault(key, []).append(1000 * float(r["wall_s_loop"]) / float(r["simulated_s"]))
    groups = {}
    for r in rows:
        key = (r["case"], r["simulator"], r["backend"], r["threads"], r["cache"], r["dtype"])
        groups.setdefault(key, []).append(r)
    table = []
    for key, rs in sorted(groups.items()):
        med = lambda name: statistics.median(float(r[name]) for r in rs)  # noqa: E731
        table.append(dict(case=key[0], simulator=key[1], backend=key[2], threads=key[3],
                          cache=key[4], dtype=key[5], n=len(rs), N=rs[0]["N"],
                          synapses=rs[0]["synapses"],
                          ms_loop=1000 * med("wall_s_loop") / float(rs[0]["simulated_s"]),
                          ms_loop_all=statistics.median(pooled.get(_pool_key(key),
                                                                    [float("nan")])),
                          n_all=len(pooled.get(_pool_key(key), [])),
                          s_process=med("wall_s_process"), rate=med("mean_rate_hz"),
                          rss=med("peak_rss_mb"), rate_ok=all(r["rate_ok"] for r in rs)))
    return table


def _find(table, case, backend, threads=1, cache="warm", dtype=None):
    for t in table:
        if (t["case"], t["backend"], t["threads"], t["cache"]) == (case, backend, threads, cache) \
                and (dtype is None or t["dtype"] == dtype):
            return t
    return None


def summary_markdown(table, cases, threads_list) -> str:
    lines = ["| case | simulator | backend | threads | cache | dtype | runs | ms / sim s (loop) | "
             "ms / sim s (loop, cold+warm runs) | process s | rate Hz | peak RSS MB | rate ok |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in table:
        lines.append(f"| {t['case']} | {t['simulator']} | {t['backend']} | {t['threads']} | "
                     f"{t['cache']} | {t['dtype']} | {t['n']} | {t['ms_loop']:.1f} | {t['ms_loop_all']:.1f} | "
                     f"{t['s_process']:.2f} | {t['rate']:.2f} | {t['rss']:.0f} | "
                     f"{'yes' if t['rate_ok'] else 'VOID'} |")
    lines += ["", "Ratios (peer / neurosim float32, medians; > 1 means neurosim is faster):", ""]
    for case in cases:
        ns_w = _find(table, case, "numba", dtype="float32")
        ns_c = _find(table, case, "numba", cache="cold", dtype="float32")
        ns64 = _find(table, case, "numba", dtype="float64")
        if ns_w is None:
            continue
        for threads in threads_list:
            cpp_c = _find(table, case, "cpp_standalone", threads, "cold")
            if cpp_c is None:
                continue
            # neurosim with as many threads as the peer (rows without it: 1 thread)
            ns_t = _find(table, case, "numba", threads, dtype="float32") or ns_w
            ns_tc = _find(table, case, "numba", threads, cache="cold", dtype="float32") or ns_c
            loop = cpp_c["ms_loop_all"] / ns_t["ms_loop_all"]
            text = (f"* {case.upper()} vs cpp_standalone {threads} thread(s), neurosim "
                    f"{ns_t['threads']} thread(s): loop {loop:.2f}x "
                    f"({cpp_c['ms_loop_all']:.1f} vs {ns_t['ms_loop_all']:.1f} ms/sim-s, medians "
                    f"of {cpp_c['n_all']} and {ns_t['n_all']} runs)")
            if ns64 is not None:
                text += f" (float64 neurosim: {cpp_c['ms_loop_all'] / ns64['ms_loop_all']:.2f}x)"
            if ns_tc is not None:
                text += (f"; whole process, both cold: {cpp_c['s_process'] / ns_tc['s_process']:.2f}x")
            passive = _find(table, case, "cpp_standalone", threads, "rerun-passive")
            if passive is not None:
                text += (f"; loop vs reruns with OMP_WAIT_POLICY=PASSIVE: "
                         f"{passive['ms_loop'] / ns_t['ms_loop_all']:.2f}x "
                         f"({passive['ms_loop']:.1f} ms/sim-s)")
            cpp_w = _find(table, case, "cpp_standalone", threads, "warm")
            if cpp_w is not None:
                text += f", both warm: {cpp_w['s_process'] / ns_t['s_process']:.2f}x"
            lines.append(text)
        ns_2 = _find(table, case, "numba", 2, dtype="float32")
        if ns_2 is not None and ns_2 is not ns_w:
            lines.append(f"* {case.upper()} neurosim thread scaling 1 -> 2 threads: "
                         f"{ns_w['ms_loop_all'] / ns_2['ms_loop_all']:.2f}x")
        cy = _find(table, case, "cython")
        if cy is not None:
            lines.append(f"* {case.upper()} vs Brian2 cython (warm cache): loop "
                         f"{cy['ms_loop_all'] / ns_w['ms_loop_all']:.2f}x, process "
                         f"{cy['s_process'] / ns_w['s_process']:.2f}x")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 repeat, no cold-cache cython run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cases", nargs="+", default=["b1", "b2"], choices=["b1", "b2"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2],
                    help="cpp_standalone OpenMP threads (0 = no OpenMP)")
    ap.add_argument("--scheme", default="izhikevich2003", choices=["izhikevich2003", "euler"])
    ap.add_argument("--dt-ms", type=float, default=1.0)
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--out", default=str(HERE / "out" / "b1_b2.csv"))
    ap.add_argument("--rerun-repeats", type=int, default=5,
                    help="repeats of the tightly alternated loop stage (compiled cpp binaries "
                         "rerun, 2-thread ones also with OMP_WAIT_POLICY=PASSIVE); 0 = skip")
    ap.add_argument("--rerun-only", action="store_true",
                    help="only the rerun stage, appended to --out (needs a previous full run)")
    ap.add_argument("--summarize", metavar="CSV", default=None,
                    help="only re-write the Markdown summary of an existing CSV")
    args = ap.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    if args.summarize:
        with open(args.summarize, newline="") as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            r["threads"], r["rate_ok"] = int(r["threads"]), r["rate_ok"] == "True"
        cases = sorted({r["case"] for r in rows})
        threads = sorted({r["threads"] for r in rows if r["backend"] == "cpp_standalone"})
        summary = summary_markdown(median_table(rows), cases, threads)
        path = Path(args.summarize).parent / "b1_b2_summary.md"
        path.write_text(f"host: {rows[0]['host']}\n\n" + summary)
        print(summary)
        return

    out = Path(args.out)
    work = out.parent / "work"
    work.mkdir(parents=True, exist_ok=True)
    host = host_description()
    print(f"host: {host}", flush=True)
    rows = []
    if args.rerun_only and out.exists():
        with open(out, newline="") as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            r["threads"] = int(r["threads"])
            for k in ("wall_s_loop", "wall_s_process", "mean_rate_hz", "peak_rss_mb",
                      "simulated_s", "ms_per_sim_s_loop"):
                r[k] = float(r[k])
    for case in args.cases:
        net_file = work / f"{case}_{args.scheme}.npz"
        if args.rerun_only:
            first = next(r for r in rows if r["case"] == case)
            rows += rerun_stage(case, args, work, dict(N=int(first["N"]),
                                synapses=int(first["synapses"])), host, args.rerun_repeats)
            continue
        meta = write_network(case, args.scheme, net_file, args.dt_ms)
        warm_up(plan(case, args, work, net_file, include_cold_cython=False))
        for repeat in range(repeats):
            for info, cmd, env in plan(case, args, work, net_file, not args.quick):
                result, wall = run_adapter(cmd, env)
                if env and "numba_cold_" in env.get("NUMBA_CACHE_DIR", ""):
                    shutil.rmtree(env["NUMBA_CACHE_DIR"], ignore_errors=True)
                if "--cache-dir" in cmd and "cython_cold_" in cmd[cmd.index("--cache-dir") + 1]:
                    shutil.rmtree(cmd[cmd.index("--cache-dir") + 1], ignore_errors=True)
                if result is None:
                    continue
                row = dict(case=case, repeat=repeat, scheme=args.scheme, N=meta["N"],
                           synapses=meta["synapses"], dt_ms=args.dt_ms,
                           simulated_s=args.duration_ms / 1000.0, host=host,
                           wall_s_process=round(wall, 4), **info)
                row.update({k: result[k] for k in ("wall_s_loop", "spikes", "mean_rate_hz",
                                                   "peak_rss_mb")})
                row["ms_per_sim_s_loop"] = 1000 * row["wall_s_loop"] / row["simulated_s"]
                rows.append(row)
                print(f"{case} r{repeat} {info['simulator']:8s} {info['backend']:14s} "
                      f"t{info['threads']} {info['cache']:4s} {info['dtype']}: loop "
                      f"{row['ms_per_sim_s_loop']:8.1f} ms/sim-s, process {wall:6.2f} s, "
                      f"rate {row['mean_rate_hz']:.2f} Hz", flush=True)
        if args.rerun_repeats > 0:
            rows += rerun_stage(case, args, work, meta, host,
                                1 if args.quick else args.rerun_repeats)
    # A Brian2 timing counts only if its rate matches neurosim's (same network, other noise).
    for case in args.cases:
        ref = [r["mean_rate_hz"] for r in rows if r["case"] == case
               and r["simulator"] == "neurosim" and r["dtype"] == "float32"]
        ref_rate = statistics.median(ref) if ref else float("nan")
        for r in rows:
            if r["case"] == case:
                r["rate_ok"] = abs(r["mean_rate_hz"] - ref_rate) <= RATE_TOLERANCE * ref_rate
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k) for k in COLUMNS})
    summary = summary_markdown(median_table(rows), args.cases, args.threads)
    (out.parent / "b1_b2_summary.md").write_text(f"host: {host}\n\n" + summary)
    print("\n" + summary)
    print(f"wrote {out} and {out.parent / 'b1_b2_summary.md'}")


if __name__ == "__main__":
    main()
