"""Every plot kind renders a non-blank PNG with the expected artists, from a synthetic run."""
import os

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from neurosim import plotting  # noqa: E402
from neurosim.results import ResultsWriter, load  # noqa: E402

DT, N_NEURONS, DECIMATION = 1.0, 30, 2
N_TRIALS, TRIAL_STEPS, CUE_STEP, LATENCY = 12, 400, 100, 150


@pytest.fixture(scope="module")
def results_path(tmp_path_factory):
    """A what/when-like run: per-trial chunks, cue at a chunk-relative step, A/B/omission."""
    path = tmp_path_factory.mktemp("plots") / "r.h5"
    rng = np.random.default_rng(1)
    identity = np.array([0, 1, -1] * 4)
    with ResultsWriter(path, "w") as w:
        run = w.create_run("r", "whatwhen", dict(seed=1, backend="numpy", dtype="float32",
                                                 dt_ms=DT, n_neurons=N_NEURONS), {})
        for k in range(N_TRIALS):
            start = k * TRIAL_STEPS
            steps = np.sort(rng.integers(start, start + TRIAL_STEPS, 200))
            run.append_spikes("reservoir", steps * DT, rng.integers(0, N_NEURONS, 200), n_nodes=N_NEURONS)
            t = np.arange(0, TRIAL_STEPS, DECIMATION)
            bump = np.exp(-((t - CUE_STEP - LATENCY) * DT) ** 2 / 2e3)
            target = np.stack([bump * (identity[k] >= 0), np.full(t.size, identity[k] == 0.0)], axis=1)
            run.append_series("target", target, decimation=DECIMATION)
            run.append_series("z0", target + rng.normal(0, 0.05, target.shape), decimation=DECIMATION)
            run.append_series("z", target * 0.9, decimation=DECIMATION)
            run.append_trials({"trial": [k], "identity": [identity[k]], "occurred": [identity[k] >= 0],
                               "cue_step": [CUE_STEP], "start_step": [start],
                               "n_steps": [TRIAL_STEPS]})
            run.append_weights("w_out", rng.normal(k * 0.1, 1, (2, N_NEURONS)), trial=k + 1)
            run.flush()
        run.write_metrics(scalars={"accuracy": 0.91, "bwt": -0.02},
                          tables={"accuracy_matrix": rng.uniform(size=(3, 3))},
                          summary={"R2_peak_ms": 249.0})
        run.finish(1.0, N_TRIALS * TRIAL_STEPS * DT)
    return path


@pytest.fixture(scope="module")
def run(results_path):
    return load(results_path)["r"]


def assert_not_blank(fig, tmp_path, name="f.png"):
    out = tmp_path / name
    fig.savefig(out, dpi=60)
    pixels = plt.imread(out)
    assert pixels.std() > 0.01
    plt.close(fig)


def test_raster_has_one_mark_per_spike(run, tmp_path):
    ax = plotting.raster(run)
    (line,) = ax.get_lines()
    assert len(line.get_xdata()) == N_TRIALS * 200
    assert_not_blank(ax.figure, tmp_path)


def test_raster_subsamples_and_windows(run, tmp_path):
    ax = plotting.raster(run, max_points=500, t_range_ms=(0, 2000))
    assert len(ax.get_lines()[0].get_xdata()) == 500 and "500 shown" in ax.get_title()
    plt.close(ax.figure)


def test_raster_with_rate_is_two_panels(run, tmp_path):
    fig = plotting.raster_with_rate(run, bin_ms=10)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    rate_line = fig.axes[1].get_lines()[0]
    assert len(rate_line.get_ydata()) == N_TRIALS * TRIAL_STEPS // 10
    # mean rate: 2400 spikes / 30 neurons / 4.8 s
    np.testing.assert_allclose(np.mean(rate_line.get_ydata()), 2400 / 30 / 4.8, rtol=0.01)
    assert_not_blank(fig, tmp_path)


def test_readouts_one_panel_per_trial_type_aligned_on_cue(run, tmp_path):
    fig = plotting.readouts(run, pre_ms=50)
    titles = sorted(ax.get_title() for ax in fig.axes)
    assert titles == ["identity 0 (4 trials)", "identity 1 (4 trials)", "omission (4 trials)"]
    panel = next(ax for ax in fig.axes if ax.get_title().startswith("identity 0"))
    assert len(panel.get_lines()) == 3 * 2 + 1  # (z0, z, target) x 2 outputs + cue line
    z_when = next(l for l in panel.get_lines() if l.get_label() == "target[0]")
    peak_ms = z_when.get_xdata()[np.argmax(z_when.get_ydata())]
    assert abs(peak_ms - LATENCY * DT) <= DECIMATION * DT
    assert_not_blank(fig, tmp_path)


def test_readouts_on_a_given_axes(run, tmp_path):
    fig, ax = plt.subplots()
    assert plotting.readouts(run, ax=ax, names=("z0",), output=0) is ax
    assert len(ax.get_lines()) == 3 * 2 + 3  # (z0, target) per type + a cue line each
    assert_not_blank(fig, tmp_path)


def test_weights_image_and_histogram(run, tmp_path):
    ax = plotting.weights(run)
    (image,) = ax.get_images()
    assert image.get_array().shape == (2, N_NEURONS)
    assert_not_blank(ax.figure, tmp_path)
    ax = plotting.weights(run, "w_out", kind="hist", max_histograms=4)
    assert len(ax.patches) == 4
    assert_not_blank(ax.figure, tmp_path, "h.png")


def test_metrics_table_and_accuracy_heatmap(run, tmp_path):
    fig = plotting.metrics(run)
    assert len(fig.axes) == 3  # table, heatmap, colorbar
    table = fig.axes[0].tables[0]
    cells = {c.get_text().get_text() for c in table.get_celld().values()}
    assert {"accuracy", "0.91", "bwt", "summary.R2_peak_ms"} <= cells
    assert fig.axes[1].get_images()[0].get_array().shape == (3, 3)
    assert_not_blank(fig, tmp_path)


@pytest.mark.parametrize("kind", sorted(plotting.KINDS))
def test_plot_file_every_kind(results_path, tmp_path, kind):
    plt.close("all")
    out = plotting.plot_file(results_path, kind=kind, out=tmp_path / f"{kind}.png")
    assert out.exists() and os.path.getsize(out) > 1000
    assert plt.imread(out).std() > 0.01
    assert plt.get_fignums() == []  # plot_file closes what it opened


def test_plot_file_errors_name_the_choices(results_path, tmp_path):
    with pytest.raises(ValueError, match="raster, raster-only"):
        plotting.plot_file(results_path, kind="nope", out=tmp_path / "x.png")
    with pytest.raises(KeyError, match="runs: r"):
        plotting.plot_file(results_path, run_id="missing", out=tmp_path / "x.png")
