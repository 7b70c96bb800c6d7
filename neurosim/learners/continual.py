"""Continual-learning readout learners: ``plain_trial``, ``classp``, ``fast_slow``, ``ewc``.

Each is a modifier of the three-factor readout update (MODEL.md, CONTINUAL.md) applied
**per trial**: the readout runs with rule ``"accumulate"``, so the compiled kernel sums over
the gated steps of a trial ``U = sum_t g(t) e(t) elig(t) dt_ms`` for the online ("when")
output(s) and leaves ``W`` alone. That per-synapse sum is the local rule ``"accumulate"``
(:func:`update`, registered here with ``kernels.plugins.register_rule`` and compiled into
every backend's loop); it reads ``dt_ms`` from ``readout.hyper[1]``, where ``new_readout``
puts it for every rule. :meth:`consolidate` (called after every trial, in the
inter-trial interval) then applies the method's update with the compiled kernels of
:mod:`neurosim.kernels.continual`, zeroes ``U``, and runs the offline "what" update by
calling :meth:`ThreeFactor.consolidate` of an embedded :class:`ThreeFactor` (same rule, same
hyper-parameters ``eta_what0``, ``what_on_omission``, ``offline``). :meth:`end_block` (a
block boundary, offline) runs EWC's importance / anchor update and fast/slow's consolidation.

Learning rate (all four). ``eta = eta0 * 1e-3 / (<|x|^2> * dt_ms)`` with ``<|x|^2>`` the mean
squared feature norm over all gated steps so far (``readout.fsums``, including this trial).
Since ``U`` carries a factor ``dt_ms`` per step, ``eta * U`` is exactly the sum over the trial
of the per-step updates ``eta_step * g e elig`` of :class:`ThreeFactor` with the same
``eta0`` (``eta_step = eta0 * 1e-3 / <|x|^2>``), except that every step's error uses the
weights frozen at the start of the trial (batch instead of online gradient): plain_trial
equals the online rule to first order in eta. A batch step over ~1000 correlated steps is
less stable than the online one: it diverges when ``eta0 * 1e-3 * lambda_max / <|x|^2> > 2``
with lambda_max the top eigenvalue of the trial's gated feature Gram matrix. Measured on
the timing reservoir (N = 500), lambda_max / trace = 0.6 with the cue transient in the gate
(eta0 < 3.3) and 0.2 with the gate opening 100 ms after the cue (eta0 < ~10), against
eta0 = 80 for the online rule. Default ``eta0`` = 8.

Only the online rows of ``W`` (``online > 0``; the "when" output, row 0, in the what/when
readouts) go through the continual methods; the offline "what" rows follow ThreeFactor.
The online rows must be contiguous and first (rows ``0 .. n_online - 1``).

State. Learners are frozen dataclasses (hyper-parameters). Their per-readout state (G, F,
W*, W_slow, W_fast, ...) lives in one plain dict of numpy arrays, ``learner.state``, created
by :meth:`init_state` (attached with ``object.__setattr__``; a learner instance therefore
serves one readout at a time, and calling ``init_state`` again starts fresh). Counters are
0-d arrays in the same dict, so ``{k: v.copy() for k, v in learner.state.items()}`` is a full
checkpoint; :meth:`load_state` restores one in place.
"""
from __future__ import annotations

import abc
import dataclasses

import numpy as np
from numba.extending import register_jitable

from ..config import ConfigError, check_range
from ..kernels import continual as kc
from ..kernels.plugins import register_rule
from ..kernels.records import Readout
from .base import Learner, register
from .three_factor import ThreeFactor

__all__ = ["PlainTrial", "Classp", "FastSlow", "Ewc", "BlockAware"]


@register_jitable
def update(w, s, x, elig, z, e, g, h):
    """One synapse, one gated step of rule ``"accumulate"``: ``(w, s + g e dt_ms elig)`` with
    ``dt_ms = h[1]`` (evaluated as ``s + ((g * e) * dt_ms) * elig``, the order of every
    earlier version of the kernels, so results keep their bits). ``w`` is left alone."""
    return w, s + ((g * e) * h[1]) * elig


register_rule("accumulate", update, __file__)


class BlockAware:
    """Mixin: the optional block-boundary hook (a no-op unless a learner overrides it)."""

    def end_block(self, readout: Readout) -> None:
        """Offline consolidation at the end of a block of trials (default: nothing)."""


@dataclasses.dataclass(frozen=True)
class _TrialLearner(BlockAware, Learner):
    """Shared machinery: accumulate U per trial, apply it in ``consolidate``."""
    name = "_trial"
    eta0: float = 8.0
    tau_e_ms: float = 0.0
    eta_what0: float = 0.15
    what_on_omission: bool = False
    offline: bool = True
    compiled: bool = True          # False: use the numpy reference twins (tests)

    def __post_init__(self):
        check_range(f"{self.name}.eta0", self.eta0, 0)
        check_range(f"{self.name}.tau_e_ms", self.tau_e_ms, 0)
        check_range(f"{self.name}.eta_what0", self.eta_what0, 0)

    # ----------------------------------------------------------------- contract
    def init_state(self, n_features, n_outputs, n_neurons, dtype, dt_ms) -> Readout:
        readout = self._what().build_readout(n_features, n_outputs, n_neurons, dtype, dt_ms,
                                             "accumulate")
        shape = (1, n_features)
        state = {"n_trials": np.zeros((), np.int64), "block_trials": np.zeros((), np.int64),
                 "fraction_sum": np.zeros(())}
        state.update(self._new_state(shape, np.dtype(dtype)))
        object.__setattr__(self, "state", state)
        return readout

    def consolidate(self, readout: Readout, chunk, result) -> None:
        """Per-trial update of the online rows from ``U``, then the offline "what" update."""
        n_on = self._n_online(readout)
        if readout.fsums[1] > 0:
            eta = self.eta0 * 1e-3 / (readout.fsums[0] / readout.fsums[1]) / readout.dt_ms
            W, U = readout.W[:n_on], readout.U[:n_on]
            frac = self._apply(W, U, eta)
            readout.U[:] = 0
            st = self.state
            st["n_trials"][...] += 1
            st["block_trials"][...] += 1
            st["fraction_sum"][...] += frac
        self._what().consolidate(readout, chunk, result)

    def end_block(self, readout: Readout) -> None:
        self._end_block(readout.W[:self._n_online(readout)], int(self.state["block_trials"]))
        self.state["block_trials"][...] = 0

    def reset(self, readout: Readout, scope: str = "all") -> None:
        """Nothing is reset: these methods never need a reset at a switch."""

    def load_state(self, arrays: dict) -> None:
        """Copy a checkpoint of :attr:`state` back in place (same keys, shapes, dtypes)."""
        for k, v in self.state.items():
            np.copyto(v, np.asarray(arrays[k]))

    # ----------------------------------------------------------------- helpers
    def _kern(self, name):
        return getattr(kc, name if self.compiled else name + "_reference")

    def _what(self) -> ThreeFactor:
        return ThreeFactor(eta0=0.0, tau_e_ms=self.tau_e_ms, eta_what0=self.eta_what0,
                           what_on_omission=self.what_on_omission, offline=self.offline)

    @staticmethod
    def _n_online(readout):
        n_on = int(np.count_nonzero(readout.online > 0))
        if n_on != 1 or readout.online[0] <= 0:
            raise ConfigError("continual learners expect exactly one online output, row 0 "
                              f"(got online = {readout.online.tolist()})")
        return n_on

    def _new_state(self, shape, dtype) -> dict:
        return {}

    @abc.abstractmethod
    def _apply(self, W, U, eta) -> float:
        """Apply this method's per-trial update of W from U; return the fraction updated."""

    def _end_block(self, W, n_trials) -> None:
        pass


@register
@dataclasses.dataclass(frozen=True)
class PlainTrial(_TrialLearner):
    """The plain three-factor rule applied once per trial: ``W += eta U`` (the neutral reference)."""
    name = "plain_trial"

    def _apply(self, W, U, eta):
        self._kern("plain_apply")(W, U, eta)
        return 1.0


@register
@dataclasses.dataclass(frozen=True)
class Classp(_TrialLearner):
    """CLASSP (Ludwig 2024) per trial, per-element mask (kernels.continual.classp_apply).

    ``mask = U*U > theta; G = gamma G + mask |U|^p; W += eta_w mask U / (eps + G)^(1/p)``.

    Parameters
    ----------
    eta_w : float
        Step in weight units (the first step of a synapse is ``eta_w * sign(U)`` for eps -> 0):
        CLASSP divides by the accumulated update magnitude, so ``eta0`` is not used here.
    theta : float
        Threshold on ``U**2``; with ``relative`` the factor c of ``(c * RMS(U))**2``.
    p, eps, gamma, relative : see :func:`neurosim.kernels.continual.classp_apply`
        (gamma < 1 is an accumulator leak: our extension, not the published rule).
    """
    name = "classp"
    eta_w: float = 1e-3
    theta: float = 1.0
    p: float = 1.0
    eps: float = 1e-8
    gamma: float = 1.0
    relative: bool = True

    def __post_init__(self):
        super().__post_init__()
        check_range("classp.eta_w", self.eta_w, 0)
        check_range("classp.theta", self.theta, 0, allow_inf=True)  # inf: no update passes
        check_range("classp.p", self.p, 0, lo_open=True)
        check_range("classp.eps", self.eps, 0)
        check_range("classp.gamma", self.gamma, 0, 1, lo_open=True)

    def _new_state(self, shape, dtype):
        return {"G": np.zeros(shape, dtype)}

    def _apply(self, W, U, eta):
        return float(self._kern("classp_apply")(W, U, self.state["G"], self.eta_w, self.theta,
                                                self.p, self.eps, self.gamma, self.relative))


@register
@dataclasses.dataclass(frozen=True)
class Ewc(_TrialLearner):
    """EWC (Kirkpatrick 2017) per trial: ``W += eta (U - lam F (W - W*))``; online variant.

    At each block end: ``F = gamma F + mean over the block's trials of U**2``, ``W* = W``.
    The penalty strength is given dimensionless, ``pull``: at each block end
    ``lam = pull / (eta * max F)`` (eta the current per-trial rate), so the strongest
    synapse is pulled back by the fraction ``pull`` of its distance to W* per trial and the
    explicit step stays stable (it diverges when ``eta lam F >= 2``). ``pull = 0`` (lam = 0)
    is plain_trial bitwise.
    """
    name = "ewc"
    pull: float = 0.5
    gamma: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        check_range("ewc.pull", self.pull, 0, 2, hi_open=True)
        check_range("ewc.gamma", self.gamma, 0, 1)

    def _new_state(self, shape, dtype):
        return {"F": np.zeros(shape, dtype), "W_star": np.zeros(shape, dtype),
                "F_acc": np.zeros(shape, dtype), "lam": np.zeros(()), "eta": np.zeros(())}

    def _apply(self, W, U, eta):
        st = self.state
        st["eta"][...] = eta
        self._kern("ewc_apply")(W, U, st["F"], st["W_star"], st["F_acc"], eta, float(st["lam"]))
        return 1.0

    def _end_block(self, W, n_trials):
        st = self.state
        self._kern("ewc_consolidate")(W, st["W_star"], st["F"], st["F_acc"], n_trials, self.gamma)
        fmax, eta = float(np.max(st["F"])), float(st["eta"])
        st["lam"][...] = self.pull / (eta * fmax) if self.pull > 0 and fmax > 0 and eta > 0 else 0.0


@register
@dataclasses.dataclass(frozen=True)
class FastSlow(_TrialLearner):
    """Fast/slow weights: effective ``W = W_slow + W_fast`` (readout.W holds the effective
    weights the kernel uses; W_slow and W_fast live in :attr:`state`).

    Per trial (only the fast weights learn): ``W_fast += eta_fast (U - lam I (W_fast -
    anchor)); W_fast -= decay (W_fast - anchor)`` with ``eta_fast = fast_rate * eta``; the
    anchor (the fast weights' rest state) is zero, so the decay and the pull draw the
    effective readout toward the slow weights. Per block end (offline): ``W_slow += beta
    delta``, ``W_fast -= beta delta`` (delta = ``W_fast - anchor``; the effective readout is
    unchanged), importance update (``I = gamma I + mean U**2``) and ``lam = pull / (eta_fast *
    max I)`` (as in :class:`Ewc`). So a fraction ``beta`` of what a block learned becomes
    slow and stays; the rest decays by ``decay`` per trial in the following blocks.

    ``beta = pull = decay = 0`` and ``fast_rate = 1`` is plain_trial bitwise; ``beta = 1``,
    ``decay = 0``, ``fast_rate = 1`` is online EWC on the effective weights (same trajectory
    as :class:`Ewc` with the same ``pull``, up to rounding: the old defaults).

    Defaults (``fast_rate = 1.25, beta = 0.8, decay = 0.01, pull = 0.5``), measured on the
    continual comparison (N = 500, A B A B x 80 trials, eta0 = 8, pull 0.5; seeds 0-2 unless
    stated; 2026-12-02). ``fast_rate`` 2 made seed 0 degenerate (task B's score clipped at 1,
    task A at 0 from block 1 on: the per-trial batch step fails somewhere between eta0 *
    fast_rate = 12 and 16 here; estimate ~10 in the module docstring); 1.5 and 1.25 ran on
    every seed with the same ACC (0.21 vs 0.20 at beta 0.5, decay 0.01), so 1.25 (eta0 *
    fast_rate = 10) keeps the margin. ``decay`` 0.01 is a time constant of ~100 trials,
    about one block (80): 0.05 cut ACC to 0.13-0.16 (seeds 0-1; 0.23 without decay), 0.02
    cost 0.02, 0.005 gained 0.01 with a BWT 0.03 worse. ``beta`` 0.8 beat 0.5 on ACC (0.23
    vs 0.20) and BWT (-0.20 vs -0.23). None of these settings raised ACC over plain_trial
    (0.26) or EWC (0.25) on this protocol.
    """
    name = "fast_slow"
    fast_rate: float = 1.25
    beta: float = 0.8
    pull: float = 0.5
    decay: float = 0.01
    gamma: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        check_range("fast_slow.fast_rate", self.fast_rate, 0)
        check_range("fast_slow.beta", self.beta, 0, 1)
        check_range("fast_slow.pull", self.pull, 0, 2, hi_open=True)
        check_range("fast_slow.decay", self.decay, 0, 1)
        check_range("fast_slow.gamma", self.gamma, 0, 1)

    def _new_state(self, shape, dtype):
        z = lambda: np.zeros(shape, dtype)  # noqa: E731
        return {"W_slow": z(), "W_fast": z(), "anchor": z(), "importance": z(),
                "importance_acc": z(), "lam": np.zeros(()), "eta": np.zeros(())}

    def _apply(self, W, U, eta):
        st = self.state
        eta_f = self.fast_rate * eta
        st["eta"][...] = eta_f
        self._kern("fast_slow_apply")(st["W_fast"], U, st["anchor"], st["importance"],
                                      st["importance_acc"], eta_f, float(st["lam"]), self.decay)
        self._kern("fast_slow_effective")(st["W_slow"], st["W_fast"], W)
        return 1.0

    def _end_block(self, W, n_trials):
        st = self.state
        self._kern("fast_slow_consolidate")(st["W_slow"], st["W_fast"], st["anchor"],
                                            st["importance"], st["importance_acc"], n_trials,
                                            self.beta, self.gamma)
        self._kern("fast_slow_effective")(st["W_slow"], st["W_fast"], W)
        imax, eta = float(np.max(st["importance"])), float(st["eta"])
        st["lam"][...] = self.pull / (eta * imax) if self.pull > 0 and imax > 0 and eta > 0 else 0.0
