"""The error-modulated, attention-gated three-factor rule of the what/when model (MODEL.md).

Online "when" (inside the compiled loop, every gated step):
``e = T_when - z_when; elig = elig * exp(-dt/tau_e) + x; W_when += eta * g * e * elig``
with ``eta = eta0 * 1e-3 / <|x|^2>``, the mean over gated steps so far (constant rate: no
decay, which would destroy re-adaptation). The per-synapse update is the local rule
``"online"`` (:func:`update`, registered here with ``kernels.plugins.register_rule`` and
compiled into every backend's loop); it reads the rate from ``readout.hyper[0]``, which
:meth:`ThreeFactor.before_chunk` sets (``new_readout(eta=...)`` puts ``eta`` there too).
The eligibility trace is kept by the kernel for every rule (``Readout.e_decay``).

Offline "what" (``consolidate``, once per trial, in the inter-trial interval):
``xbar = mean of x over the tag window [cue, cue + shortest latency)``,
``y = W_what xbar; W_what += eta_what * (Y - y) xbar`` with
``eta_what = eta_what0 / <|xbar|^2>`` and Y the one-hot identity of the trial.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from numba.extending import register_jitable

from ..config import check_range
from ..kernels.plugins import register_rule
from ..kernels.records import Readout
from ..simulator import new_readout
from .base import Learner, normalised_rate, register


@register_jitable
def update(w, s, x, elig, z, e, g, h):
    """One synapse, one gated step of rule ``"online"``: ``(w + eta g e elig, s)`` with
    ``eta = h[0]`` (evaluated as ``w + ((eta * g) * e) * elig``, the order of every earlier
    version of the kernels, so results keep their bits)."""
    return w + ((h[0] * g) * e) * elig, s


register_rule("online", update, __file__)


@register
@dataclasses.dataclass(frozen=True)
class ThreeFactor(Learner):
    """Three-factor readout learner: output 0 learns online ("when"), outputs 1.. offline ("what").

    Parameters
    ----------
    eta0 : float
        Online rate scale; eta = eta0 * 1e-3 / <|x|^2> (dimensionless per step).
    tau_e_ms : float
        Eligibility time constant in ms (0: elig = x).
    eta_what0 : float
        Offline rate scale; eta_what = eta_what0 / <|xbar|^2>.
    what_on_omission : bool
        Also consolidate "what" on omission trials (towards Y = 0). Off by default, so that
        the what readouts estimate P(identity | cue, stimulus) and "when" carries P(stimulus).
    offline : bool
        Run the offline "what" consolidation at all (the R9 ablation switches it off).
    """
    name = "three_factor"
    eta0: float = 40.0
    tau_e_ms: float = 0.0
    eta_what0: float = 0.15
    what_on_omission: bool = False
    offline: bool = True

    def __post_init__(self):
        check_range("three_factor.eta0", self.eta0, 0)
        check_range("three_factor.tau_e_ms", self.tau_e_ms, 0)
        check_range("three_factor.eta_what0", self.eta_what0, 0)

    def init_state(self, n_features, n_outputs, n_neurons, dtype, dt_ms) -> Readout:
        return self.build_readout(n_features, n_outputs, n_neurons, dtype, dt_ms, "online")

    def build_readout(self, n_features, n_outputs, n_neurons, dtype, dt_ms, rule) -> Readout:
        """Zero readout whose output 0 learns in the kernel by ``rule``, eligibility from tau_e."""
        online = np.zeros(n_outputs)
        online[0] = 1.0
        e_decay = math.exp(-dt_ms / self.tau_e_ms) if self.tau_e_ms > 0 else 0.0
        return new_readout(n_outputs, n_features, n_neurons, dtype, rule=rule,
                           eta=0.0, e_decay=e_decay, dt_ms=dt_ms, online=online)

    def before_chunk(self, readout: Readout, chunk) -> Readout:
        """Set eta (``hyper[0]``, in place) from the mean squared feature norm over the gated
        steps seen so far (0 before the first gated step)."""
        readout.hyper[0] = normalised_rate(readout, self.eta0)
        return readout

    def consolidate(self, readout: Readout, chunk, result) -> None:
        """Offline "what" update from this trial's tag (features averaged over the tag window)."""
        n_tag = readout.counters[1]
        if n_tag == 0:
            return
        xbar = readout.tag_sum / n_tag
        readout.tag_sum[:] = 0.0
        readout.counters[1] = 0
        labels = np.asarray(chunk.target[0, 1:], dtype=np.float64)
        occurred = bool(labels.sum() > 0)
        readout.fsums[2] += float(xbar @ xbar)  # running <|xbar|^2> for the offline rate
        readout.fsums[3] += 1.0
        if not self.offline or not (occurred or self.what_on_omission):
            return
        eta_what = self.eta_what0 / (readout.fsums[2] / readout.fsums[3])
        W_what = readout.W[1:]
        y = W_what @ xbar
        W_what += (eta_what * np.outer(labels - y, xbar)).astype(W_what.dtype)
