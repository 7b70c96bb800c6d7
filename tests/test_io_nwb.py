"""NWB export: pynwb's validator passes it, and it holds the run's spikes, trials and readouts."""
import json
import subprocess
import sys

import numpy as np
import pytest

from neurosim.results import load

try:   # not importorskip: test_io_neo imports whatwhen_file from here without pynwb
    import pynwb
except ImportError:
    pynwb = None
pytestmark = pytest.mark.skipif(pynwb is None, reason="needs pynwb (pip install 'neurosim[io]')")


def whatwhen_file(path, n=120, trials=(12, 4)):
    """A small what/when run (main phase, 16 trials, ~25 s simulated, ~2 s) written as the
    experiment writes it: node table, readout names, trials, series, weights."""
    from neurosim.experiments.common import network_and_run, open_run, resolve
    from neurosim.experiments.whatwhen import DEFAULT_CONFIG, _specs, readout_names
    from neurosim.experiments.whatwhen_phases import run_phase
    from neurosim.learners import make_learner
    from neurosim.network import build_network
    cfg = resolve(DEFAULT_CONFIG, {"network": {"n_neurons": n},
                                   "paradigm": {"main_trials": list(trials)}})
    net_cfg, run_cfg = network_and_run(cfg)
    spec = _specs(cfg["paradigm"], run_cfg.dt_ms)["main"]
    net = build_network(net_cfg, 0, run_cfg.dtype)
    hyper = dict(cfg["learner"])
    learner = make_learner(hyper.pop("name"), **hyper)
    writer, rw = open_run(path, "whatwhen", cfg, run_cfg,
                          {"phase": "main", "n_neurons": n, "readout_names": readout_names(spec)},
                          run_id="main", network=net)
    with writer:
        res = run_phase(net, run_cfg, spec, learner, 1, rw)
        rw.finish(res.wall_s, float(np.sum(res.table["n_steps"])) * run_cfg.dt_ms)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("nwb")
    path = whatwhen_file(d / "ww.h5")
    from neurosim.io.nwb import export_nwb
    return load(path)["main"], export_nwb(path, d / "ww.nwb")


def test_pynwb_validator_passes(exported):
    run, out = exported
    assert pynwb.validate(path=str(out)) == []


def test_units_hold_every_neuron_and_its_spikes(exported):
    run, out = exported
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        units = nwb.units.to_dataframe()
    assert len(units) == 120 == run.n_nodes()
    trains = run.spikes().spike_trains()
    for k in range(120):
        assert np.array_equal(units["spike_times"].iloc[k], trains[k] / 1000.0)
    nodes = run.nodes()
    assert np.array_equal(units["excitatory"].to_numpy(bool), nodes["excitatory"])
    for col in ("a", "b", "c", "d", "bias", "noise_sigma"):
        assert np.array_equal(units[col].to_numpy(), nodes[col]), col


def test_trials_in_seconds_and_labelled_readouts(exported):
    run, out = exported
    tt = run.trial_table("s")
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        trials = nwb.trials.to_dataframe()
        ro = nwb.processing["readouts"]
        names = sorted(ro.data_interfaces)
        z0_when = ro["z0_when"].data[()]
        rate = ro["rate"]
        rate_unit, rate_hz, rate_data = rate.unit, rate.rate, rate.data[()]
        config = json.loads(nwb.notes.split(": ", 1)[1])
    assert len(trials) == 16
    np.testing.assert_array_equal(trials["start_time"], tt["start_s"])
    np.testing.assert_allclose(trials["stop_time"], tt["start_s"] + tt["duration_s"])
    np.testing.assert_allclose(trials["cue_time"], tt["start_s"] + tt["cue_s"])
    occurred = trials["occurred"].to_numpy(bool)
    assert np.isnan(trials["stim_time"][~occurred]).all()
    np.testing.assert_allclose(trials["latency_s"][occurred], tt["latency_s"][occurred])
    assert set(trials["latency_s"][occurred]) <= {0.4, 0.6, 0.8}   # 0.6: after the switch
    assert list(trials["identity"]) == list(tt["identity"])
    assert {"z0_when", "z0_what_A", "z0_what_B", "target_when", "rate", "gate"} <= set(names)
    assert np.array_equal(z0_when, run.series("z0")[:, 0])
    assert rate_unit == "Hz" and rate_hz == 1000.0 and np.array_equal(rate_data, run.series("rate"))
    assert config["network"]["n_neurons"] == 120


def test_cli_export_nwb_and_missing_pynwb_message(exported, tmp_path):
    run, _ = exported
    out = subprocess.run([sys.executable, "-m", "neurosim.cli", "export", str(run.path),
                          "--format", "nwb", "--out", str(tmp_path / "c.nwb")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert pynwb.validate(path=str(tmp_path / "c.nwb")) == []
    hide = ("import sys; sys.modules['pynwb'] = None; from neurosim.cli import main; "
            f"sys.exit(main(['export', {str(run.path)!r}, '--format', 'nwb']))")
    out = subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True)
    assert out.returncode == 2 and "pip install 'neurosim[io]'" in out.stderr
