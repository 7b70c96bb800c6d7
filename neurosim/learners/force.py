"""FORCE: recursive least squares on the readout (Sussillo & Abbott 2009; Nicola & Clopath 2017).

Every ``rls_every`` gated steps, with the error taken before the update,
``k = P x; c = 1 / (lam + x.k); P <- (P - c k k^T) / lam; W <- W - c err k^T``
(exact exponentially weighted RLS, see ``kernels/rls.py``), P(0) = I / alpha.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..config import check_range
from ..kernels.records import Readout
from ..kernels.rls import rls_init
from ..simulator import new_readout
from .base import Learner, register


@register
@dataclasses.dataclass(frozen=True)
class Force(Learner):
    """RLS readout.

    Parameters
    ----------
    alpha : float
        P(0) = I / alpha (the ridge strength of the implied regression).
    rls_every : int
        Update every this many gated steps.
    forgetting : float
        Forgetting factor lambda in (0, 1]; 1 = no forgetting.
    online_outputs : tuple of int or None
        Outputs trained online (default all).
    """
    name = "force"
    alpha: float = 1.0
    rls_every: int = 20
    forgetting: float = 1.0
    online_outputs: tuple | None = None

    def __post_init__(self):
        check_range("force.alpha", self.alpha, 0, lo_open=True)
        check_range("force.rls_every", self.rls_every, 1)
        check_range("force.forgetting", self.forgetting, 0, 1, lo_open=True)

    def init_state(self, n_features, n_outputs, n_neurons, dtype, dt_ms, encoders=None) -> Readout:
        online = None
        if self.online_outputs is not None:
            online = np.zeros(n_outputs)
            online[list(self.online_outputs)] = 1.0
        return new_readout(n_outputs, n_features, n_neurons, dtype, rule="rls",
                           lam=self.forgetting, rls_every=self.rls_every, dt_ms=dt_ms,
                           online=online, P=rls_init(n_features, self.alpha, dtype),
                           encoders=encoders)

    def reset(self, readout: Readout, scope: str = "all") -> None:
        """P <- P(0) = I / alpha (weights are kept)."""
        readout.P[:] = rls_init(readout.P.shape[0], self.alpha, readout.P.dtype)
