"""What a what/when results file holds for analysis: R0's spontaneous run, node tables,
named readouts, trials in one unit (a tiny run_seed, ~10 s)."""
import numpy as np
import pytest

from neurosim.experiments.common import resolve
from neurosim.experiments.whatwhen import DEFAULT_CONFIG, run_seed
from neurosim.results import load

TINY = {"network": {"n_neurons": 100},
        "paradigm": {"main_trials": [10, 4], "probability_trials": 6, "switch_trials": [6, 4]}}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    path = tmp_path_factory.mktemp("ww") / "ww.h5"
    result = run_seed(resolve(DEFAULT_CONFIG, TINY), path, None, 0)
    return load(path), result


def test_r0_spontaneous_run_is_saved_and_reproduces_r0(results):
    res, result = results
    assert list(res.runs)[:3] == ["spontaneous", "decodability", "main"]
    sp = res["spontaneous"]
    assert sp.complete and sp.attrs["phase"] == "spontaneous" and sp.attrs["duration_ms"] == 3000.0
    exc = sp.nodes()["excitatory"]
    count = sp.spikes().count
    assert count.size == 100
    rate_e = count[exc].mean() / 3.0
    rate_i = count[~exc].mean() / 3.0
    # R0 as the main table reports it, from the file alone
    assert sp.metrics["rate_e_hz"] == pytest.approx(rate_e, rel=1e-12)
    assert res["main"].metrics["rate_e_hz"] == pytest.approx(rate_e, rel=1e-12)
    assert res["main"].metrics["rate_i_hz"] == pytest.approx(rate_i, rel=1e-12)
    assert sp.series("rate").mean() == pytest.approx(count.mean() / 3.0, rel=1e-9)


def test_every_phase_names_its_readouts_and_stores_its_nodes(results):
    res, _ = results
    main, prob = res["main"], res["probability"]
    assert main.series_columns("z0") == ["when", "what_A", "what_B"]
    assert main.series_columns("target") == ["when", "what_A", "what_B"]
    assert prob.series_columns("z0") == ["when", "what_A"]
    for run in (main, prob):
        assert run.n_nodes() == 100 and run.nodes()["excitatory"].sum() == 80
    # the single-channel network differs only in its inputs: same neurons
    assert np.array_equal(main.nodes()["c"], prob.nodes()["c"])


def test_trial_table_is_in_one_unit(results):
    res, _ = results
    tt = res["main"].trial_table("ms")
    assert not any(k.endswith("_step") or k == "n_steps" for k in tt)
    assert np.array_equal(np.diff(tt["start_ms"]), tt["duration_ms"][:-1])
    on = res["main"].trials()["occurred"]
    assert np.allclose(tt["stim_ms"][on] - tt["cue_ms"][on], tt["latency_ms"][on])


def test_summary_figure_is_redrawn_from_the_file_alone(results, tmp_path):
    """plot --kind summary on the file draws, pixel for pixel, the figure the run drew from
    its in-memory results (whatwhen.png)."""
    plt = pytest.importorskip("matplotlib.pyplot")
    from neurosim.experiments.whatwhen_figure import draw
    from neurosim.plotting import plot_file
    res, result = results
    draw(result, tmp_path / "memory.png")
    out = plot_file(res.path, kind="summary", out=tmp_path / "file.png")
    a, b = plt.imread(tmp_path / "memory.png"), plt.imread(out)
    assert a.shape == b.shape and np.array_equal(a, b)
    assert a.std() > 0.01
    # the one-page overview stays available
    over = plot_file(res.path, kind="overview", out=tmp_path / "over.png")
    assert plt.imread(over).shape != a.shape
