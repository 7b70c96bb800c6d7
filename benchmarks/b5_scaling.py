"""B5 (PERFORMANCE.md): scaling with N at K = 1000 synapses per neuron (CSR), GPU and CPU.

``python benchmarks/b5_scaling.py [--quick] [--sizes 1000 10000 ...] [--steps 1000]
[--cpu-max-n 100000] [--dtype float32] [--out DIR]``

Network: Izhikevich (2003) heterogeneous 80 % E / 20 % I, thalamic noise (std 5 E, 2 I),
dt = 1 ms, ``izhikevich2003`` scheme, delta synapses. Each neuron has exactly K = min(1000, N)
postsynaptic targets, one drawn uniformly in each of K equal bins of [0, N) (so rows are
strictly increasing, as the CUDA kernel requires), weights 0.5 U(0,1) from E and -U(0,1)
from I: the input per neuron is the same as in the N = 1000 all-to-all network of B1 at
every N. Built directly (vectorised) rather than with ``build_network``, whose per-row loop
would take minutes at N = 1e6.

Timing (loop only, JIT excluded: every backend first runs a short warm-up chunk):

* ``cuda``: one ``DeviceBatch`` (B = 1), ``advance`` over the steps, timed with CUDA events
  (``cupy.cuda.Event``); under ``NUMBA_ENABLE_CUDASIM=1`` perf_counter (smoke test only).
* ``numba``: ``kernels.cpu.run_chunk`` (one thread), perf_counter.

Columns: simulator, backend, N, synapses, dt_ms, simulated_s, wall_s, ms_per_sim_s, spikes,
mean_rate_hz, floor_ms_per_sim_s (bandwidth floor at ``--bandwidth-gbs``: 40 B per neuron
per step + 8 B per synaptic event), x_floor, device, host. CSV: ``$OUT/b5_scaling.csv`` if
``OUT`` is set, else ``benchmarks/out/b5_scaling.csv``.
"""
import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from neurosim.config import NetworkConfig  # noqa: E402
from neurosim.network import FORM_2003, Network  # noqa: E402
from neurosim.simulator import build_params, n_features, new_readout, new_state  # noqa: E402

K_SYN = 1000


def host_string():
    return f"{platform.node()} | {platform.processor() or platform.machine()} | " \
           f"{os.cpu_count()} cpus"


def device_string():
    from neurosim import gpu
    if gpu.simulator_enabled():
        return "numba CUDA simulator"
    try:
        import cupy
        props = cupy.cuda.runtime.getDeviceProperties(0)
        mem = props["totalGlobalMem"] / 2**30
        return f"{props['name'].decode()} ({mem:.0f} GiB, cc {props['major']}.{props['minor']})"
    except Exception as exc:  # noqa: BLE001
        return f"no GPU ({exc.__class__.__name__})"


def out_dir(arg=None) -> Path:
    d = Path(arg or os.environ.get("OUT") or Path(__file__).parent / "out")
    d.mkdir(parents=True, exist_ok=True)
    return d


def write_csv(path: Path, rows: list[dict]) -> None:
    """Tidy CSV of ``rows`` (columns: the union of their keys, in first-seen order)."""
    fields = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {path}")


def build_b5_network(n, k=K_SYN, seed=1, dtype="float32", block=100_000) -> Network:
    """Izhikevich 2003 network with exactly ``min(k, n)`` sorted CSR targets per neuron."""
    rng = np.random.default_rng(seed)
    k = min(k, n)
    ne = int(0.8 * n)
    exc = np.arange(n) < ne
    r = rng.random(n)
    a = np.where(exc, 0.02, 0.02 + 0.08 * r)
    b = np.where(exc, 0.2, 0.25 - 0.05 * r)
    c = np.where(exc, -65.0 + 15.0 * r**2, -65.0)
    d = np.where(exc, 8.0 - 6.0 * r**2, 2.0)
    indptr = np.arange(n + 1, dtype=np.int64) * k
    indices = np.empty(n * k, np.int32)
    data = np.empty(n * k, dtype)
    edges = (np.arange(k + 1, dtype=np.int64) * n) // k      # K bins of [0, n)
    lo, width = edges[:-1], np.diff(edges)
    for r0 in range(0, n, block):
        r1 = min(n, r0 + block)
        off = (rng.random((r1 - r0, k)) * width).astype(np.int64)
        indices[r0 * k:r1 * k] = (lo + off).ravel()
        sign = np.where(exc[r0:r1], 0.5, -1.0)[:, None]
        data[r0 * k:r1 * k] = (sign * rng.random((r1 - r0, k))).ravel()
    cast = lambda x: np.ascontiguousarray(x, dtype=dtype)  # noqa: E731
    cfg = NetworkConfig(n_neurons=n, connectivity="sparse", connection_probability=k / n)
    v0 = np.full(n, -65.0)
    return Network(a=cast(a), b=cast(b), c=cast(c), d=cast(d), bias=cast(np.zeros(n)),
                   noise_sigma=cast(np.where(exc, 5.0, 2.0)), excitatory=exc, form=FORM_2003,
                   constants=np.array([1.0, 0.04, 0.0, 0.0, 30.0]), weights=None,
                   csr=(indptr, indices, data), input_projection=np.zeros((0, n), dtype),
                   v0=cast(v0), u0=cast(b * v0), config=cfg)


def floor_ms(n, steps, spikes, k, dt_ms, bandwidth_gbs):
    """Memory-traffic floor in ms per simulated second (40 B/neuron/step, 8 B/event)."""
    traffic = 40.0 * n * steps + 8.0 * spikes * k
    return traffic / (bandwidth_gbs * 1e9) * 1e3 / (steps * dt_ms / 1000.0)


def time_cuda(net, steps, threads=None):
    """(wall_s, spikes) for ``steps`` steps on the device, JIT excluded."""
    from neurosim import gpu
    p = build_params(net, 1.0)
    r = new_readout(0, n_features(net), net.n_neurons, net.a.dtype)
    batch = gpu.DeviceBatch([p], [new_state(net)], [r], threads)
    keys = gpu.device_keys([(1, 2)])
    n = net.n_neurons

    def chunk(n_steps):
        io = {"drive": gpu.to_device(np.zeros((n_steps, 0), p.a.dtype)),
              "target": gpu.to_device(np.zeros((n_steps, 0), p.a.dtype)),
              "gate": gpu.to_device(np.zeros(n_steps, p.a.dtype)),
              "tag": gpu.to_device(np.zeros(n_steps, np.uint8)), "n_ch": 0}
        rec = batch.new_recording(n_steps, 4 * n, [], True, p.a.dtype)
        return io, rec

    def run(n_steps):
        io, rec = chunk(n_steps)
        batch.set_tpos(0)
        spikes = 0
        while True:
            tpos = batch.advance(io, rec, keys, 0, n_steps, np.zeros(0, np.int64))
            spikes += int(gpu.to_host(rec["n_spk"])[0])
            rec["n_spk"] = gpu.to_device(np.zeros(1, np.int64))
            if tpos[0] >= n_steps:
                return spikes

    run(min(steps, 5))                                    # JIT compile + warm-up
    if gpu.simulator_enabled():
        t0 = time.perf_counter()
        spikes = run(steps)
        return time.perf_counter() - t0, spikes
    import cupy
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    start.record()
    spikes = run(steps)
    stop.record()
    stop.synchronize()
    return cupy.cuda.get_elapsed_time(start, stop) / 1e3, spikes


def time_numba(net, steps):
    """(wall_s, spikes) for ``steps`` steps of the numba kernel, JIT excluded."""
    from neurosim.kernels import cpu
    from neurosim.kernels.records import ChunkIO, Noise, Recording
    p = build_params(net, 1.0)
    n, dtype = net.n_neurons, net.a.dtype
    r = new_readout(0, n_features(net), n, dtype)
    noise = Noise(np.uint64(1), np.uint64(2), 0)

    def run(n_steps):
        s = new_state(net) if n_steps < steps else state
        io = ChunkIO(np.zeros((n_steps, 0), dtype), np.zeros((n_steps, 0), dtype),
                     np.zeros(n_steps, dtype), np.zeros(n_steps, np.uint8))
        cap = 4 * n
        rec = Recording(True, np.zeros(cap, np.int32), np.zeros(cap, np.int32),
                        np.zeros(1, np.int64), np.zeros(n_steps, np.int32),
                        np.zeros(0, np.int64), np.zeros((n_steps, 0), dtype),
                        np.zeros((n_steps, 0)), np.zeros((n_steps, 0)),
                        np.full(3, -1, np.int64))
        t, spikes = 0, 0
        while t < n_steps:
            t = cpu.run_chunk(p, s, r, io, rec, noise, t, n_steps)
            spikes += int(rec.n_spk[0])
            rec.n_spk[0] = 0
        return spikes

    state = new_state(net)
    run(min(steps - 1, 5) or 1)                           # JIT compile
    t0 = time.perf_counter()
    spikes = run(steps)
    return time.perf_counter() - t0, spikes


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="sizes 1e3..1e6, 200 steps (GPU), CPU up to 1e4")
    ap.add_argument("--sizes", type=int, nargs="+")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--cpu-max-n", type=int)
    ap.add_argument("--backends", nargs="+", default=["cuda", "numba"])
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--threads", type=int, help="threads per block (cuda)")
    ap.add_argument("--bandwidth-gbs", type=float, default=4800.0, help="H200: 4800")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    sizes = args.sizes or [1_000, 10_000, 100_000, 1_000_000]
    steps = args.steps or (200 if args.quick else 1000)
    cpu_max = args.cpu_max_n or (10_000 if args.quick else 100_000)
    host, device = host_string(), device_string()
    rows = []
    print(f"B5 scaling, K = {K_SYN}, {steps} steps, dtype {args.dtype}; host {host}; "
          f"device {device}", flush=True)
    from neurosim.gpu import gpu_usable
    backends = [b for b in args.backends if b != "cuda" or gpu_usable()]
    if backends != args.backends:
        print("  cuda: SKIPPED (no GPU with CuPy, and NUMBA_ENABLE_CUDASIM is not 1)")
        rows.append(dict(simulator="neurosim", backend="cuda", error="no GPU"))
    for n in sizes:
        if not any(b == "cuda" or n <= cpu_max for b in backends):
            continue
        t_build = time.perf_counter()
        net = build_b5_network(n, dtype=args.dtype)
        print(f"N = {n}: built in {time.perf_counter() - t_build:.1f} s", flush=True)
        for backend in backends:
            if backend == "numba" and n > cpu_max:
                continue
            try:
                wall, spikes = (time_cuda(net, steps, args.threads) if backend == "cuda"
                                else time_numba(net, steps))
            except Exception as exc:  # noqa: BLE001 -- record and go on (e.g. out of memory)
                print(f"  {backend}: FAILED {exc.__class__.__name__}: {exc}", flush=True)
                rows.append(dict(simulator="neurosim", backend=backend, N=n, error=str(exc)))
                continue
            sim_s = steps / 1000.0
            fl = floor_ms(n, steps, spikes, min(K_SYN, n), 1.0, args.bandwidth_gbs)
            row = dict(simulator="neurosim", backend=backend, N=n,
                       synapses=n * min(K_SYN, n), dt_ms=1.0, simulated_s=sim_s,
                       wall_s=round(wall, 6), ms_per_sim_s=round(wall / sim_s * 1e3, 3),
                       spikes=spikes, mean_rate_hz=round(spikes / n / sim_s, 3),
                       floor_ms_per_sim_s=round(fl, 3),
                       x_floor=round(wall / sim_s * 1e3 / fl, 1), dtype=args.dtype,
                       device=device if backend == "cuda" else "cpu (1 thread)", host=host)
            rows.append(row)
            print(f"  {backend:6s} {row['ms_per_sim_s']:12.1f} ms/sim-s  rate "
                  f"{row['mean_rate_hz']:.1f} Hz  floor {fl:.2f} ms  x{row['x_floor']}",
                  flush=True)
        del net
    write_csv(out_dir(args.out) / "b5_scaling.csv", rows)
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
