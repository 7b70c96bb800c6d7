"""Configuration validation, overrides, seeds, recording accessors, progress, backends."""
import json

import numpy as np
import pytest

from conftest import simulate
from neurosim.backends import get_backend
from neurosim.cli import main as cli_main
from neurosim.config import (ConfigError, NetworkConfig, RunConfig, apply_overrides, from_dict,
                             load_file)
from neurosim.network import build_network
from neurosim.simulator import Simulator


@pytest.mark.parametrize("data, match", [
    ({"n_neurons": -5}, r"network.n_neurons = -5 .*positive integer"),
    ({"excitatory_fraction": 1.5}, r"network.excitatory_fraction = 1.5 .*\[0, 1\]"),
    ({"connection_probability": -0.1}, r"connection_probability = -0.1"),
    ({"neuron_model": "hodgkin"}, r"'hodgkin' is unknown; valid names: .*chattering"),
    ({"bias_excitatory": [3, 1]}, r"low <= high"),
    ({"synapse": {"tau_decay_ms": 0}}, r"synapse.tau_decay_ms = 0"),
    ({"inputs": [{"name": "cue", "fraction": 2}]}, r"inputs\[cue\].fraction = 2"),
    ({"n_neuron": 10}, r"unknown key\(s\) \['n_neuron'\] in network; valid keys: n_neurons"),
    ({"n_neurons": "many"}, r"network.n_neurons must be an integer"),
])
def test_bad_network_config_names_field_and_range(data, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(NetworkConfig, data, "network")


@pytest.mark.parametrize("data, match", [
    ({"dt_ms": 0}, r"run.dt_ms = 0.0 is invalid: must lie in \(0, 10\]"),
    ({"dt_ms": -1}, r"run.dt_ms = -1"),
    ({"backend": "fortran"}, r"'fortran' is unknown; valid names: auto, cuda, numba, numpy"),
    ({"dtype": "float16"}, r"valid names: float32, float64"),
    ({"seed": -1}, r"run.seed = -1"),
])
def test_bad_run_config(data, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(RunConfig, data, "run")


def test_overrides_and_files(tmp_path):
    data = apply_overrides({"network": {"n_neurons": 10}},
                           ["network.n_neurons=2000", "run.backend=numpy", "network.features.bias=true"])
    assert data == {"network": {"n_neurons": 2000, "features": {"bias": True}},
                    "run": {"backend": "numpy"}}
    toml = tmp_path / "c.toml"
    toml.write_text("[network]\nn_neurons = 50\n")
    assert load_file(toml) == {"network": {"n_neurons": 50}}
    js = tmp_path / "c.json"
    js.write_text(json.dumps({"run": {"dt_ms": 0.5}}))
    assert load_file(js)["run"]["dt_ms"] == 0.5
    with pytest.raises(ConfigError, match="unknown extension"):
        load_file(tmp_path / "c.yaml") if (tmp_path / "c.yaml").write_text("x") else None
    with pytest.raises(ConfigError, match="must look like"):
        apply_overrides({}, ["network.n_neurons"])


def test_cli_reports_bad_input_without_traceback(capsys, tmp_path):
    code = cli_main(["run", "izhikevich2003", "--set", "network.n_neurons=0",
                     "--out", str(tmp_path / "x.h5")])
    assert code == 2
    assert "network.n_neurons = 0" in capsys.readouterr().err
    assert cli_main(["run", "nonexistent"]) == 2


def test_same_seed_same_spikes_other_seed_differs():
    cfg = NetworkConfig(n_neurons=200)
    _, a = simulate(cfg, "numba", seed=5, duration_ms=300)
    _, b = simulate(cfg, "numba", seed=5, duration_ms=300)
    _, c = simulate(cfg, "numba", seed=6, duration_ms=300)
    np.testing.assert_array_equal(a.spikes.i, b.spikes.i)
    assert not np.array_equal(a.spikes.i, c.spikes.i)


def test_spike_buffer_growth_loses_nothing():
    cfg = NetworkConfig(n_neurons=200)
    _, ref = simulate(cfg, "numba", duration_ms=500)
    net = build_network(cfg, seed=3, dtype="float64")
    sim = Simulator(net, RunConfig(dtype="float64", duration_ms=500, chunk_ms=250, seed=3))
    sim._spike_capacity = 200  # one step's worth: forces many refills
    rec = sim.run()
    np.testing.assert_array_equal(rec.spikes.i, ref.spikes.i)
    np.testing.assert_array_equal(rec.spikes.t, ref.spikes.t)


def test_brian2_style_accessors():
    _, rec = simulate(NetworkConfig(n_neurons=100), "numba", duration_ms=300)
    sp = rec.spikes
    assert sp.count.sum() == sp.num_spikes == sp.i.size
    trains = sp.spike_trains()
    assert len(trains) == 100
    k = int(np.argmax(sp.count))
    np.testing.assert_array_equal(trains[k], sp.t[sp.i == k])
    assert np.all(np.diff(sp.t) >= 0)


def test_progress_callable_and_bad_report():
    net = build_network(NetworkConfig(n_neurons=50), seed=0)
    sim = Simulator(net, RunConfig(duration_ms=400, chunk_ms=100))
    seen = []
    sim.run(report=lambda done, total: seen.append((done, total)))
    assert seen == [(100.0, 400.0), (200.0, 400.0), (300.0, 400.0), (400.0, 400.0)]
    with pytest.raises(ConfigError, match="report = 'loud'"):
        sim.run(report="loud")


def test_cuda_backend_without_gpu_is_a_clear_error():
    with pytest.raises(ConfigError, match="cuda"):
        get_backend("cuda")
    assert get_backend("auto").name == "numba"


def test_user_given_parameter_arrays():
    cfg = NetworkConfig(n_neurons=10)
    net = build_network(cfg, seed=0, params={"a": np.full(10, 0.1)})
    assert np.allclose(net.a, 0.1)
    with pytest.raises(ConfigError, match=r"params\['a'\] has shape \(3,\); expected \(10,\)"):
        build_network(cfg, seed=0, params={"a": np.ones(3)})
    with pytest.raises(ConfigError, match="unknown key 'e'"):
        build_network(cfg, seed=0, params={"e": np.ones(10)})


def test_progress_positions_do_not_drift_and_logs_get_text(monkeypatch):
    from neurosim import progress
    bar = progress._Tqdm(2500.0)
    for k in range(1, 9):
        bar(k * 100.0, 2500.0)
    assert bar.bar.n == 0.8            # not 0.7999999999999999
    bar.close()
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: False, raising=False)
    assert isinstance(progress.make_reporter("tqdm", 1000.0), progress._Text)


def test_run_dtype_must_match_the_network():
    from neurosim.config import ConfigError, NetworkConfig, RunConfig
    from neurosim.network import build_network
    from neurosim.simulator import Simulator
    net = build_network(NetworkConfig(n_neurons=10), seed=0)            # float32
    with pytest.raises(ConfigError, match="run.dtype = 'float64' but the network was built "
                                          "in float32"):
        Simulator(net, RunConfig(dtype="float64"))
    sim = Simulator(build_network(NetworkConfig(n_neurons=10), 0, "float64"),
                    RunConfig(dtype="float64"))
    assert sim.state.v.dtype == np.float64


def test_whatwhen_trial_progress_prints_lines_without_a_terminal(monkeypatch, capsys):
    import sys
    from neurosim.experiments import whatwhen
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    bar = whatwhen._progress("tqdm", 50)
    for _ in range(50):
        bar(1)
    bar.close()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "5 of about 50 trials" and lines[-1] == "50 of about 50 trials"
    assert len(lines) == 10 and "\r" not in "".join(lines)


def test_backend_options_are_checked_by_name():
    with pytest.raises(ConfigError, match=r"backend 'numba' takes no option\(s\) \['threads'\]"):
        get_backend("numba", threads=2)
    with pytest.raises(ConfigError, match=r"'cuda' takes no option\(s\) \['block'\]; it accepts: threads"):
        get_backend("cuda", block=4)


def test_rls_placement_on_the_device_is_checked_and_sized():
    """Where the cuda backend runs an RLS update (``gpu.rls_fused``): the mode is checked by
    name, and "auto" fuses a small P without asking a device (none here)."""
    from neurosim.gpu import FUSED_RLS_MAX_BYTES, rls_fused
    with pytest.raises(ConfigError, match=r"rls = 'inline': must be one of auto, fused, split"):
        rls_fused("inline", 1, 10, 8)
    assert rls_fused("fused", 1, 10_000, 8) is True
    assert rls_fused("split", 512, 10, 8) is False
    side = int((FUSED_RLS_MAX_BYTES / 8) ** 0.5)
    assert rls_fused("auto", 1, side, 8) is True           # P of 2 MiB: fused
    assert rls_fused("auto", 1, int(side * 2 ** 0.5), 4) is True   # float32 fits as well
    from neurosim.config import NetworkConfig, RunConfig
    from neurosim.replicates import run_replicates
    with pytest.raises(ConfigError, match=r"rls = 'fast'"):          # also off the GPU
        run_replicates(NetworkConfig(n_neurons=8), RunConfig(duration_ms=2.0), [0],
                       backend="numba", rls="fast")
