"""B3 neurosim adapter: the what/when experiment's main phase (numba), timed in this process.

``python benchmarks/adapters/neurosim_whatwhen.py [--trials 100] [--dtype float32] [--seed 0]
[--no-rates]``

The same code path as ``neurosim run whatwhen`` (``whatwhen_phases.run_phase`` with the
default config's timing reservoir, three-factor learner and main paradigm), restricted to the
first block of the main phase (two cues, two identities, P(stimulus) 0.8, latencies 400/800
ms) cut to ``--trials`` trials. Network seed ``seed``, stream seed ``seed + 1`` (as
``run_seed`` does). A 1-trial phase runs first (JIT compile or Numba cache load); then the
timed phase:

* ``wall_s_loop``: ``run_phase`` wall time (every chunk's compiled loop plus the per-trial
  Python: chunk generation, learner ``before_chunk`` / ``consolidate``, z0 / xbar copies);
* ``cpu_s_loop``: this process's CPU time over the same span (robust to machine load);
* ``wall_s_kernel``: the sum of ``Simulator.run_one_chunk`` times (compiled loop only).

Rates: a second, identical phase (same seeds: bitwise the same simulation) that keeps every
trial's spikes (``keep_spikes_of``), so the timed run records nothing it would not record in
the experiment. Also helpers for ``run_b3.py`` (the spec, the config, the network).
Prints ``RESULT {json}``.
"""
import argparse
import dataclasses
import json
import resource
import sys
import time

import numpy as np


def b3_setup(trials: int, seed: int, dtype: str):
    """(network, run config, spec, learner) of B3: the default what/when config, main phase,
    first block cut to ``trials`` trials."""
    from neurosim.experiments.common import network_and_run, resolve
    from neurosim.experiments.whatwhen import DEFAULT_CONFIG, _specs
    from neurosim.learners import make_learner
    from neurosim.network import build_network
    config = resolve(DEFAULT_CONFIG, None)
    net_cfg, run_cfg = network_and_run(config)
    run_cfg = dataclasses.replace(run_cfg, seed=seed, dtype=dtype, backend="numba")
    main = _specs(config["paradigm"], run_cfg.dt_ms)["main"]
    spec = dataclasses.replace(main, blocks=(dataclasses.replace(main.blocks[0],
                                                                 n_trials=trials),))
    lcfg = dict(config["learner"])
    learner = make_learner(lcfg.pop("name"), **lcfg)
    net = build_network(net_cfg, seed, dtype)
    return net, run_cfg, spec, learner, config


def anticipation(table: dict, z0: np.ndarray, latency_ms: float = 400.0, last: int = 30,
                 cue: int = 0) -> float:
    """Mean frozen-weight "when" output over [L - 10, L) ms after the cue, on the last ``last``
    trials with cue ``cue`` (MODEL.md's anticipatory window)."""
    lo, hi = int(round(latency_ms)) - 10, int(round(latency_ms))
    idx = np.flatnonzero(table["cue"] == cue)
    idx = idx[idx >= len(table["cue"]) - last]
    return float(np.mean(z0[idx, lo:hi]))


def what_prediction(table: dict, what_pred: np.ndarray, last: int = 30, cue: int = 0):
    """Mean offline what prediction (identity 0, identity 1) on the last trials with ``cue``."""
    idx = np.flatnonzero(table["cue"] == cue)
    idx = idx[idx >= len(table["cue"]) - last]
    return [float(v) for v in np.mean(what_pred[idx], axis=0)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-rates", action="store_true", help="skip the spike-keeping rerun")
    args = ap.parse_args(argv)

    import neurosim.experiments.whatwhen_phases as phases
    from neurosim.simulator import Simulator

    kernel_s = [0.0]

    class TimedSimulator(Simulator):
        def run_one_chunk(self, chunk, recorder=None):
            t0 = time.perf_counter()
            out = super().run_one_chunk(chunk, recorder)
            kernel_s[0] += time.perf_counter() - t0
            return out

    phases.Simulator = TimedSimulator
    net, run_cfg, spec, learner, _ = b3_setup(args.trials, args.seed, args.dtype)
    warm_spec = dataclasses.replace(spec, blocks=(dataclasses.replace(spec.blocks[0],
                                                                      n_trials=1),))
    t0 = time.perf_counter()
    phases.run_phase(net, run_cfg, warm_spec, learner, args.seed + 1)
    first_run_s = time.perf_counter() - t0
    kernel_s[0] = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    res = phases.run_phase(net, run_cfg, spec, learner, args.seed + 1)
    loop_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    kern = kernel_s[0]
    steps = int(np.sum(res.table["n_steps"]))
    out = dict(wall_s_loop=loop_s, cpu_s_loop=cpu_s, wall_s_kernel=kern, first_run_s=first_run_s,
               simulated_s=steps * run_cfg.dt_ms / 1000.0, trials=args.trials, steps=steps,
               N=net.n_neurons, synapses=net.n_synapses,
               anticipation_400=anticipation(res.table, res.z0[:, :, 0]),
               what_pred_cue0=what_prediction(res.table, res.what_pred))
    if not args.no_rates:
        t_rates = time.perf_counter()
        again = phases.run_phase(net, run_cfg, spec, learner, args.seed + 1,
                                 keep_spikes_of=range(args.trials))
        assert np.array_equal(again.z0, res.z0), "rerun is not bitwise identical"
        ids = again.spikes[1]
        exc = net.excitatory
        dur = out["simulated_s"]
        out.update(spikes=int(ids.size),
                   mean_rate_hz=ids.size / net.n_neurons / dur,
                   rate_e_hz=float(np.sum(exc[ids])) / exc.sum() / dur,
                   rate_i_hz=float(np.sum(~exc[ids])) / (~exc).sum() / dur,
                   rates_s=time.perf_counter() - t_rates)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    sys.stdout.write("RESULT " + json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
