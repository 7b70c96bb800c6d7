"""Plots that tell the truth: rate in Hz for any N and dt, windows for long runs, E/I colours,
named readouts, weights over every snapshot, ISI/CV/rate histograms, PSTH, summary, CLI."""
import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from neurosim import plotting  # noqa: E402
from neurosim.plotting.spikes import E_COLOR, I_COLOR, MAX_BINS  # noqa: E402
from neurosim.results import ResultsWriter, load  # noqa: E402
from neurosim.results.stats import cv_isi, psth  # noqa: E402

N, N_E, DT = 400, 320, 0.5


def _nodes(n, n_e):
    return {"excitatory": np.arange(n) < n_e, **{k: np.zeros(n) for k in "abcd"},
            "bias": np.zeros(n), "noise_sigma": np.zeros(n)}


def write_run(path, duration_ms, spikes_per_neuron, n=N, n_e=N_E, dt=DT, seed=0, extra=None):
    """Every neuron fires exactly ``spikes_per_neuron`` times at random steps: the true mean
    rate is spikes_per_neuron / duration (s), whatever N and dt."""
    rng = np.random.default_rng(seed)
    n_steps = int(duration_ms / dt)
    ids = np.repeat(np.arange(n), spikes_per_neuron)
    steps = np.concatenate([rng.choice(n_steps, spikes_per_neuron, replace=False)
                            for _ in range(n)])
    order = np.argsort(steps, kind="stable")
    with ResultsWriter(path, "w") as w:
        run = w.create_run("r", "test", dict(seed=0, backend="numpy", dtype="float64", dt_ms=dt,
                                             **(extra or {})), {})
        run.write_nodes("reservoir", _nodes(n, n_e))
        run.append_spikes("reservoir", steps[order] * dt, ids[order])
        run.finish(1.0, duration_ms)
    return load(path)["r"]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.mark.parametrize("n, dt", [(400, 0.5), (100, 1.0), (1000, 0.1)])
def test_rate_is_in_hz_for_any_n_and_dt(tmp_path, n, dt):
    """Issue 14: at N = 400, dt = 0.5 ms the old plot drew 0.223 (counts per step) for a
    true 1.116 Hz. Two spikes per neuron in 2 s is 1 Hz, however N and dt are chosen."""
    run = write_run(tmp_path / "r.h5", 2000.0, 2, n=n, n_e=int(0.8 * n), dt=dt)
    for bin_ms in (None, 5.0, 50.0):
        ax = plotting.rate(run, bin_ms=bin_ms)
        all_line = next(l for l in ax.get_lines() if l.get_label().startswith("all"))
        assert np.mean(all_line.get_ydata()) == pytest.approx(1.0, rel=1e-12)
        assert "Hz per neuron" in ax.get_ylabel()
        e_line = next(l for l in ax.get_lines() if l.get_label().startswith("excitatory"))
        assert mcolors.same_color(e_line.get_color(), E_COLOR)
        assert np.mean(e_line.get_ydata()) == pytest.approx(1.0, rel=1e-12)
        plt.close(ax.figure)
    ax = plotting.rate(run, bin_ms=50.0)
    assert len(ax.get_lines()[0].get_xdata()) == 40   # 2000 ms / 50 ms


def test_raster_colours_e_and_i(tmp_path):
    run = write_run(tmp_path / "r.h5", 1000.0, 3)
    ax = plotting.raster(run)
    e, i = ax.get_lines()
    assert mcolors.same_color(e.get_color(), E_COLOR) and mcolors.same_color(i.get_color(), I_COLOR)
    assert len(e.get_xdata()) == N_E * 3 and len(i.get_xdata()) == (N - N_E) * 3
    assert (np.asarray(e.get_ydata()) < N_E).all() and (np.asarray(i.get_ydata()) >= N_E).all()


def test_long_runs_are_drawn_over_a_window(tmp_path):
    run = write_run(tmp_path / "long.h5", 60_000.0, 30, n=50, n_e=40)
    s = run.spikes()
    fig = plotting.raster_with_rate(run)
    top, bottom = fig.axes
    assert top.get_xlim() == (55_000.0, 60_000.0)          # the last 5 s by default
    shown = sum(len(l.get_xdata()) for l in top.get_lines())
    assert shown == np.count_nonzero(s.t >= 55_000.0) and "55-60 s" in top.get_title()
    plt.close(fig)
    ax = plotting.rate(run, t_range_ms="all")
    assert len(ax.get_lines()[0].get_xdata()) <= MAX_BINS      # 60 s: 60 ms bins, not 120,000
    assert np.mean(ax.get_lines()[-1].get_ydata()) == pytest.approx(0.5, rel=1e-12)
    ax = plotting.raster(run, t_range_ms=(1000.0, 3000.0))
    assert sum(len(l.get_xdata()) for l in ax.get_lines()) == np.count_nonzero(
        (s.t >= 1000.0) & (s.t < 3000.0))


def test_readouts_and_weights_are_labelled_by_name(tmp_path):
    path = tmp_path / "ww.h5"
    names = ["when", "what_A", "what_B"]
    rng = np.random.default_rng(2)
    with ResultsWriter(path, "w") as w:
        run = w.create_run("r", "whatwhen", dict(seed=0, backend="numpy", dtype="float32",
                                                 dt_ms=1.0, readout_names=names), {})
        for k in range(6):
            run.append_series("z0", rng.normal(size=(300, 3)))
            run.append_series("target", np.zeros((300, 3)))
            run.append_trials({"cue_step": [50], "start_step": [300 * k], "n_steps": [300],
                               "occurred": [True], "identity": [k % 2]})
            run.append_weights("readout", np.full((3, 20), 0.1 * (k + 1)) * [[1], [2], [3]],
                               trial=k + 1)
        run.finish(1.0, 1800.0)
    run = load(path)["r"]
    fig = plotting.readouts(run, names=("z0",))
    labels = {l.get_label() for ax in fig.axes for l in ax.get_lines()}
    assert {"z0 when", "z0 what_A", "z0 what_B", "target when"} <= labels
    plt.close(fig)
    fig = plotting.weights_over_learning(run)
    norms = fig.axes[0]
    assert [l.get_label() for l in norms.get_lines()] == names
    when = norms.get_lines()[0]
    assert list(when.get_xdata()) == [1, 2, 3, 4, 5, 6]                  # every snapshot
    np.testing.assert_allclose(when.get_ydata(), 0.1 * np.arange(1, 7) * np.sqrt(20))
    heat = [ax for ax in fig.axes if ax.get_images()]
    assert len(heat) == 3 and heat[0].get_images()[0].get_array().shape == (6, 20)
    assert heat[1].get_title() == "what_A weights"


def test_isi_cv_and_rate_histograms(tmp_path):
    run = write_run(tmp_path / "r.h5", 4000.0, 8)
    fig = plotting.spike_stats(run)
    isi_ax, cv_ax, rate_ax = fig.axes[:3]
    cv = cv_isi(run.spikes())
    # each step histogram's outline spans the neurons counted: E then I
    assert "excitatory: median" in cv_ax.get_legend().get_texts()[0].get_text()
    assert f"{np.median(cv[:N_E]):.2f}" in cv_ax.get_legend().get_texts()[0].get_text()
    assert "mean 2.00 Hz" in rate_ax.get_legend().get_texts()[0].get_text()   # 8 in 4 s
    assert isi_ax.get_xscale() == "log" and "ms" in isi_ax.get_xlabel()


def test_psth_plot_draws_neurosims_psth(tmp_path):
    path = tmp_path / "t.h5"
    rng = np.random.default_rng(3)
    with ResultsWriter(path, "w") as w:
        run = w.create_run("r", "whatwhen", dict(seed=0, backend="numpy", dtype="float32",
                                                 dt_ms=1.0), {})
        run.write_nodes("reservoir", _nodes(20, 16))
        t = np.sort(rng.integers(0, 10_000, 3000)).astype(float)
        run.append_spikes("reservoir", t, rng.integers(0, 20, 3000))
        run.append_trials({"cue_step": [300] * 10, "start_step": 1000 * np.arange(10),
                           "n_steps": [1000] * 10})
        run.finish(1.0, 10_000.0)
    run = load(path)["r"]
    fig = plotting.psth(run, window_ms=(-200.0, 600.0), bin_ms=40.0)
    line = next(l for l in fig.axes[1].get_lines() if l.get_label() == "all")
    edges, hz = psth(run.spikes(), 1000 * np.arange(10) + 300.0, (-200.0, 600.0), 40.0)
    np.testing.assert_array_equal(line.get_ydata(), hz)
    assert "Hz per neuron" in fig.axes[1].get_ylabel()


def test_summary_from_the_file_alone(tmp_path):
    run = write_run(tmp_path / "s.h5", 1000.0, 2)
    with ResultsWriter(tmp_path / "s.h5", "a") as w:
        w.open_run("r").write_metrics(summary={"criteria": [
            {"id": "R0", "value": "E 2 Hz", "criterion": "2-20 Hz", "passed": True},
            {"id": "R1", "value": "x", "criterion": "y", "passed": False}]})
    fig = plotting.summary(load(tmp_path / "s.h5")["r"])
    cells = [ax.tables[0] for ax in fig.axes if ax.tables][0].get_celld()
    texts = {c.get_text().get_text() for c in cells.values()}
    assert {"R0", "PASS", "R1", "FAIL", "E 2 Hz"} <= texts
    out = plotting.plot_file(tmp_path / "s.h5", kind="summary", out=tmp_path / "s.png")
    assert plt.imread(out).std() > 0.01


def test_cli_lists_kinds_and_checks_plot_options(tmp_path):
    write_run(tmp_path / "r.h5", 1000.0, 2)
    cli = [sys.executable, "-m", "neurosim.cli", "plot"]
    out = subprocess.run(cli + ["--help"], capture_output=True, text=True)
    for kind in ("raster", "rate", "psth", "stats", "weights", "summary"):
        assert kind in out.stdout
    ok = subprocess.run(cli + [str(tmp_path / "r.h5"), "--kind", "rate", "--window", "0:500",
                               "--bin-ms", "25", "--out", str(tmp_path / "r.png")],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    for args, message in ((["--kind", "stats", "--bin-ms", "5"], "--bin-ms does not apply to --kind stats"),
                          (["--window", "5:x"], "--window '5:x': give START:STOP"),
                          (["--bin-ms", "0"], "--bin-ms 0: must be > 0"),
                          (["--window", "500:100"], "stop must exceed the start")):
        bad = subprocess.run(cli + [str(tmp_path / "r.h5"), "--out", str(tmp_path / "x.png")]
                             + args, capture_output=True, text=True)
        assert bad.returncode == 2 and message in bad.stderr, (args, bad.stderr)
