"""Oja's rule on a readout: a local Hebbian rule with a normalising decay (Oja 1982).

At every gated step, inside the compiled loop, for every online output k and feature j:
``W_kj += eta * g * z_k * (x_j - z_k * W_kj)``, with ``z_k = W_k . x`` the readout's output,
``g`` the attention gate and ``eta = eta0 * 1e-3 / <|x|^2>`` (the mean squared feature norm
over the gated steps so far, as for the three-factor rule). The Hebbian term ``z x`` turns
``W_k`` towards the leading principal direction of the gated features, the decay
``-z^2 W`` holds ``|W_k|`` at 1. Unsupervised: no target, no error. A zero weight vector
is a fixed point, so the weights start as a seeded random unit vector per output.

This file is the whole rule: hyper-parameters, the per-synapse update (compiled for every
backend from :func:`update`, see :mod:`neurosim.kernels.plugins`), the rate before a chunk,
and the reset. Its state is the readout's ``W`` (checkpointed with the readout).
"""
from __future__ import annotations

import dataclasses

import numpy as np
from numba.extending import register_jitable

from ..config import check_range
from ..kernels.plugins import register_rule
from ..kernels.records import Readout
from ..simulator import new_readout
from .base import Learner, normalised_rate, register


@register_jitable
def update(w, s, x, elig, z, e, g, h):
    """One synapse, one gated step: ``(w + eta g z (x - z w), s)`` with ``eta = h[0]``."""
    return w + ((h[0] * g) * z) * (x - z * w), s


register_rule("oja", update, __file__)


@register
@dataclasses.dataclass(frozen=True)
class Oja(Learner):
    """Oja's rule on every output of a readout.

    Parameters
    ----------
    eta0 : float
        Rate scale: eta = eta0 * 1e-3 / <|x|^2> per step (dimensionless).
    init_seed : int
        Seed of the initial weights (unit vectors, one per output).
    """
    name = "oja"
    eta0: float = 1.0
    init_seed: int = 0

    def __post_init__(self):
        check_range("oja.eta0", self.eta0, 0)
        check_range("oja.init_seed", self.init_seed, 0)

    def init_state(self, n_features, n_outputs, n_neurons, dtype, dt_ms) -> Readout:
        W = self._initial_weights(n_outputs, n_features)
        return new_readout(n_outputs, n_features, n_neurons, dtype, rule="oja", dt_ms=dt_ms,
                           W=W)

    def _initial_weights(self, n_outputs, n_features) -> np.ndarray:
        W = np.random.default_rng(self.init_seed).standard_normal((n_outputs, n_features))
        return W / np.linalg.norm(W, axis=1, keepdims=True)

    def before_chunk(self, readout: Readout, chunk) -> Readout:
        """Set eta (``hyper[0]``) from the mean squared feature norm over gated steps so far
        (no learning until a gated step was seen)."""
        readout.hyper[0] = normalised_rate(readout, self.eta0)
        return readout

    def reset(self, readout: Readout, scope: str = "all") -> None:
        """Weights back to their seeded initial unit vectors."""
        readout.W[:] = self._initial_weights(*readout.W.shape)
