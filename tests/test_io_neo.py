"""run.to_neo(): Elephant's rates, CV of ISI and cue-aligned PSTH equal neurosim's own."""
import numpy as np
import pytest

from neurosim.experiments import izhikevich2003
from neurosim.results import load
from neurosim.results.stats import cv_isi, firing_rates_hz, psth

neo = pytest.importorskip("neo")
pq = pytest.importorskip("quantities")
es = pytest.importorskip("elephant.statistics")

from test_io_nwb import whatwhen_file  # noqa: E402  (the small what/when run, shared)


@pytest.fixture(scope="module")
def iz(tmp_path_factory):
    path = tmp_path_factory.mktemp("neo") / "iz.h5"
    izhikevich2003.run({"network": {"n_neurons": 100}, "run": {"duration_ms": 1000.0,
                                                               "chunk_ms": 250.0}},
                       path, figure=None, report=None)
    return load(path).latest


@pytest.fixture(scope="module")
def ww(tmp_path_factory):
    return load(whatwhen_file(tmp_path_factory.mktemp("neo") / "ww.h5"))["main"]


def test_block_layout(ww):
    block = ww.to_neo()
    seg = block.segments[0]
    assert len(seg.spiketrains) == 120 == ww.n_nodes()
    st = seg.spiketrains[5]
    assert st.t_stop == ww.attrs["duration_ms"] * pq.ms and st.units == pq.ms
    assert st.annotations["excitatory"] == bool(ww.nodes()["excitatory"][5])
    assert sum(s.annotations["excitatory"] for s in seg.spiketrains) == 96
    z0 = next(a for a in seg.analogsignals if a.name == "z0")
    assert list(z0.array_annotations["channel_names"]) == ["when", "what_A", "what_B"]
    assert np.array_equal(z0.magnitude, ww.series("z0"))
    rate = next(a for a in seg.analogsignals if a.name == "rate")
    assert rate.units == pq.Hz and rate.sampling_period == ww.dt_ms * pq.ms
    (epoch,) = seg.epochs
    tt = ww.trial_table("ms")
    assert np.array_equal(epoch.times.magnitude, tt["start_ms"])
    assert np.array_equal(epoch.array_annotations["identity"], tt["identity"])
    cue = next(e for e in seg.events if e.name == "cue")
    stim = next(e for e in seg.events if e.name == "stimulus")
    assert np.array_equal(cue.times.magnitude, tt["start_ms"] + tt["cue_ms"])
    assert stim.size == int(tt["occurred"].sum())


def test_elephant_rates_equal_neurosims_metrics(iz):
    trains = iz.to_neo(series=False, trials=False).segments[0].spiketrains
    theirs = np.array([es.mean_firing_rate(st).rescale(pq.Hz).magnitude for st in trains])
    ours = firing_rates_hz(iz.spikes(), 0.0, iz.attrs["duration_ms"])
    np.testing.assert_allclose(theirs, ours, rtol=1e-12)
    exc = iz.nodes()["excitatory"]
    # the run's own summary metrics (izhikevich2003: rate_e_hz, rate_i_hz)
    assert theirs[exc].mean() == pytest.approx(iz.metrics["rate_e_hz"], rel=1e-12)
    assert theirs[~exc].mean() == pytest.approx(iz.metrics["rate_i_hz"], rel=1e-12)
    assert 1.0 < iz.metrics["rate_e_hz"] < 50.0
    # and the recorded population-rate series (Hz) has the same mean
    assert iz.series("rate").mean() == pytest.approx(theirs.mean(), rel=1e-9)


def test_elephant_cv_of_isi_equals_neurosims(iz):
    trains = iz.to_neo(series=False, trials=False).segments[0].spiketrains
    ours = cv_isi(iz.spikes())
    checked = 0
    for k, st in enumerate(trains):
        if len(st) < 3:
            assert np.isnan(ours[k])
            continue
        assert es.cv(es.isi(st).magnitude) == pytest.approx(ours[k], rel=1e-12)
        checked += 1
    assert checked > 50


def test_elephant_cue_aligned_psth_equals_neurosims(ww):
    """Cut every train around each cue, shift it to the cue, and bin with Elephant. The
    window is offset by half a step so that no spike (integer ms) falls on a bin edge."""
    block = ww.to_neo(series=False)
    seg = block.segments[0]
    cues = next(e for e in seg.events if e.name == "cue").times.rescale(pq.ms).magnitude
    lo, hi, width = -200.5, 799.5, 50.0
    aligned = []
    for c in cues:
        for st in seg.spiketrains:
            part = st.time_slice((c + lo) * pq.ms, (c + hi) * pq.ms)
            aligned.append(neo.SpikeTrain(part.magnitude - c, units=pq.ms, t_start=lo * pq.ms,
                                          t_stop=hi * pq.ms))
    hist = es.time_histogram(aligned, bin_size=width * pq.ms, output="rate")
    theirs = hist.rescale(pq.Hz).magnitude.ravel()
    edges, ours = psth(ww.spikes(), cues, window_ms=(lo, hi), bin_ms=width)
    assert ours.size == theirs.size == 20 and edges[0] == lo
    np.testing.assert_allclose(theirs, ours, rtol=1e-10)
    # the cue drives the reservoir: the first bins after the cue exceed the pre-cue bins
    assert ours[4:6].mean() > ours[:4].mean()


def test_psth_errors(ww):
    with pytest.raises(ValueError, match="window_ms"):
        psth(ww.spikes(), [0.0], window_ms=(100.0, 0.0))
