"""Strict configs: unknown keys, wrong kinds and non-finite values are errors naming the key,
with exit code 2 from the CLI, no traceback, and the output file untouched."""
import json

import pytest

from neurosim.cli import main
from neurosim.config import ConfigError
from neurosim.config_check import check_config
from neurosim.experiments import get_experiment
from neurosim.experiments.common import resolve

EXPERIMENTS = ("whatwhen", "whatwhen_robustness", "continual", "force_sinusoid",
               "izhikevich2003")


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_default_config_passes_its_own_check(name):
    default = get_experiment(name).DEFAULT_CONFIG
    assert resolve(default, json.loads(json.dumps(default))) == json.loads(json.dumps(default))


# (experiment, --set arguments, text the error must contain)
BAD = [
    ("whatwhen", ["n_neurons=50"], "unknown section 'n_neurons'"),
    ("whatwhen", ["bogus.x=1"], "unknown section 'bogus'"),
    ("whatwhen", ["paradigm.typo=1"], "unknown key 'paradigm.typo'"),
    ("whatwhen", ["paradigm.lattencies_ms=[300, 600]"], "did you mean 'latencies_ms'"),
    ("whatwhen", ["=5"], "override '=5'"),
    ("whatwhen", ["network=5"], "network = 5 is invalid: must be a table"),
    ("whatwhen", ["paradigm=[1]"], "paradigm = [1] is invalid: must be a table"),
    ("whatwhen", ["paradigm.p_stimulus=Infinity"], "paradigm.p_stimulus = inf"),
    ("whatwhen", ["paradigm.p_stimulus=NaN"], "paradigm.p_stimulus = nan"),
    ("whatwhen", ["force.in_main=1"], "force.in_main = 1 is invalid: must be true or false"),
    ("whatwhen", ['force.in_main="yes"'], "force.in_main = 'yes'"),
    ("whatwhen", ["compare.seeds=2.5"], "compare.seeds = 2.5 is invalid: must be an integer"),
    ("whatwhen", ['paradigm.latencies_ms=[400, "a"]'], "paradigm.latencies_ms[1] = 'a'"),
    ("whatwhen", ["paradigm.latencies_ms=400"], "paradigm.latencies_ms = 400"),
    ("whatwhen", ["learner.eta0=-1"], "learner.eta0 = -1"),
    ("whatwhen", ["learner.eta0=1e999"], "learner.eta0 = inf"),
    ("whatwhen", ["learner.bogus=1"], "learner: unknown hyper-parameter(s) ['bogus']"),
    ("whatwhen", ['learner.name="oja2"'], "learner.name = 'oja2' is unknown"),
    ("whatwhen", ["network.n_neuron=50"], "unknown key(s) ['n_neuron'] in network"),
    ("whatwhen", ["network.weight_excitatory=Infinity"], "network.weight_excitatory must be a finite"),
    ("whatwhen_robustness", ["robustness.seedz=2"], "did you mean 'seeds'"),
    ("whatwhen_robustness", ["robustness.workers=true"], "robustness.workers = True"),
    ("continual", ["continual.seeds=1.5"], "continual.seeds = 1.5"),
    ("continual", ["learners.ewc.bogus=1"], "learners.ewc: unknown hyper-parameter(s)"),
    ("continual", ["learners.classp.eta_w=-1"], "learners.classp.eta_w = -1"),
    ("continual", ["learners.sgd.eta0=1"], "unknown key 'learners.sgd'"),
    ("force_sinusoid", ["target.frequency=5"], "did you mean 'frequency_hz'"),
    ("force_sinusoid", ["protocol.train_ms=-Infinity"], "protocol.train_ms = -inf"),
    ("izhikevich2003", ["network.n_neurons=true"], "network.n_neurons"),
    ("izhikevich2003", ["network.n_neurons=1000000000000"], "more than 80 % of this machine"),
    # values that passed the kind check but made no sense, named by the user's key
    ("whatwhen", ["paradigm.p_stimulus=0"], "paradigm.p_stimulus = 0.0 is invalid"),
    ("whatwhen", ["paradigm.probability_levels=[0, 0]"], "paradigm.probability_levels"),
    ("whatwhen", ["paradigm.iti_ms=[500]"], "paradigm.iti_ms: "),
    ("whatwhen", ["paradigm.main_trials=[0, 60]"], "paradigm.main_trials[0] = 0 is invalid"),
    ("whatwhen", ["paradigm.cue_identity_probs=[[0.5, 0.6], [0.2, 0.8]]"],
     "paradigm.cue_identity_probs: "),
    ("whatwhen", ["paradigm.switch_trials=[10, 10, 10]"], "paradigm.switch_trials"),
    ("whatwhen", ["paradigm.probability_trials=0"], "paradigm.probability_trials = 0"),
    ("continual", ["continual.seeds=0"], "continual.seeds = 0 is invalid"),
    ("continual", ["continual.workers=0"], "continual.workers = 0 is invalid"),
]


@pytest.mark.parametrize("name,sets,message", BAD,
                         ids=[f"{n}:{s[0]}" for n, s, _ in BAD])
def test_bad_settings_end_in_a_clear_error(tmp_path, capsys, name, sets, message):
    out = tmp_path / "out.h5"
    out.write_bytes(b"earlier results")
    argv = ["run", name, "--out", str(out), "--quiet"]
    for s in sets:
        argv += ["--set", s]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurosim: error: ") and message in err
    assert "Traceback" not in err
    assert out.read_bytes() == b"earlier results"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5"]


@pytest.mark.parametrize("text,suffix,message", [
    ("[1, 2]", ".json", "must hold a table of sections, not list"),
    ('{"paradigm": ', ".json", "cannot be read"),
    ("x = = 1", ".toml", "cannot be read"),
    ("[bogus]\nx = 1\n", ".toml", "unknown section 'bogus'"),
    ("[paradigm]\np_stimulus = nan\n", ".toml", "paradigm.p_stimulus = nan"),
    ("n: 1", ".yaml", "unknown extension"),
])
def test_bad_config_files_are_named(tmp_path, capsys, text, suffix, message):
    path = tmp_path / f"cfg{suffix}"
    path.write_text(text)
    assert main(["run", "whatwhen", "--config", str(path), "--out",
                 str(tmp_path / "o.h5"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and (str(path) in err or "bogus" in err or "p_stimulus" in err)
    assert not (tmp_path / "o.h5").exists()


def test_a_directory_as_config_is_an_error(tmp_path, capsys):
    assert main(["run", "whatwhen", "--config", str(tmp_path), "--quiet"]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_values_take_the_default_kind():
    default = {"a": {"n": 3, "x": 1.5, "xs": [1.0, 2.0], "grid": [[1.0, 2.0]]}}
    got = check_config(default, {"a": {"n": 4.0, "x": 2, "xs": [3], "grid": [[1, 2], [3, 4]]}})
    assert got == {"a": {"n": 4, "x": 2.0, "xs": [3.0], "grid": [[1.0, 2.0], [3.0, 4.0]]}}
    assert type(got["a"]["n"]) is int and type(got["a"]["x"]) is float
    with pytest.raises(ConfigError, match=r"a.grid\[1\]\[0\] = 'b'"):
        check_config(default, {"a": {"grid": [[1, 2], ["b", 4]]}})
    with pytest.raises(ConfigError, match="a.n = True"):
        check_config(default, {"a": {"n": True}})


def test_flags_an_experiment_does_not_take_are_errors(capsys):
    assert main(["run", "izhikevich2003", "--compare", "force", "--quiet"]) == 2
    assert "--compare does not apply to 'izhikevich2003'" in capsys.readouterr().err


def test_resume_of_a_missing_file_creates_nothing(tmp_path, capsys):
    path = tmp_path / "missing.h5"
    assert main(["run", "izhikevich2003", "--resume", str(path), "--quiet"]) == 2
    assert "no such results file" in capsys.readouterr().err
    assert not path.exists()


def test_memory_guard_by_hand():
    from neurosim.config import NetworkConfig
    from neurosim.network import build_bytes, check_fits_memory
    dense = NetworkConfig(n_neurons=1000)
    assert build_bytes(dense) == 3 * 8 * 1000 ** 2
    assert build_bytes(NetworkConfig(n_neurons=1000, connection_probability=0.5)) == 32e6
    sparse = NetworkConfig(n_neurons=1000, connectivity="sparse", connection_probability=0.1)
    assert build_bytes(sparse) == 28 * 1000 ** 2 * 0.1 + 16 * 1000
    check_fits_memory(dense, total_bytes=30e6)           # 24 MB of 30: allowed
    with pytest.raises(ConfigError, match="network.n_neurons = 1000 .*--force"):
        check_fits_memory(dense, total_bytes=29e6)        # more than 80 % of it: refused


def test_force_builds_past_the_memory_guard_with_a_warning(monkeypatch, capsys):
    from neurosim.config import NetworkConfig
    from neurosim.network import FORCE_ENV, check_fits_memory
    monkeypatch.setenv(FORCE_ENV, "1")
    check_fits_memory(NetworkConfig(n_neurons=1000), total_bytes=29e6)
    assert "building it anyway (--force)" in capsys.readouterr().err


def test_the_cli_force_flag_lifts_the_guard(monkeypatch, tmp_path, capsys):
    """On a machine that reports 29 MB of memory, a 1000-neuron dense network (24 MB of
    weights) is refused with exit code 2 and nothing written; --force runs it."""
    import os
    from neurosim.cli import main
    from neurosim.network import FORCE_ENV
    monkeypatch.setenv(FORCE_ENV, "0")     # the guard on; restored after the test
    real = os.sysconf
    monkeypatch.setattr(os, "sysconf", lambda name: 29 * 10 ** 6 // 4096 if
                        name == "SC_PHYS_PAGES" else (4096 if name == "SC_PAGE_SIZE" else
                                                      real(name)))
    out = tmp_path / "x.h5"
    args = ["run", "izhikevich2003", "--set", "network.n_neurons=1000", "--set",
            "run.duration_ms=50", "--quiet", "--out", str(out), "--figure",
            str(tmp_path / "x.png")]
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err and not out.exists()
    assert main(args + ["--force"]) == 0
    assert "building it anyway" in capsys.readouterr().err and out.exists()


def _leaves(tree, prefix=""):
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            yield from _leaves(value, path)
        else:
            yield path, value


def _fuzz_cases():
    """Every setting of every experiment's default config, with values of the wrong kind."""
    for name in EXPERIMENTS:
        default = get_experiment(name).DEFAULT_CONFIG
        for path, value in _leaves(default):
            if path.startswith(("network.inputs", "learner.name")):
                continue                    # a list of records / a registry name: own tests
            bad = ['"abc"', "NaN", "Infinity", "{}"]
            if isinstance(value, bool):
                bad = ["1", '"true"', "{}"]
            elif isinstance(value, str):
                bad = ["1", "[1]", "{}"]
            elif isinstance(value, list):
                bad = ['"abc"', "{}"] + (['["abc"]'] if value and not isinstance(
                    value[0], (str, dict)) else [])
            if path == "learners.classp.theta":
                bad.remove("Infinity")      # infinity is allowed there: no update passes
            for text in bad:
                yield name, path, text


@pytest.mark.parametrize("name,path,text", list(_fuzz_cases()))
def test_fuzz_every_setting_with_values_of_the_wrong_kind(tmp_path, capsys, monkeypatch,
                                                         name, path, text):
    """No traceback, no silent acceptance: exit 2 and an error naming the user's key."""
    from neurosim.simulator import Simulator

    def accepted(*args, **kwargs):          # a value that got through: fail fast
        raise AssertionError(f"{path}={text} was accepted: a simulation started")
    monkeypatch.setattr(Simulator, "run_one_chunk", accepted)
    out = tmp_path / "o.h5"
    assert main(["run", name, "--set", f"{path}={text}", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurosim: error: ") and "Traceback" not in err
    assert path.split(".")[-1] in err, err
    assert not out.exists()


def _bounds_cases():
    """One value just outside the allowed interval of every bounded setting."""
    for name in ("whatwhen", "whatwhen_robustness", "continual", "force_sinusoid"):
        module = get_experiment(name)
        for path, (lo, hi, *flags) in module.BOUNDS.items():
            if "*" in path:
                continue
            default = module.DEFAULT_CONFIG
            for part in path.split("."):
                default = default[part]
            bad = (lo if "lo_open" in flags else lo - 1) if lo is not None else hi + 1
            if isinstance(default, list):
                text = json.dumps([type(default[0])(bad)] if not isinstance(default[0], list)
                                  else [[bad]])
            else:
                text = json.dumps(type(default)(bad))
            yield name, path, text


@pytest.mark.parametrize("name,path,text", list(_bounds_cases()))
def test_every_bounded_setting_refuses_a_value_outside_it(tmp_path, capsys, monkeypatch,
                                                          name, path, text):
    from neurosim.simulator import Simulator

    def accepted(*args, **kwargs):
        raise AssertionError(f"{path}={text} was accepted: a simulation started")
    monkeypatch.setattr(Simulator, "run_one_chunk", accepted)
    assert main(["run", name, "--set", f"{path}={text}", "--out", str(tmp_path / "o.h5"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert path.split(".")[-1] in err and "Traceback" not in err, err


def test_show_config_prints_the_checked_resolved_config(capsys):
    assert main(["run", "whatwhen", "--show-config", "--set", "learner.eta0=60",
                 "--seed", "4"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["learner"]["eta0"] == 60.0 and shown["run"]["seed"] == 4
    assert shown["paradigm"] == get_experiment("whatwhen").DEFAULT_CONFIG["paradigm"]
    assert main(["run", "whatwhen", "--show-config", "--set", "paradigm.typo=1"]) == 2


def test_choosing_another_learner_does_not_inherit_the_default_ones_settings():
    """`learner.name = "force"` in whatwhen: the three-factor defaults (eta0, eta_what0, ...)
    are not force's hyper-parameters and must not be reported as the user's mistake."""
    from neurosim.experiments.whatwhen import BOUNDS, DEFAULT_CONFIG
    cfg = resolve(DEFAULT_CONFIG, {"learner": {"name": "force", "alpha": 2.0}}, bounds=BOUNDS)
    assert cfg["learner"] == {"name": "force", "alpha": 2.0}
    # a setting the user gives that the chosen learner lacks is still named
    with pytest.raises(ConfigError, match=r"unknown hyper-parameter\(s\) \['eta0'\]"):
        resolve(DEFAULT_CONFIG, {"learner": {"name": "force", "eta0": 1.0}}, bounds=BOUNDS)
    # the default learner keeps its defaults under the user's changes
    assert resolve(DEFAULT_CONFIG, {"learner": {"eta0": 90.0}}, bounds=BOUNDS)["learner"] == \
        dict(DEFAULT_CONFIG["learner"], eta0=90.0)
