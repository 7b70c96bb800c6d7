"""FORCE check: a spiking network trained by RLS to produce a 5 Hz sine (Nicola & Clopath 2017).

The sinusoid example of Nicola & Clopath (2017, Nat. Commun. 8:2208; ModelDB 190565), as in
MODEL.md "FORCE baseline": N = 2000 Izhikevich (2007 form) neurons, C = 250, k = 2.5,
vr = -60, vt = -19.2, b = -2, a = 0.01, d = 200, v_peak = 30, v_reset = -65, I_bias = 1000
(at rheobase, so v starts uniform in [vr, v_peak]); double-exponential synapses (rise 2 ms,
decay 20 ms); static weights G N(0,1) [U < p] / (p sqrt(N)), G = 5e3, p = 0.1; the output
z = W r fed back through encoders (2 U(0,1) - 1) Q, Q = 5e3; dt = 0.04 ms, forward Euler.
Readout features r: every neuron's unit-area double-exponential filtered spike train
(no centring, no bias). RLS every 20 steps during training, P(0) = 2 I (alpha = 0.5), the
exact RLS gain (``kernels/rls.py``: W -= c err (P x)^T, c = 1 / (1 + x.P x)).

Protocols: shortened (default) 0.5 s settle / 1 s training / 1 s test; ``full``: 5 / 5 / 5 s
(the paper's 15 s run). After training, with learning off, on the test output: correlation
and RMS error against the target over the first test second, best-lag correlation per
0.5 s window (lags within +-100 ms), spectral peak frequency over the whole test. A control
run with the same network and no feedback (Q = 0) must fail (correlation <= 0.5).

Results: one run per condition (``feedback`` True / False) with series ``z``, ``z0``,
``target``, ``gate``, ``rate``, and metrics; a figure of output vs target over the last
part of training and the test period.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..analysis.oscillation import (pearson, rms_error, spectral_peak,
                                    windowed_best_lag_correlation)
from ..learners.force import Force
from ..monitors import Recorder
from ..network import build_network, seed_streams
from ..simulator import Simulator, n_features
from ..streams import Chunk
from .common import full_config, network_and_run, open_run, resolve

DEFAULT_CONFIG = {
    "network": {
        "n_neurons": 2000, "neuron_model": "nicola_clopath2017", "integration": "euler",
        "connectivity": "dense", "connection_probability": 0.1,
        "weight_distribution": "gaussian", "gaussian_gain": 5000.0,
        "noise_excitatory": 0.0, "noise_inhibitory": 0.0,
        "synapse": {"model": "double_exponential", "tau_rise_ms": 2.0, "tau_decay_ms": 20.0},
        "features": {"kernel": "double_exponential", "tau_rise_ms": 2.0, "tau_fast_ms": 20.0,
                     "centering": False, "bias": False},
    },
    # no checkpoints: a short protocol is ~2-10 s of loop; P alone is 32 MB
    "run": {"dt_ms": 0.04, "chunk_ms": 100.0, "dtype": "float64", "seed": 0,
            "record_spikes": False, "checkpoint_every_chunks": 0},
    "force": {"alpha": 0.5, "rls_every": 20, "forgetting": 1.0, "feedback_gain": 5000.0},
    "target": {"frequency_hz": 5.0, "amplitude": 1.0},
    # shortened protocol (default) and the full one (--full); times in ms
    "protocol": {"settle_ms": 500.0, "train_ms": 1000.0, "test_ms": 1000.0},
    "full_protocol": {"settle_ms": 5000.0, "train_ms": 5000.0, "test_ms": 5000.0},
    "evaluation": {"eval_ms": 1000.0, "window_ms": 500.0, "max_lag_ms": 100.0,
                   "sample_ms": 0.2, "control": True},
    # pass criteria: (short, full)
    "criteria": {"correlation_min": [0.90, 0.95], "rms_max": [0.30, 0.25],
                 "peak_tolerance_hz": 0.2, "control_correlation_max": 0.5},
}

# Allowed intervals of the numeric settings (neurosim.config_check).
BOUNDS = {
    "force.alpha": (0, None, "lo_open"), "force.rls_every": (1, None),
    "force.forgetting": (0, 1, "lo_open"), "force.feedback_gain": (0, None),
    "target.frequency_hz": (0, None, "lo_open"), "target.amplitude": (0, None, "lo_open"),
    "protocol.settle_ms": (0, None), "protocol.train_ms": (0, None, "lo_open"),
    "protocol.test_ms": (0, None, "lo_open"), "full_protocol.settle_ms": (0, None),
    "full_protocol.train_ms": (0, None, "lo_open"),
    "full_protocol.test_ms": (0, None, "lo_open"),
    "evaluation.eval_ms": (0, None, "lo_open"), "evaluation.window_ms": (0, None, "lo_open"),
    "evaluation.max_lag_ms": (0, None), "evaluation.sample_ms": (0, None, "lo_open"),
    "criteria.correlation_min": (-1, 1), "criteria.rms_max": (0, None),
    "criteria.peak_tolerance_hz": (0, None, "lo_open"),
    "criteria.control_correlation_max": (-1, 1),
}


class SineStream:
    """Chunks of settle / train / test with a sine target and the gate open in training.

    Chunks never straddle a phase boundary; ``chunks[i]`` is ``(phase, lo, hi)`` of chunk
    ``i``. ``before_chunk(chunk)``, if set, is called just before each chunk is handed out.
    """
    before_chunk = None

    def __init__(self, dt_ms, chunk_ms, settle_ms, train_ms, test_ms, frequency_hz,
                 amplitude):
        steps = lambda ms: int(round(ms / dt_ms))  # noqa: E731
        self.bounds = np.cumsum([0, steps(settle_ms), steps(train_ms), steps(test_ms)])
        self.total_steps = int(self.bounds[-1])
        self.chunk_steps = max(1, steps(chunk_ms))
        t_s = np.arange(self.total_steps) * dt_ms / 1000.0
        self.target = amplitude * np.sin(2.0 * np.pi * frequency_hz * t_s)
        self.gate = np.zeros(self.total_steps)
        self.gate[self.bounds[1]:self.bounds[2]] = 1.0
        self.chunks = []  # (phase, lo, hi)
        for phase, (a, b) in enumerate(zip(self.bounds[:-1], self.bounds[1:])):
            for lo in range(int(a), int(b), self.chunk_steps):
                self.chunks.append((("settle", "train", "test")[phase], lo,
                                    min(lo + self.chunk_steps, int(b))))

    def __len__(self):
        return len(self.chunks)

    def __iter__(self):
        for _, lo, hi in self.chunks:
            chunk = Chunk(hi - lo, target=self.target[lo:hi, None], gate=self.gate[lo:hi])
            if self.before_chunk is not None:
                self.before_chunk(chunk)
            yield chunk


def encoders(seed: int, n_neurons: int, gain: float) -> np.ndarray:
    """Feedback encoders ``(2 U(0,1) - 1) * gain``, shape (1, N), from the seed's own stream.

    Drawn from a child of the ``connectivity`` seed stream (independent of the weights),
    so the control (gain 0) has exactly the same network.
    """
    rng = np.random.default_rng(seed_streams(seed)["connectivity"].spawn(1)[0])
    return (2.0 * rng.random((1, n_neurons)) - 1.0) * gain


def simulate(config: dict, protocol: dict, feedback_gain: float, run_writer=None,
             report=None) -> dict:
    """Build, train and test one network; return its series, timings and final readout.

    Returns
    -------
    dict with ``z`` (n_steps,), ``target`` (n_steps,), ``bounds`` (phase step boundaries),
    ``rate_hz`` (mean rate per phase), ``wall_s`` per phase and in total, ``net`` and ``sim``.
    """
    net_cfg, run_cfg = network_and_run(config)
    fc, tc = config["force"], config["target"]
    net = build_network(net_cfg, run_cfg.seed, run_cfg.dtype)
    n = net.n_neurons
    enc = encoders(run_cfg.seed, n, feedback_gain)
    learner = Force(alpha=fc["alpha"], rls_every=int(fc["rls_every"]),
                    forgetting=fc["forgetting"])
    readout = learner.init_state(n_features(net), 1, n, run_cfg.dtype, run_cfg.dt_ms,
                                 encoders=enc)
    sim = Simulator(net, run_cfg, readout=readout)
    stream = SineStream(run_cfg.dt_ms, run_cfg.chunk_ms, protocol["settle_ms"],
                        protocol["train_ms"], protocol["test_ms"], tc["frequency_hz"],
                        tc["amplitude"])
    if run_writer is not None:   # E/I and neuron parameters with the spikes (FORMAT.md)
        from ..results.nodes import node_attrs, node_table
        from ..results.schema import DEFAULT_POPULATION
        run_writer.write_nodes(DEFAULT_POPULATION, node_table(net), **node_attrs(net))
    recorder = Recorder(n, run_cfg.dt_ms, writer=run_writer)
    walls = {"settle": 0.0, "train": 0.0, "test": 0.0}
    state = {"i": 0, "t": time.perf_counter()}

    def queue_inputs(chunk):
        # before the chunk runs, so that every flush of the recorder (inside add_chunk)
        # writes target and gate together with the chunk's z
        recorder.add_series("target", chunk.target)
        recorder.add_series("gate", chunk.gate)

    stream.before_chunk = queue_inputs

    def on_chunk(sim_, chunk, result):
        phase = stream.chunks[state["i"]][0]
        now = time.perf_counter()
        walls[phase] += now - state["t"]
        state["i"] += 1
        state["t"] = now

    sim.run(stream=stream, recorder=recorder, report=report, on_chunk=on_chunk)
    rate = recorder.rate  # population rate per step (Hz)
    rate_hz = {phase: float(rate[a:b].mean()) if b > a else float("nan")
               for phase, a, b in zip(("settle", "train", "test"), stream.bounds[:-1],
                                      stream.bounds[1:])}
    return {"z": recorder.z[:, 0], "target": stream.target, "bounds": stream.bounds,
            "rate_hz": rate_hz, "wall_s": walls, "loop_wall_s": sim.wall_time_s,
            "net": net, "sim": sim, "dt_ms": run_cfg.dt_ms, "n_rls_updates":
            int(-(-(stream.bounds[2] - stream.bounds[1]) // int(fc["rls_every"])))}


def evaluate(z, target, bounds, dt_ms: float, evaluation: dict) -> dict:
    """Test-period measures: correlation / RMS over the first ``eval_ms``, best-lag
    correlation per window, spectral peak over the whole test (all on the output with
    learning off).

    Signals are subsampled every ``sample_ms`` (a multiple of dt) for the lag search and
    the spectrum; correlation and RMS use every step.
    """
    t0, t1 = int(bounds[2]), int(bounds[3])
    n_eval = min(t1 - t0, int(round(evaluation["eval_ms"] / dt_ms)))
    first = slice(t0, t0 + n_eval)
    stride = max(1, int(round(evaluation["sample_ms"] / dt_ms)))
    ds = dt_ms * stride
    zs, ts = z[::stride], target[::stride]
    s0, s1 = -(-t0 // stride), -(-t1 // stride)
    windows = windowed_best_lag_correlation(zs, ts, ds, evaluation["window_ms"],
                                            evaluation["max_lag_ms"], s0, s1)
    peak_hz, peak_fraction = spectral_peak(zs[s0:s1], ds)
    return {
        "correlation": pearson(z[first], target[first]),
        "rms": rms_error(z[first], target[first]),
        "peak_hz": peak_hz, "peak_power_fraction": peak_fraction,
        "window_correlation": windows["correlation"], "window_lag_ms": windows["lag_ms"],
        "window_start_ms": windows["start_ms"],
        "window_correlation_min": float(np.min(windows["correlation"]))
        if windows["correlation"].size else float("nan"),
        "z_amplitude": float(np.sqrt(2.0) * np.std(z[first])),
    }


def criteria_table(m: dict, control: dict | None, crit: dict, full: bool,
                   frequency_hz: float) -> list[dict]:
    """Rows ``{name, value, criterion, passed}`` of the pass/fail table."""
    i = 1 if full else 0
    cmin, rmax = crit["correlation_min"][i], crit["rms_max"][i]
    tol = crit["peak_tolerance_hz"]
    rows = [
        {"name": "correlation (1st test s)", "value": m["correlation"],
         "criterion": f">= {cmin}", "passed": bool(m["correlation"] >= cmin)},
        {"name": "RMS error (1st test s)", "value": m["rms"], "criterion": f"<= {rmax}",
         "passed": bool(m["rms"] <= rmax)},
        {"name": "spectral peak (Hz)", "value": m["peak_hz"],
         "criterion": f"{frequency_hz} +- {tol}",
         "passed": bool(abs(m["peak_hz"] - frequency_hz) <= tol)},
        {"name": "min best-lag window corr", "value": m["window_correlation_min"],
         "criterion": "(reported)", "passed": None},
    ]
    if control is not None:
        cmax = crit["control_correlation_max"]
        rows.append({"name": "control: no feedback, corr", "value": control["correlation"],
                     "criterion": f"<= {cmax}", "passed": bool(control["correlation"] <= cmax)})
        rows.append({"name": "control: RMS error", "value": control["rms"],
                     "criterion": "(reported)", "passed": None})
    return rows


def format_table(rows: list[dict]) -> str:
    """The table as text: measured value, criterion and PASS/FAIL per row."""
    lines = [f"{'measure':<28} {'value':>9}  {'criterion':<14} result"]
    for r in rows:
        verdict = "-" if r["passed"] is None else ("PASS" if r["passed"] else "FAIL")
        lines.append(f"{r['name']:<28} {r['value']:>9.4f}  {r['criterion']:<14} {verdict}")
    return "\n".join(lines)


def _write_run(run_writer, result, metrics, rows=None):
    """Metrics (scalars, per-window tables, the criteria rows) and the run's end marker."""
    scalars = {k: v for k, v in metrics.items() if np.isscalar(v)}
    scalars.update({f"rate_{k}_hz": v for k, v in result["rate_hz"].items()})
    scalars.update({f"wall_{k}_s": v for k, v in result["wall_s"].items()})
    tables = {k: np.asarray(metrics[k]) for k in
              ("window_start_ms", "window_correlation", "window_lag_ms")}
    summary = {"criteria": rows} if rows is not None else None
    run_writer.write_metrics(scalars=scalars, tables=tables, summary=summary)
    run_writer.finish(wall_time_s=result["loop_wall_s"],
                      duration_ms=float(result["bounds"][-1] * result["dt_ms"]))


def plot(result, control, out: Path, last_train_ms: float = 500.0):
    """Output vs target over the last ``last_train_ms`` of training and the test period."""
    from ..plotting._common import pyplot
    plt = pyplot()
    dt, b = result["dt_ms"], result["bounds"]
    lo = max(int(b[1]), int(b[2]) - int(round(last_train_ms / dt)))
    t = np.arange(lo, int(b[3])) * dt / 1000.0
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.plot(t, result["target"][lo:], color="0.6", lw=2, label="target")
    ax.plot(t, result["z"][lo:], color="C0", lw=1, label="z (feedback)")
    if control is not None:
        ax.plot(t, control["z"][lo:], color="C3", lw=0.8, alpha=0.8, label="z (no feedback)")
    ax.axvspan(t[0], b[2] * dt / 1000.0, color="C2", alpha=0.1, label="RLS on")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("output")
    span = max(1.0, float(np.max(np.abs(result["target"]))))
    ax.set_ylim(-1.25 * span, 1.6 * span)  # room for the legend
    ax.set_title("FORCE (Nicola & Clopath 2017): 5 Hz sine, end of training and test")
    ax.legend(loc="upper right", fontsize=8, ncol=4)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def run(config: dict | None, out: Path, figure: Path | None = None, report="text",
        full: bool = False) -> dict:
    """Train, test and judge (plus the no-feedback control); write ``out`` and ``figure``.

    Returns a summary dict: the measured values, the pass/fail ``table`` (list of rows)
    and wall times. The table and the wall times are printed (the CLI prints nothing else
    for summaries with a ``table``).
    """
    config = resolve(DEFAULT_CONFIG, config, bounds=BOUNDS)
    protocol = config["full_protocol" if full else "protocol"]
    net_cfg, run_cfg = network_and_run(config)
    evaluation, crit = config["evaluation"], config["criteria"]
    t_start = time.perf_counter()
    conditions = [("feedback", float(config["force"]["feedback_gain"]))]
    if evaluation["control"]:
        conditions.append(("control", 0.0))
    results, metrics = {}, {}
    for name, gain in conditions:
        cfg_dict = full_config(net_cfg, run_cfg, force=config["force"], target=config["target"],
                               protocol=protocol, evaluation=evaluation, criteria=crit)
        cfg_dict["force"] = dict(config["force"], feedback_gain=gain)
        writer, run_writer = open_run(out, "force_sinusoid", cfg_dict, run_cfg,
                                      {"n_neurons": net_cfg.n_neurons, "condition": name,
                                       "feedback": gain != 0.0, "full_protocol": bool(full)})
        with writer:
            res = simulate(config, protocol, gain, run_writer,
                           report=report if name == "feedback" else None)
            m = evaluate(res["z"], res["target"], res["bounds"], res["dt_ms"], evaluation)
            results[name], metrics[name] = res, m
            rows = None
            if name == "feedback":
                rows = criteria_table(m, None, crit, full, config["target"]["frequency_hz"])
            _write_run(run_writer, res, m, rows)
    fb, ctrl = metrics["feedback"], metrics.get("control")
    rows = criteria_table(fb, ctrl, crit, full, config["target"]["frequency_hz"])
    main = results["feedback"]
    summary = {
        "protocol": "full" if full else "short", "seed": run_cfg.seed,
        "n_neurons": net_cfg.n_neurons, "steps": int(main["bounds"][-1]),
        "correlation": fb["correlation"], "rms": fb["rms"], "peak_hz": fb["peak_hz"],
        "window_correlation_min": fb["window_correlation_min"],
        "window_correlation": [float(c) for c in fb["window_correlation"]],
        "window_lag_ms": [float(c) for c in fb["window_lag_ms"]],
        "control_correlation": ctrl["correlation"] if ctrl else float("nan"),
        "control_rms": ctrl["rms"] if ctrl else float("nan"),
        "rate_hz": main["rate_hz"], "n_rls_updates": main["n_rls_updates"],
        "loop_wall_s": main["loop_wall_s"], "wall_s": main["wall_s"],
        "control_loop_wall_s": results["control"]["loop_wall_s"] if ctrl else float("nan"),
        "process_wall_s": time.perf_counter() - t_start,
        "passed": all(r["passed"] for r in rows if r["passed"] is not None),
        "table": rows,
    }
    if figure is not None:
        plot(main, results.get("control"), figure)
    print(format_table(rows))
    w = main["wall_s"]
    print(f"wall time (s): settle {w['settle']:.2f}, train {w['train']:.2f} "
          f"({summary['n_rls_updates']} RLS updates), test {w['test']:.2f}; "
          f"loop {main['loop_wall_s']:.2f}, with control and I/O "
          f"{summary['process_wall_s']:.2f}")
    print("overall:", "PASS" if summary["passed"] else "FAIL")
    return summary
