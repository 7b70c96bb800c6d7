"""Benchmark B3 (PERFORMANCE.md): the what/when experiment's simulation, neurosim vs Brian2.

``python benchmarks/run_b3.py [--quick] [--trials 100] [--repeats 3] [--threads 1 2]``

The model: the default ``neurosim run whatwhen`` config (MODEL.md "timing" regime, N = 1000,
dense delta synapses, fast + slow centred features, three-factor readouts: "when" online
every gated step, "what" offline once per trial) on the first block of the main paradigm (two
cues, two identities, P(stimulus) 0.8, latencies 400 / 800 ms), ``--trials`` trials
(``--quick``: 20 trials, 1 repeat). neurosim builds the network (seed 0) and the stream (seed
1); the Brian2 adapter loads both (``benchmarks/out/work/b3_inputs_<trials>.npz``), so the
two simulators run the same network on the same trials with independent noise.

Every measurement is a fresh subprocess; within a repeat the simulators alternate
(neurosim f32, Brian2 cpp 1 thread, neurosim f64, Brian2 cpp 2 threads, neurosim f32, Brian2
cython). The first repeat builds the cpp_standalone projects from clean (whole process incl.
code generation and compilation: ``cache=cold``); later repeats rebuild nothing and rerun
the compiled binaries (``cache=rerun``); 2-thread runs always with
``OMP_WAIT_POLICY=PASSIVE``. Brian2 cython runs with a warm cache (filled once, untimed).

A Brian2 timing is void (``rate_ok`` False) unless its mean E and I rates are both within 5 %
of neurosim's (float32). Readout sanity: the anticipatory "when" output (frozen weights z0,
mean over [390, 400) ms after the cue) on cue-0 trials among the last 30, and the offline
what prediction on the same trials.

Writes the tidy CSV ``benchmarks/out/b3.csv`` and ``benchmarks/out/b3_summary.md``.
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ADAPTERS = HERE / "adapters"
sys.path.insert(0, str(ADAPTERS))
sys.path.insert(0, str(HERE))

from run_b1_b2 import RATE_TOLERANCE, host_description, run_adapter  # noqa: E402

COLUMNS = ["repeat", "simulator", "backend", "threads", "cache", "dtype", "N", "synapses",
           "trials", "simulated_s", "wall_s_loop", "cpu_s_loop", "cpu_s_binary", "wall_s_kernel", "wall_s_process",
           "ms_per_sim_s_loop", "ms_per_trial_loop", "realtime_factor", "spikes",
           "rate_e_hz", "rate_i_hz", "rate_ok", "anticipation_400", "what_pred_cue0_id0",
           "what_pred_cue0_id1", "peak_rss_mb", "loadavg_1m", "host"]


def write_inputs(trials: int, seed: int, path: Path) -> dict:
    """neurosim's network (float64) and the stream's per-step arrays for the Brian2 adapter."""
    import numpy as np
    from neurosim.paradigms.whatwhen import WhatWhenStream
    from neurosim.simulator import build_params
    from neurosim_whatwhen import b3_setup
    net, run_cfg, spec, _, config = b3_setup(trials, seed, "float64")
    stream = WhatWhenStream(spec, seed + 1)
    chunks = list(stream)
    drive = np.concatenate([c.drive for c in chunks])
    target = np.concatenate([c.target for c in chunks])
    gate = np.concatenate([c.gate for c in chunks])
    tag = np.concatenate([c.tag for c in chunks]).astype(float)
    opening = np.zeros_like(gate)
    trial_end = np.zeros_like(gate)
    table = stream.trial_table()
    opening[table["start_step"] + table["cue_step"]] = 1.0
    trial_end[table["start_step"] + table["n_steps"] - 1] = 1.0
    occurred = np.repeat(table["occurred"].astype(float), table["n_steps"])
    p = build_params(net, run_cfg.dt_ms)
    pre, post = np.nonzero(net.weights)
    lcfg = config["learner"]
    np.savez(path, a=net.a, b=net.b, c=net.c, d=net.d, bias=net.bias, sigma=p.sigma,
             v0=net.v0, u0=net.u0, pre=pre.astype(np.int32), post=post.astype(np.int32),
             w=net.weights[pre, post], proj=net.input_projection, excitatory=net.excitatory,
             drive=drive, target=target, gate=gate, tag=tag, opening=opening,
             trial_end=trial_end, occurred=occurred, dt_ms=run_cfg.dt_ms,
             f_decay=p.f_decay, s_decay=p.s_decay, s_scale=p.s_scale, c_rate=p.c_rate,
             eta0=lcfg["eta0"], eta_what0=lcfg["eta_what0"], cue=table["cue"],
             start_step=table["start_step"], cue_step=table["cue_step"],
             n_steps=table["n_steps"], window_steps=spec.window_steps)
    assert tuple(net.input_projection.shape) == (4, net.n_neurons), "expected 2 cues + 2 ids"
    return dict(N=net.n_neurons, synapses=int(pre.size), steps=int(gate.size))


def loadavg() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def steps_of_repeat(repeat, args, work, inputs):
    py = sys.executable
    ns = [py, str(ADAPTERS / "neurosim_whatwhen.py"), "--trials", str(args.trials)]
    # one thread, as labelled (at N = 1000 the kernel runs serially anyway)
    numba_env = {"NUMBA_CACHE_DIR": str(work / "numba_cache"), "NUMBA_NUM_THREADS": "1"}
    b2 = [py, str(ADAPTERS / "brian2_whatwhen.py"), str(inputs)]

    def neurosim(dtype):
        return (dict(simulator="neurosim", backend="numba", threads=1, cache="warm",
                     dtype=dtype), ns + ["--dtype", dtype], numba_env)

    def cpp(threads):
        env = {"OMP_WAIT_POLICY": "PASSIVE"} if threads > 1 else {}
        build_dir = work / f"cpp_b3_{args.trials}_t{threads}"
        info = dict(simulator="brian2", backend="cpp_standalone", threads=threads,
                    dtype="float64", cache="cold" if repeat == 0 else "rerun")
        if repeat == 0:
            return info, b2 + ["--device", "cpp_standalone", "--threads", str(threads),
                               "--build-dir", str(build_dir), "--clean"], env
        return info, ["RERUN", str(build_dir)], env

    cython = (dict(simulator="brian2", backend="cython", threads=1,
                   cache="cold" if repeat == 0 else "warm", dtype="float64"),
              b2 + ["--device", "runtime", "--cache-dir", str(work / "cython_cache_b3")], None)
    steps = [neurosim("float32")]
    for threads in args.threads:
        steps += [cpp(threads), neurosim("float64" if threads == args.threads[0]
                                         else "float32")]
    if repeat < args.cython_repeats:
        steps += [cython]
    return steps


def rerun_cpp(build_dir: Path, env: dict, inputs: Path):
    """Rerun a compiled B3 binary; loop time from Brian2's last_run_info, rates from its files."""
    import subprocess
    import time
    import numpy as np
    build_dir = Path(build_dir).resolve()
    rss_file = build_dir / "rerun_time.txt"
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", str(rss_file), "./main"],
                          cwd=build_dir, capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})))
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(f"FAILED rerun in {build_dir}: {proc.stderr[-2000:]}\n")
        return None, wall
    kb, user, system = (float(x) for x in rss_file.read_text().split()[-3:])
    loop_s = float((build_dir / "results" / "last_run_info.txt").read_text().split()[0])
    result = dict(wall_s_loop=loop_s, peak_rss_mb=kb / 1024.0, cpu_s_binary=user + system)
    with np.load(inputs) as f:
        exc = f["excitatory"].astype(bool)
        dur = f["gate"].shape[0] * float(f["dt_ms"]) / 1000.0
    files = list((Path(build_dir) / "results").glob("_array_spike_count_count_*"))
    counts = np.fromfile(files[0], dtype=np.int32).astype(float)
    result.update(spikes=int(counts.sum()), rate_e_hz=counts[exc].sum() / exc.sum() / dur,
                  rate_i_hz=counts[~exc].sum() / (~exc).sum() / dur)
    return result, wall


def median_table(rows):
    groups = {}
    for r in rows:
        key = (r["simulator"], r["backend"], int(r["threads"]), r["dtype"])
        groups.setdefault(key, []).append(r)
    table = []
    for key, rs in sorted(groups.items()):
        med = lambda name: statistics.median(float(r[name]) for r in rs  # noqa: E731
                                             if r.get(name) not in (None, ""))
        proc = [float(r["wall_s_process"]) for r in rs if r["cache"] in ("cold", "warm")]
        ant = [float(r["anticipation_400"]) for r in rs if r.get("anticipation_400") not in
               (None, "")]
        cpu = [float(r.get("cpu_s_loop") or r.get("cpu_s_binary") or "nan") for r in rs]
        cpu = [c for c in cpu if c == c]
        table.append(dict(simulator=key[0], backend=key[1], threads=key[2], dtype=key[3],
                          cpu=(1000 * statistics.median(cpu) / float(rs[0]["simulated_s"])
                               if cpu else None),
                          n=len(rs), ms_sim=1000 * med("wall_s_loop") / float(rs[0]["simulated_s"]),
                          ms_trial=1000 * med("wall_s_loop") / int(rs[0]["trials"]),
                          rt=float(rs[0]["simulated_s"]) / med("wall_s_loop"),
                          kernel=(1000 * med("wall_s_kernel") / float(rs[0]["simulated_s"])
                                  if key[0] == "neurosim" else None),
                          process=statistics.median(proc) if proc else None,
                          rate_e=med("rate_e_hz"), rate_i=med("rate_i_hz"),
                          ant=statistics.median(ant) if ant else None,
                          rate_ok=all(str(r["rate_ok"]) == "True" for r in rs),
                          load=med("loadavg_1m")))
    return table


def summary_markdown(table, rows) -> str:
    r0 = rows[0]
    lines = [f"B3: {r0['trials']} trials, {float(r0['simulated_s']):.1f} s simulated, "
             f"N = {r0['N']}, {r0['synapses']} synapses; medians over runs", "",
             "| simulator | backend | threads | dtype | runs | ms / sim s (loop) | CPU ms / sim s | "
             "ms / trial | x real time | process s | rate E / I Hz | z0 anticip. 400 ms | "
             "rate ok | load 1m |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in table:
        proc = f"{t['process']:.1f}" if t["process"] is not None else "-"
        ant = f"{t['ant']:.3f}" if t["ant"] is not None else "-"
        cpu = f"{t['cpu']:.1f}" if t["cpu"] is not None else "-"
        if t["backend"] == "cpp_standalone" and t["cpu"] is not None:
            cpu += " (whole binary)"
        kern = f" (kernel {t['kernel']:.1f})" if t["kernel"] is not None else ""
        lines.append(f"| {t['simulator']} | {t['backend']} | {t['threads']} | {t['dtype']} | "
                     f"{t['n']} | {t['ms_sim']:.1f}{kern} | {cpu} | {t['ms_trial']:.1f} | {t['rt']:.0f} | "
                     f"{proc} | {t['rate_e']:.2f} / {t['rate_i']:.2f} | {ant} | "
                     f"{'yes' if t['rate_ok'] else 'VOID'} | {t['load']:.1f} |")
    ns = next((t for t in table if t["backend"] == "numba" and t["dtype"] == "float32"), None)
    ns64 = next((t for t in table if t["backend"] == "numba" and t["dtype"] == "float64"), None)
    if ns is None:
        return "\n".join(lines) + "\n"
    lines += ["", "Ratios (Brian2 / neurosim float32, loop medians; > 1 = neurosim faster):", "",
              f"* neurosim float32: {ns['rt']:.0f}x real time (target >= 100x: "
              f"{'met' if ns['rt'] >= 100 else 'NOT met'}, {ns['rt'] / 100:.2f} of target)"]
    for t in table:
        if t["simulator"] != "brian2":
            continue
        ratio = t["ms_sim"] / ns["ms_sim"]
        text = (f"* vs {t['backend']} {t['threads']} thread(s): loop {ratio:.2f}x "
                f"({t['ms_sim']:.1f} vs {ns['ms_sim']:.1f} ms/sim-s)")
        if ns64 is not None:
            text += f" (float64 neurosim: {t['ms_sim'] / ns64['ms_sim']:.2f}x)"
        if t["process"] is not None and ns["process"] is not None:
            text += f"; whole process {t['process'] / ns['process']:.2f}x"
        if t["backend"] == "cpp_standalone":
            text += f" — target >= 5x: {'met' if ratio >= 5 else 'NOT met'}"
        if not t["rate_ok"]:
            text += " — VOID (rates differ by > 5 %)"
        lines.append(text)
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 trials, 1 repeat")
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cython-repeats", type=int, default=2,
                    help="repeats that include the (slow) Brian2 cython run")
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(HERE / "out" / "b3.csv"))
    ap.add_argument("--summarize", metavar="CSV", default=None)
    args = ap.parse_args(argv)
    if args.quick:
        args.trials, args.repeats, args.cython_repeats = 20, 1, 1
    out = Path(args.out)
    if args.summarize:
        with open(args.summarize, newline="") as f:
            rows = list(csv.DictReader(f))
        summary = summary_markdown(median_table(rows), rows)
        (Path(args.summarize).parent / "b3_summary.md").write_text(
            f"host: {rows[0]['host']}\n\n" + summary)
        print(summary)
        return
    work = out.parent / "work"
    work.mkdir(parents=True, exist_ok=True)
    host = host_description()
    print(f"host: {host}", flush=True)
    inputs = work / f"b3_inputs_{args.trials}.npz"
    meta = write_inputs(args.trials, args.seed, inputs)
    # untimed: fill the numba cache (both dtypes); the cython cache is filled by the first
    # timed cython run (cache=cold), later ones are warm
    for info, cmd, env in steps_of_repeat(0, args, work, inputs):
        if info["backend"] == "numba":
            run_adapter(cmd + ["--trials", "1", "--no-rates"], env)
    rows = []
    for repeat in range(args.repeats):
        for info, cmd, env in steps_of_repeat(repeat, args, work, inputs):
            load = loadavg()
            if cmd[0] == "RERUN":
                result, wall = rerun_cpp(Path(cmd[1]), env, inputs)
            else:
                result, wall = run_adapter(cmd, env)
            if result is None:
                continue
            sim_s = result.get("simulated_s", meta["steps"] / 1000.0)
            wall_proc = wall - result.get("rates_s", 0.0)
            row = dict(repeat=repeat, N=meta["N"], synapses=meta["synapses"],
                       trials=args.trials, simulated_s=sim_s, host=host,
                       wall_s_process=round(wall_proc, 3), loadavg_1m=load, **info)
            for k in ("wall_s_loop", "cpu_s_loop", "cpu_s_binary", "wall_s_kernel", "spikes", "rate_e_hz", "rate_i_hz",
                      "anticipation_400", "peak_rss_mb"):
                row[k] = result.get(k)
            wp = result.get("what_pred_cue0")
            if wp:
                row["what_pred_cue0_id0"], row["what_pred_cue0_id1"] = wp
            row["ms_per_sim_s_loop"] = 1000 * row["wall_s_loop"] / sim_s
            row["ms_per_trial_loop"] = 1000 * row["wall_s_loop"] / args.trials
            row["realtime_factor"] = sim_s / row["wall_s_loop"]
            rows.append(row)
            ant = row["anticipation_400"]
            print(f"r{repeat} {info['simulator']:8s} {info['backend']:14s} t{info['threads']} "
                  f"{info['cache']:5s} {info['dtype']}: loop {row['ms_per_sim_s_loop']:7.1f} "
                  f"ms/sim-s ({row['realtime_factor']:.0f}x real time), process "
                  f"{wall_proc:6.1f} s, rates {row['rate_e_hz']:.2f}/{row['rate_i_hz']:.2f} Hz"
                  + (f", z0(400) {ant:.3f}" if ant is not None else "")
                  + f", load {load:.1f}", flush=True)
    ref = [r for r in rows if r["simulator"] == "neurosim" and r["dtype"] == "float32"]
    ref_e = statistics.median(r["rate_e_hz"] for r in ref)
    ref_i = statistics.median(r["rate_i_hz"] for r in ref)
    for r in rows:
        r["rate_ok"] = (abs(r["rate_e_hz"] - ref_e) <= RATE_TOLERANCE * ref_e
                        and abs(r["rate_i_hz"] - ref_i) <= RATE_TOLERANCE * ref_i)
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k) for k in COLUMNS})
    summary = summary_markdown(median_table(rows), rows)
    (out.parent / "b3_summary.md").write_text(f"host: {host}\n\n" + summary)
    print("\n" + summary)
    print(f"wrote {out} and {out.parent / 'b3_summary.md'}")


if __name__ == "__main__":
    main()
