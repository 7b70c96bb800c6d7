"""CI-sized what/when reproduction (N = 300): timing (R2), probability (R4), switch (R7).

The full criteria run in ``neurosim run whatwhen`` (N = 1000) and in the slow tests.
Thresholds here are MODEL.md's; sizes are reduced (fewer trials, smaller reservoir).
"""
import numpy as np
import pytest

from neurosim.analysis.whatwhen import anticipatory_amplitude, mask_after_onset, masked_mean
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
