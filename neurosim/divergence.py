"""Divergence errors: a run whose neuron or readout became NaN or infinite, said in the
user's terms (the step and time, the neuron or readout output, and the run's values of the
settings likely responsible). The kernels find the step (``Recording.fault``); the
simulator and ``run_replicates`` raise what this module builds.
"""
from __future__ import annotations

import numpy as np

from .kernels.records import CODES


_NEURON_CAUSE = ("the integration diverged; likely too strong coupling or input for this "
                 "step (network.weight_excitatory / weight_inhibitory / gaussian_gain, input "
                 "amplitudes, network.noise_*, run.dt_ms)")
_READOUT_CAUSE = ("the readout's learning diverged; its rate is too large for these features "
                  "(learner.eta0 for the three-factor rule, force.alpha for RLS)")


def neuron_cause(net_cfg, dt_ms: float) -> str:
    """The likely cause of a diverged neuron, with this run's values of the config keys."""
    keys = [f"network.weight_excitatory = {net_cfg.weight_excitatory:g}",
            f"network.weight_inhibitory = {net_cfg.weight_inhibitory:g}"]
    if net_cfg.weight_distribution == "gaussian":
        keys.append(f"network.gaussian_gain = {net_cfg.gaussian_gain:g}")
    keys += [f"network.noise_excitatory = {net_cfg.noise_excitatory:g}",
             f"network.noise_inhibitory = {net_cfg.noise_inhibitory:g}"]
    keys += [f"inputs[{ch.name}].amplitude = {ch.amplitude:g}" for ch in net_cfg.inputs]
    keys.append(f"run.dt_ms = {dt_ms:g}")
    return f"{_NEURON_CAUSE}; here {', '.join(keys)}"


def rule_name(code: int) -> str:
    """The name of readout rule ``code`` (built-in or registered plug-in), else ``"?"``."""
    from .kernels import plugins
    names = {v: k for k, v in CODES["rule"].items()}
    names.update({r.code: r.name for r in plugins.RULES.values()})
    return names.get(int(code), "?")


def readout_cause(readout) -> str:
    """The likely cause of a diverged readout output, with the rate in use."""
    rule = rule_name(readout.rule)
    rate = (f"; here rule {rule!r} with the per-step rate eta = {float(readout.hyper[0]):g}"
            if rule == "online" else f"; here rule {rule!r}")
    return _READOUT_CAUSE + rate


def divergence_error(kind: int, index: int, step: int, dt_ms: float, W=None, names=None,
                     where: str = "", cause: str | None = None) -> "DivergenceError":
    """The :class:`DivergenceError` of a kernel's ``Recording.fault`` (kind 0: neuron
    ``index``'s v not finite; kind 1: readout output ``index`` not finite) at global step
    ``step``. ``W``: the readout weights (to name a non-finite one), ``names``: the readout
    outputs' names, ``where``: a prefix such as "replicate seed 3: ", ``cause``: the likely
    cause with the run's values (:func:`neuron_cause`, :func:`readout_cause`; default the
    generic text)."""
    at = f"step {step} (t = {step * dt_ms:g} ms)"
    if kind == 0:
        return DivergenceError(
            step, f"{where}non-finite membrane potential of neuron {index} at {at} (the lowest "
            f"such neuron); the run stopped there, before recording this step: "
            f"{cause or _NEURON_CAUSE}")
    name = f" {names[index]!r}" if names is not None and index < len(names) else ""
    bad_w = (np.flatnonzero(~np.isfinite(np.asarray(W)[index])) if W is not None
             else np.zeros(0, int))
    weight = (f"non-finite readout weight W[{index}, {bad_w[0]}] (output {index})" if bad_w.size
              else f"output {index} overflowed (its weights are finite but too large)")
    return DivergenceError(
        step, f"{where}readout output {index}{name} diverged at {at}; the run stopped there, "
        f"before recording this step; {weight}, its output is non-finite from step {step}: "
        f"{cause or _READOUT_CAUSE}")


class DivergenceError(FloatingPointError):
    """A state variable or readout weight became NaN or infinite; the message names which,
    where (neuron or readout index, steps) and the config values likely responsible.
    ``step``: the global step at which the kernel found v or a readout output non-finite
    (the run stopped there; the steps before it are recorded), or, for the end-of-chunk
    backstop, the chunk's first step."""

    def __init__(self, step: int, message: str):
        super().__init__(message)
        self.step = int(step)

    def __reduce__(self):   # picklable across process pools
        return (DivergenceError, (self.step, str(self)))
