"""CI-sized what/when reproduction (N = 300): timing (R2), probability (R4), switch (R7).

The full criteria run in ``neurosim run whatwhen`` (N = 1000) and in the slow tests.
Thresholds here are MODEL.md's; sizes are reduced (fewer trials, smaller reservoir).
"""
import pytest

from neurosim.analysis.whatwhen import anticipatory_amplitude
from neurosim.experiments.common import network_and_run, resolve
from neurosim.experiments.whatwhen import DEFAULT_CONFIG, _single_channel_network, _specs
from neurosim.experiments.whatwhen_criteria import _r4, _eval_trials, when_specificity
from neurosim.experiments.whatwhen_phases import run_phase
from neurosim.learners import make_learner
from neurosim.network import build_network

SMALL = {"network": {"n_neurons": 300},
         "paradigm": {"main_trials": [160, 10], "probability_trials": 60,
                      "switch_trials": [150, 60]}}


def _setup(seed):
    cfg = resolve(DEFAULT_CONFIG, SMALL)
    net_cfg, run_cfg = network_and_run(cfg)
    specs = _specs(cfg["paradigm"], run_cfg.dt_ms)
    learner_cfg = dict(cfg["learner"])
    learner = make_learner(learner_cfg.pop("name"), **learner_cfg)
    return net_cfg, run_cfg, specs, learner


@pytest.mark.parametrize("seed", [0, 1])
def test_probability_and_switch(seed):
    net_cfg, run_cfg, specs, learner = _setup(seed)
    net = build_network(_single_channel_network(net_cfg), seed, run_cfg.dtype)
    prob = run_phase(net, run_cfg, specs["probability"], learner, seed + 1)
    levels, amps, gain, fit, _ = _r4(prob, specs["probability"], run_cfg.dt_ms)
    assert fit["r"] >= 0.95, (levels, amps)
    assert 0.8 <= fit["slope"] <= 1.2, fit
    assert gain >= 0.2, gain
    switch = run_phase(net, run_cfg, specs["switch"], learner, seed + 1)
    n1 = specs["switch"].blocks[0].n_trials
    post = anticipatory_amplitude(switch.z0[n1 + 25:n1 + 56, :, 0], 600.0, run_cfg.dt_ms)
    assert abs(post.mean() / gain - 0.2) <= 0.1, post.mean() / gain


def test_timing_peaks_on_stimulus_trials():
    seed = 0
    net_cfg, run_cfg, specs, learner = _setup(seed)
    net = build_network(net_cfg, seed, run_cfg.dtype)
    main = run_phase(net, run_cfg, specs["main"], learner, seed + 1)
    trials = _eval_trials(main.table, 0)
    for row in when_specificity(main, trials, specs["main"].blocks[0].latencies_ms,
                                run_cfg.dt_ms):
        assert abs(row["peak_ms"] - row["latency_ms"]) <= 50.0, row


@pytest.mark.parametrize("latencies", [(350.0, 650.0), (500.0, 900.0)])
def test_sharper_r2_at_latencies_that_were_not_defaults(latencies):
    """R2 as the main job judges it: a peak within 50 ms of each latency, and nothing away
    from both latencies higher than 2/3 of that peak (cue transient excluded).

    N = 500: at N = 300 the 900 ms bump is not specific enough (ratio 0.66-0.83 on seeds
    0-2, 160 or 240 trials); at N = 500 both pairs measured 0.48-0.61 on seeds 0-2."""
    seed = 0
    cfg = resolve(DEFAULT_CONFIG, dict(SMALL, network={"n_neurons": 500}, paradigm=dict(
        SMALL["paradigm"], latencies_ms=list(latencies), switched_latency_ms=latencies[0])))
    net_cfg, run_cfg = network_and_run(cfg)
    specs = _specs(cfg["paradigm"], run_cfg.dt_ms)
    learner_cfg = dict(cfg["learner"])
    learner = make_learner(learner_cfg.pop("name"), **learner_cfg)
    main = run_phase(build_network(net_cfg, seed, run_cfg.dtype), run_cfg, specs["main"],
                     learner, seed + 1)
    rows = when_specificity(main, _eval_trials(main.table, 0), latencies, run_cfg.dt_ms)
    for row in rows:
        assert abs(row["peak_ms"] - row["latency_ms"]) <= 50.0, rows
        assert row["ratio"] <= 2.0 / 3.0, rows


def test_probability_switch_upward():
    """R7 in the upward direction, 0.3 -> 0.7: within 0.1 of 0.7 over trials +25..+55."""
    seed = 0
    cfg = resolve(DEFAULT_CONFIG, dict(SMALL, paradigm=dict(
        SMALL["paradigm"], switch_probabilities=[0.3, 0.7])))
    net_cfg, run_cfg = network_and_run(cfg)
    specs = _specs(cfg["paradigm"], run_cfg.dt_ms)
    learner_cfg = dict(cfg["learner"])
    learner = make_learner(learner_cfg.pop("name"), **learner_cfg)
    net = build_network(_single_channel_network(net_cfg), seed, run_cfg.dtype)
    _, _, gain, _, _ = _r4(run_phase(net, run_cfg, specs["probability"], learner, seed + 1),
                           specs["probability"], run_cfg.dt_ms)
    switch = run_phase(net, run_cfg, specs["switch"], learner, seed + 1)
    n1 = specs["switch"].blocks[0].n_trials
    post = anticipatory_amplitude(switch.z0[n1 + 25:n1 + 56, :, 0], 600.0, run_cfg.dt_ms)
    assert abs(post.mean() / gain - 0.7) <= 0.1, post.mean() / gain
