"""FORCE: a spiking network trained by RLS to produce a target signal (Nicola & Clopath 2017).

The network of Nicola & Clopath (2017, Nat. Commun. 8:2208; ModelDB 190565), as in
MODEL.md "FORCE baseline": N = 2000 Izhikevich (2007 form) neurons, C = 250, k = 2.5,
vr = -60, vt = -19.2, b = -2, a = 0.01, d = 200, v_peak = 30, v_reset = -65, I_bias = 1000
(at rheobase, so v starts uniform in [vr, v_peak]); double-exponential synapses (rise 2 ms,
decay 20 ms); static weights G N(0,1) [U < p] / (p sqrt(N)), G = 5e3, p = 0.1; the outputs
z = W r (one per target column) fed back through encoders (2 U(0,1) - 1) Q, shape
(n_outputs, N), Q = 5e3; dt = 0.04 ms, forward Euler. Readout features r: every neuron's
unit-area double-exponential filtered spike train (no centring, no bias). RLS every 20 steps
during training, P(0) = 2 I (alpha = 0.5), the exact RLS gain (``kernels/rls.py``:
W -= c err (P x)^T, c = 1 / (1 + x.P x)).

The target (``target`` section, :mod:`.force_targets`): by default the paper's 5 Hz sine; any
sum of sines, an array from a .npy / .h5 file, the van der Pol oscillator
(``target.kind = "vanderpol"``, which also sets the preset ``PRESETS["vanderpol"]``: G = 1e4,
Q = 2e4, 0.5 / 4 / 2 s protocol, under the user's own settings), or a Python callable
(``run(..., target=f)``).
``neurosim run force_sinusoid`` is an alias of ``neurosim run force``.

Protocols: shortened (default) 0.5 s settle / 1 s training / 1 s test; ``full``: 5 / 5 / 5 s
(the paper's 15 s run); both are config sections (``protocol``, ``full_protocol``, ms).
After training, with learning off, per output on the test period: correlation and RMS error
against the target over the first ``eval_ms`` (the pass criteria), best-lag correlation per
0.5 s window (lags within +-100 ms, reported); for sums of sines also the spectral peak over
the whole test (judged against the largest component's frequency). A control run with the
same network and no feedback (Q = 0) must fail (correlation <= 0.5 on every output).

Checkpoints every ``run.checkpoint_every_chunks`` chunks (state, readout and P);
:func:`resume` (``neurosim run force --resume FILE``) continues an interrupted job from the
last one, a finished condition read back from its run (bitwise the uninterrupted result).

Results: one run per condition (``feedback`` True / False) with series ``z`` and ``target``
(n_steps, n_outputs), ``gate``, ``rate``, and metrics; a figure of output vs target over the
last part of training and the test period, one panel per output.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import checkpoint
from ..analysis.oscillation import (pearson, rms_error, spectral_peak,
                                    windowed_best_lag_correlation)
from ..config import merge
from ..learners.force import Force
from ..monitors import Recorder
from ..network import build_network, seed_streams
from ..simulator import Simulator, n_features
from ..streams import Chunk
from . import force_targets as targets
from .common import full_config, network_and_run, open_run, resolve

KIND = "force"     # the runs' kind in results files

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
            "record_spikes": False, "checkpoint_every_chunks": 10},
    "force": {"alpha": 0.5, "rls_every": 20, "forgetting": 1.0, "feedback_gain": 5000.0},
    # the signal to learn (neurosim.experiments.force_targets): kind sines | file | vanderpol
    # (| callable, from Python); frequency_hz / amplitude: shorthand for one sine, when set
    "target": {
        "kind": "sines",
        "components": [{"frequency_hz": 5.0, "amplitude": 1.0, "phase": 0.0}],
        "frequency_hz": 5.0, "amplitude": 1.0,
        "file": "", "dataset": "", "dt_ms": 1.0,
        "mu": 5.0, "space_scale": 10.0, "time_scale": 20.0,
    },
    # shortened protocol (default) and the full one (--full); times in ms
    "protocol": {"settle_ms": 500.0, "train_ms": 1000.0, "test_ms": 1000.0},
    "full_protocol": {"settle_ms": 5000.0, "train_ms": 5000.0, "test_ms": 5000.0},
    "evaluation": {"eval_ms": 1000.0, "window_ms": 500.0, "max_lag_ms": 100.0,
                   "sample_ms": 0.2, "control": True},
    # pass criteria: (short, full)
    "criteria": {"correlation_min": [0.90, 0.95], "rms_max": [0.30, 0.25],
                 "peak_tolerance_hz": 0.2, "control_correlation_max": 0.5},
}

# Settings a target kind brings with it, under the user's own (Nicola & Clopath 2017).
# van der Pol: G = 1e4, Q = 2e4 (ModelDB 190565); 4 s of training: measured at N = 2000,
# seeds 0-2, output x reaches test correlation 0.95-0.98 at 4 s and no higher at 8 or 16 s.
PRESETS = {
    "vanderpol": {"network": {"gaussian_gain": 1.0e4}, "force": {"feedback_gain": 2.0e4},
                  "protocol": {"settle_ms": 500.0, "train_ms": 4000.0, "test_ms": 2000.0}},
}

# Allowed intervals of the numeric settings (neurosim.config_check).
BOUNDS = {
    "force.alpha": (0, None, "lo_open"), "force.rls_every": (1, None),
    "force.forgetting": (0, 1, "lo_open"), "force.feedback_gain": (0, None),
    "target.frequency_hz": (0, None), "target.amplitude": (0, None, "lo_open"),
    "target.dt_ms": (0, None, "lo_open"), "target.mu": (0, None, "lo_open"),
    "target.space_scale": (0, None, "lo_open"), "target.time_scale": (0, None, "lo_open"),
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


def resolve_config(user: dict | None, fn=None) -> tuple[dict, dict]:
    """``(config, target_spec)``: the user's config over the default (and over the preset of
    its target kind), checked; ``target_spec`` the checked target (``force_targets``)."""
    user = targets.normalize_user(user)
    tc = user.get("target")
    kind = tc.get("kind") if isinstance(tc, dict) else None
    preset = PRESETS.get(kind, {}) if isinstance(kind, str) and fn is None else {}
    base = merge(DEFAULT_CONFIG, preset)
    config = resolve(base, user, bounds=BOUNDS)
    return config, targets.check_target(config["target"], fn)


class TargetStream:
    """Chunks of settle / train / test with the target and the gate open in training.

    ``target``: a function of the step times ``t_ms`` (n_steps,) returning the target
    (n_steps, n_outputs), or such an array. Chunks never straddle a phase boundary;
    ``chunks[i]`` is ``(phase, lo, hi)`` of chunk ``i``. ``before_chunk(chunk)``, if set, is
    called just before each chunk is handed out.
    """
    before_chunk = None

    def __init__(self, dt_ms, chunk_ms, settle_ms, train_ms, test_ms, target):
        self.bounds = self.phase_bounds(dt_ms, settle_ms, train_ms, test_ms)
        self.total_steps = int(self.bounds[-1])
        self.chunk_steps = max(1, int(round(chunk_ms / dt_ms)))
        t_ms = np.arange(self.total_steps) * dt_ms
        self.target = np.asarray(target(t_ms) if callable(target) else target, dtype=float)
        if self.target.shape[0] != self.total_steps or self.target.ndim != 2:
            raise ValueError(f"target has shape {self.target.shape}; the protocol needs "
                             f"({self.total_steps}, n_outputs)")
        self.gate = np.zeros(self.total_steps)
        self.gate[self.bounds[1]:self.bounds[2]] = 1.0
        self.chunks = []  # (phase, lo, hi)
        for phase, (a, b) in enumerate(zip(self.bounds[:-1], self.bounds[1:])):
            for lo in range(int(a), int(b), self.chunk_steps):
                self.chunks.append((("settle", "train", "test")[phase], lo,
                                    min(lo + self.chunk_steps, int(b))))

    @staticmethod
    def phase_bounds(dt_ms, settle_ms, train_ms, test_ms) -> np.ndarray:
        """Step indices ``[0, end of settle, end of training, end of test]``."""
        return np.cumsum([0] + [int(round(ms / dt_ms)) for ms in (settle_ms, train_ms, test_ms)])

    def __len__(self):
        return len(self.chunks)

    def __iter__(self):
        for _, lo, hi in self.chunks:
            chunk = Chunk(hi - lo, target=self.target[lo:hi], gate=self.gate[lo:hi])
            if self.before_chunk is not None:
                self.before_chunk(chunk)
            yield chunk


def encoders(seed: int, n_neurons: int, gain: float, n_outputs: int = 1) -> np.ndarray:
    """Feedback encoders ``(2 U(0,1) - 1) * gain``, shape (n_outputs, N), from the seed's own
    stream (row 0 the same for any ``n_outputs``).

    Drawn from a child of the ``connectivity`` seed stream (independent of the weights),
    so the control (gain 0) has exactly the same network.
    """
    rng = np.random.default_rng(seed_streams(seed)["connectivity"].spawn(1)[0])
    return (2.0 * rng.random((n_outputs, n_neurons)) - 1.0) * gain


def simulate(config: dict, protocol: dict, feedback_gain: float, target, run_writer=None,
             report=None, resumed=None) -> dict:
    """Build, train and test one network on ``target`` (see :class:`TargetStream`); return
    its series, timings and final readout.

    With ``run_writer``, a checkpoint is saved every ``run.checkpoint_every_chunks`` chunks
    (state, readout with P, recorder counts); ``resumed`` (:func:`neurosim.checkpoint.reopen`
    of an interrupted run) continues from its checkpoint, the earlier steps' series read
    back from the file.

    Returns
    -------
    dict with ``z`` and ``target`` (n_steps, n_outputs), ``bounds`` (phase step boundaries),
    ``rate_hz`` (mean rate per phase), ``wall_s`` per phase and in total, ``net`` and ``sim``.
    """
    net_cfg, run_cfg = network_and_run(config)
    fc = config["force"]
    stream = TargetStream(run_cfg.dt_ms, run_cfg.chunk_ms, protocol["settle_ms"],
                          protocol["train_ms"], protocol["test_ms"], target)
    n_out = stream.target.shape[1]
    net = build_network(net_cfg, run_cfg.seed, run_cfg.dtype)
    n = net.n_neurons
    enc = encoders(run_cfg.seed, n, feedback_gain, n_out)
    learner = Force(alpha=fc["alpha"], rls_every=int(fc["rls_every"]),
                    forgetting=fc["forgetting"])
    readout = learner.init_state(n_features(net), n_out, n, run_cfg.dtype, run_cfg.dt_ms,
                                 encoders=enc)
    sim = Simulator(net, run_cfg, readout=readout)
    if run_writer is not None:   # E/I and neuron parameters with the spikes (FORMAT.md)
        from ..results.nodes import node_attrs, node_table
        from ..results.schema import DEFAULT_POPULATION
        run_writer.write_nodes(DEFAULT_POPULATION, node_table(net), **node_attrs(net))
    recorder = Recorder(n, run_cfg.dt_ms, writer=run_writer)
    every = int(run_cfg.checkpoint_every_chunks) if run_writer is not None else 0
    skip = resumed.stream_position if resumed is not None else 0
    if resumed is not None:
        resumed.restore(sim, recorder)
        ckpt = resumed.checkpointer(recorder, every)
    else:
        ckpt = checkpoint.Checkpointer(run_writer, recorder, every) if every > 0 else None
    walls = {"settle": 0.0, "train": 0.0, "test": 0.0}
    state = {"i": skip, "t": time.perf_counter(), "queued": 0}

    def queue_inputs(chunk):
        # before the chunk runs, so that every flush of the recorder (inside add_chunk)
        # writes target and gate together with the chunk's z; the chunks a resumed run
        # skips are in the file already
        if state["queued"] >= skip:
            recorder.add_series("target", chunk.target)
            recorder.add_series("gate", chunk.gate)
        state["queued"] += 1

    stream.before_chunk = queue_inputs

    def on_chunk(sim_, chunk, result):
        phase = stream.chunks[state["i"]][0]
        now = time.perf_counter()
        walls[phase] += now - state["t"]
        state["i"] += 1
        state["t"] = now
        if ckpt is not None:
            ckpt(sim_, chunk, result)

    if ckpt is not None:     # SIGINT / SIGTERM: a checkpoint at the step where it stops
        on_chunk.on_stop = ckpt.on_stop
    sim.run(stream=checkpoint.skip_chunks(stream, skip) if skip else stream,
            recorder=recorder, report=report, on_chunk=on_chunk)
    z, rate = recorder.z, recorder.rate  # outputs, population rate per step (Hz)
    if skip:                 # the steps before the checkpoint: from the file
        from ..results import schema as S
        series = run_writer.group[S.SERIES]
        z, rate = np.asarray(series["z"][()]), np.asarray(series["rate"][()])
    rate_hz = {phase: float(rate[a:b].mean()) if b > a else float("nan")
               for phase, a, b in zip(("settle", "train", "test"), stream.bounds[:-1],
                                      stream.bounds[1:])}
    return {"z": z, "target": stream.target, "bounds": stream.bounds,
            "rate_hz": rate_hz, "wall_s": walls, "loop_wall_s": sim.wall_time_s,
            "net": net, "sim": sim, "dt_ms": run_cfg.dt_ms, "n_rls_updates":
            int(-(-(stream.bounds[2] - stream.bounds[1]) // int(fc["rls_every"])))}


def evaluate(z, target, bounds, dt_ms: float, evaluation: dict, spectrum: bool = True) -> dict:
    """Test-period measures of one output (``z``, ``target``: (n_steps,)): correlation / RMS
    (also divided by the target's SD, ``rms_normalized``) over the first ``eval_ms``,
    best-lag correlation per window, and (``spectrum``) the
    spectral peak over the whole test (all on the output with learning off).

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
    peak_hz, peak_fraction = spectral_peak(zs[s0:s1], ds) if spectrum else (np.nan, np.nan)
    sd = float(np.std(target[first]))
    return {
        "correlation": pearson(z[first], target[first]),
        "rms": rms_error(z[first], target[first]),
        "rms_normalized": rms_error(z[first], target[first]) / sd if sd > 0 else float("nan"),
        "peak_hz": peak_hz, "peak_power_fraction": peak_fraction,
        "window_correlation": windows["correlation"], "window_lag_ms": windows["lag_ms"],
        "window_start_ms": windows["start_ms"],
        "window_correlation_min": float(np.min(windows["correlation"]))
        if windows["correlation"].size else float("nan"),
        "z_amplitude": float(np.sqrt(2.0) * np.std(z[first])),
    }


def evaluate_all(result: dict, evaluation: dict, spectrum: bool) -> list[dict]:
    """:func:`evaluate` of every output of a :func:`simulate` result."""
    return [evaluate(result["z"][:, j], result["target"][:, j], result["bounds"],
                     result["dt_ms"], evaluation, spectrum)
            for j in range(result["target"].shape[1])]


def criteria_table(ms: list[dict], control: list[dict] | None, crit: dict, full: bool,
                   peak_hz: float | None) -> list[dict]:
    """Rows ``{name, value, criterion, passed}`` of the pass/fail table: per output
    correlation and RMS (judged), spectral peak (judged, only with ``peak_hz``: periodic
    targets) and the worst best-lag window (reported); the control per output."""
    i = 1 if full else 0
    cmin, rmax = crit["correlation_min"][i], crit["rms_max"][i]
    tol, cmax = crit["peak_tolerance_hz"], crit["control_correlation_max"]
    tag = (lambda j: "") if len(ms) == 1 else (lambda j: f"[{j}]")  # noqa: E731
    rows = []
    for j, m in enumerate(ms):
        rows += [
            {"name": f"correlation{tag(j)} (1st test s)", "value": m["correlation"],
             "criterion": f">= {cmin}", "passed": bool(m["correlation"] >= cmin)},
            {"name": f"RMS error{tag(j)} (1st test s)", "value": m["rms"],
             "criterion": f"<= {rmax}", "passed": bool(m["rms"] <= rmax)}]
        if peak_hz is not None:
            rows.append({"name": f"spectral peak{tag(j)} (Hz)", "value": m["peak_hz"],
                         "criterion": f"{peak_hz} +- {tol}",
                         "passed": bool(abs(m["peak_hz"] - peak_hz) <= tol)})
        rows.append({"name": f"min best-lag window corr{tag(j)}",
                     "value": m["window_correlation_min"], "criterion": "(reported)",
                     "passed": None})
    for j, c in enumerate(control or []):
        rows.append({"name": f"control: no feedback, corr{tag(j)}", "value": c["correlation"],
                     "criterion": f"<= {cmax}", "passed": bool(c["correlation"] <= cmax)})
        rows.append({"name": f"control: RMS error{tag(j)}", "value": c["rms"],
                     "criterion": "(reported)", "passed": None})
    return rows


def format_table(rows: list[dict]) -> str:
    """The table as text: measured value, criterion and PASS/FAIL per row."""
    w = max([28] + [len(r["name"]) for r in rows])
    lines = [f"{'measure':<{w}} {'value':>9}  {'criterion':<14} result"]
    for r in rows:
        verdict = "-" if r["passed"] is None else ("PASS" if r["passed"] else "FAIL")
        lines.append(f"{r['name']:<{w}} {r['value']:>9.4f}  {r['criterion']:<14} {verdict}")
    return "\n".join(lines)


def _write_run(run_writer, result, metrics: list[dict], rows=None):
    """Metrics (scalars, per-window tables, the criteria rows) and the run's end marker.

    One output: the measures under their names; several: ``out<j>_<name>``, and
    ``correlation`` / ``rms`` are the worst over the outputs."""
    scalars, tables = {}, {}
    for j, m in enumerate(metrics):
        pre = "" if len(metrics) == 1 else f"out{j}_"
        scalars.update({pre + k: v for k, v in m.items() if np.isscalar(v)})
        tables.update({pre + k: np.asarray(m[k]) for k in
                       ("window_start_ms", "window_correlation", "window_lag_ms")})
    scalars["correlation"] = float(np.min([m["correlation"] for m in metrics]))  # NaN stays
    scalars["rms"] = float(np.max([m["rms"] for m in metrics]))
    scalars.update({f"rate_{k}_hz": v for k, v in result["rate_hz"].items()})
    scalars.update({f"wall_{k}_s": v for k, v in result["wall_s"].items()})
    summary = {"criteria": rows} if rows is not None else None
    run_writer.write_metrics(scalars=scalars, tables=tables, summary=summary)
    run_writer.finish(wall_time_s=result["loop_wall_s"],
                      duration_ms=float(result["bounds"][-1] * result["dt_ms"]))


def _condition(path, run_id) -> str:
    from ..results import load
    return load(path)[run_id].attrs.get("condition")


def _read_back(path, run_id, signal, protocol, dt_ms, rls_every) -> dict:
    """A finished condition's result as :func:`simulate` returned it, from its run."""
    from ..results import load
    run = load(path)[run_id]
    m = run.metrics
    bounds = TargetStream.phase_bounds(dt_ms, protocol["settle_ms"], protocol["train_ms"],
                                       protocol["test_ms"])
    phases = ("settle", "train", "test")
    return {"z": run.series("z"), "target": np.asarray(signal, dtype=float),
            "bounds": bounds, "dt_ms": dt_ms,
            "rate_hz": {k: m[f"rate_{k}_hz"] for k in phases},
            "wall_s": {k: m[f"wall_{k}_s"] for k in phases},
            "loop_wall_s": run.attrs["wall_time_s"],
            "n_rls_updates": int(-(-(bounds[2] - bounds[1]) // rls_every))}


def plot(result, control, out: Path, title: str = "5 Hz sine", last_train_ms: float = 500.0):
    """Output vs target over the last ``last_train_ms`` of training and the test period,
    one panel per output."""
    from ..plotting._common import pyplot
    plt = pyplot()
    dt, b = result["dt_ms"], result["bounds"]
    lo = max(int(b[1]), int(b[2]) - int(round(last_train_ms / dt)))
    t = np.arange(lo, int(b[3])) * dt / 1000.0
    n_out = result["target"].shape[1]
    fig, axes = plt.subplots(n_out, 1, figsize=(10, 1.0 + 2.5 * n_out), sharex=True,
                             squeeze=False)
    for j, ax in enumerate(axes[:, 0]):
        target = result["target"][lo:, j]
        ax.plot(t, target, color="0.6", lw=2, label="target")
        ax.plot(t, result["z"][lo:, j], color="C0", lw=1, label="z (feedback)")
        if control is not None:
            ax.plot(t, control["z"][lo:, j], color="C3", lw=0.8, alpha=0.8,
                    label="z (no feedback)")
        ax.axvspan(t[0], b[2] * dt / 1000.0, color="C2", alpha=0.1, label="RLS on")
        ax.set_ylabel("output" if n_out == 1 else f"output {j}")
        mid, span = 0.5 * (target.max() + target.min()), 0.5 * np.ptp(target)
        span = max(span, 1e-9, 0.2 * abs(mid))
        ax.set_ylim(mid - 1.25 * span, mid + 1.6 * span)  # room for the legend
    axes[0, 0].legend(loc="upper right", fontsize=8, ncol=4)
    axes[-1, 0].set_xlabel("time (s)")
    axes[0, 0].set_title(f"FORCE (Nicola & Clopath 2017): {title}, end of training and test")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def run(config: dict | None, out: Path, figure: Path | None = None, report="text",
        full: bool = False, target=None) -> dict:
    """Train, test and judge (plus the no-feedback control); write ``out`` and ``figure``.

    ``target``: optionally a Python function ``f(t_ms) -> (n_steps,)`` or ``(n_steps,
    n_outputs)`` used instead of the config's target (``t_ms``: step times in ms from the
    start of the run). Returns a summary dict: the measured values (``correlation`` /
    ``rms``: the worst output; ``outputs``: per output), the pass/fail ``table`` (list of
    rows) and wall times. The table and the wall times are printed (the CLI prints nothing
    else for summaries with a ``table``).
    """
    user = config
    config, spec = resolve_config(user, target)
    return _job(config, spec, out, figure, report, full, target, user=user)


def resume(path: Path, run_id: str | None = None, figure: Path | None = None,
           report="text") -> dict:
    """Continue an interrupted ``force`` job in ``path`` (its latest incomplete run, or
    ``run_id``) from the run's last checkpoint, with the job's stored config; a condition
    that had finished is read back, not run again. Returns the summary of :func:`run`,
    bitwise the same values as an uninterrupted job's."""
    import json
    from ..results import load
    rid = checkpoint.check_resumable(path, KIND, run_id)     # refuse before opening to write
    runs = load(path).runs
    attrs = runs[rid].attrs
    if "experiment_config" not in attrs:
        from ..config import ConfigError
        raise ConfigError(f"--resume {str(path)!r}: run {rid!r} was written without the job's "
                          "config (a Python target, or an older version): it cannot resume")
    config, spec = resolve_config(json.loads(attrs["experiment_config"]))
    done = {r.attrs.get("condition"): r.id for r in runs.values()
            if r.kind == KIND and r.attrs.get("job") == attrs["job"] and r.complete}
    return _job(config, spec, Path(path), figure, report, bool(attrs["full_protocol"]), None,
                job=(attrs["job"], rid, done), user=json.loads(attrs["experiment_config"]))


def _job(config, spec, out, figure, report, full, target, job=None, user=None) -> dict:
    """The conditions, the table and the figure (:func:`run`); ``job`` = (job id, the run
    to resume, {condition: complete run id}) when resuming; ``user``: the user's config
    (stored on the runs, so that a resumed job resolves it the same way)."""
    import uuid
    from ..results import ResultsWriter
    from ..results.schema import to_json
    job_id, resume_id, done = job if job is not None else (uuid.uuid4().hex[:12], None, {})
    protocol = config["full_protocol" if full else "protocol"]
    net_cfg, run_cfg = network_and_run(config)
    evaluation, crit = config["evaluation"], config["criteria"]
    periodic = targets.is_periodic(spec)
    peak = targets.peak_frequency(spec) if periodic else None
    # the target, once for both conditions, before anything is written (errors first)
    n_steps = TargetStream.phase_bounds(run_cfg.dt_ms, protocol["settle_ms"],
                                        protocol["train_ms"], protocol["test_ms"])[-1]
    signal = targets.make_target(spec, np.arange(n_steps) * run_cfg.dt_ms, target)
    t_start = time.perf_counter()
    conditions = [("feedback", float(config["force"]["feedback_gain"]))]
    if evaluation["control"]:
        conditions.append(("control", 0.0))
    results, metrics = {}, {}
    job_attrs = {"job": job_id}
    if target is None:       # a Python target cannot be stored: such a job does not resume
        job_attrs["experiment_config"] = to_json(user or {})
    for name, gain in conditions:
        if name in done:     # finished before the interruption: read back
            res = _read_back(out, done[name], signal, protocol, run_cfg.dt_ms,
                             int(config["force"]["rls_every"]))
            results[name], metrics[name] = res, evaluate_all(res, evaluation, periodic)
            continue
        cfg_dict = full_config(net_cfg, run_cfg, force=config["force"], target=spec,
                               protocol=protocol, evaluation=evaluation, criteria=crit)
        cfg_dict["force"] = dict(config["force"], feedback_gain=gain)
        resumed = None
        if resume_id is not None and _condition(out, resume_id) == name:
            writer = ResultsWriter(out, mode="a")
            resumed = checkpoint.reopen(writer, KIND, resume_id)
            run_writer = resumed.run_writer
        else:
            writer, run_writer = open_run(out, KIND, cfg_dict, run_cfg,
                                          {"n_neurons": net_cfg.n_neurons, "condition": name,
                                           "feedback": gain != 0.0, "full_protocol": bool(full),
                                           **job_attrs})
        with writer:
            res = simulate(config, protocol, gain, signal, run_writer,
                           report=report if name == "feedback" else None, resumed=resumed)
            m = evaluate_all(res, evaluation, periodic)
            results[name], metrics[name] = res, m
            rows = None
            if name == "feedback":
                rows = criteria_table(m, None, crit, full, peak)
            _write_run(run_writer, res, m, rows)
    fb, ctrl = metrics["feedback"], metrics.get("control")
    rows = criteria_table(fb, ctrl, crit, full, peak)
    main = results["feedback"]
    summary = {
        "protocol": "full" if full else "short", "seed": run_cfg.seed,
        "n_neurons": net_cfg.n_neurons, "steps": int(main["bounds"][-1]),
        "target": spec, "n_outputs": len(fb),
        "correlation": float(np.min([m["correlation"] for m in fb])),   # the worst; NaN stays
        "rms": float(np.max([m["rms"] for m in fb])),
        "peak_hz": fb[0]["peak_hz"],
        "window_correlation_min": float(np.min([m["window_correlation_min"] for m in fb])),
        "window_correlation": [float(c) for c in fb[0]["window_correlation"]],
        "window_lag_ms": [float(c) for c in fb[0]["window_lag_ms"]],
        "outputs": [{k: m[k] for k in ("correlation", "rms", "rms_normalized", "peak_hz",
                                       "window_correlation_min", "z_amplitude")} for m in fb],
        "control_correlation": float(np.max([c["correlation"] for c in ctrl]))
        if ctrl else float("nan"),
        "control_rms": float(np.min([c["rms"] for c in ctrl])) if ctrl else float("nan"),
        "rate_hz": main["rate_hz"], "n_rls_updates": main["n_rls_updates"],
        "loop_wall_s": main["loop_wall_s"], "wall_s": main["wall_s"],
        "control_loop_wall_s": results["control"]["loop_wall_s"] if ctrl else float("nan"),
        "process_wall_s": time.perf_counter() - t_start,
        "passed": all(r["passed"] for r in rows if r["passed"] is not None),
        "table": rows,
    }
    if figure is not None:
        plot(main, results.get("control"), figure, targets.describe(spec))
    print(format_table(rows))
    w = main["wall_s"]
    print(f"wall time (s): settle {w['settle']:.2f}, train {w['train']:.2f} "
          f"({summary['n_rls_updates']} RLS updates), test {w['test']:.2f}; "
          f"loop {main['loop_wall_s']:.2f}, with control and I/O "
          f"{summary['process_wall_s']:.2f}")
    print("overall:", "PASS" if summary["passed"] else "FAIL")
    return summary
