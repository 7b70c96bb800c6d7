"""``kappatune``: per-trial readout update restricted to the best-conditioned modules.

KappaTune (condition-number-based selection of the parameter tensors to adapt): the
parameters are grouped into modules; for a new task only the fraction ``kappa_fraction`` of
modules with the lowest condition number stays plastic, the rest is frozen, on the idea
that well-conditioned (isotropic) modules are less specialised, so adapting them disturbs
the old tasks less. The published rule measures the condition number of each pretrained
weight *matrix*; here the "when" readout is one row, so a module's weight block is a
vector (one singular value, condition number 1 for every module) and the condition number
is measured on the new task's **data** instead.

Modules. The feature vector is ``[fast_0 .. fast_{N-1}, slow_0 .. slow_{N-1}, bias]``
(``simulator.n_features``: the 20 ms and 200 ms filtered spike trains of every neuron, the
slow bank optional, then a constant). ``group = "bank"`` (default): a module is one bank's
features of ``module_size`` consecutive neurons (N = 400, size 25: 16 fast + 16 slow
modules of 25 features), so a module mixes neither time scales (the banks differ in
correlation time by 10x, which is what sets their conditioning) nor distant neurons;
``group = "neuron"``: both banks of ``module_size`` consecutive neurons (2 * size
features), the unit-centred view. Consecutive ids are a random sample of the reservoir
(cues go to random subsets), E first then I, so a block is homogeneous in type. A last,
shorter block takes the remaining neurons. The bias feature belongs to no module and is
always plastic (its second moment is one number).

Condition number. For module m, ``G_m = sum_t g(t) x_m(t) x_m(t)^T`` over the first trial
of the new task (gate ``g``: the steps the update sums over; features are already centred
by their running mean). ``G_m`` is the Hessian of the trial's squared error restricted to
the module, so ``kappa_m = lambda_max / lambda_min`` is the module's conditioning *for
this task's learning*. ``lambda_min`` is floored at ``1e-12 lambda_max``, so a module with
a silent neuron (a zero row) ranks after every full-rank one; ties keep module order.

When. At the first trial of every block (``select = "switch"``; the experiment calls
:meth:`end_block` at each block boundary, which arms the next selection, and feeds the
block's first trial's features through :meth:`observe_features`, from
``Simulator.run_one_chunk_features``), or only at the first block (``"once"``). The
selection is made before that trial's update is applied, so every update of a block uses
the block's selection. Under ``scole`` a block mixes tasks and the first trial's task
decides.

Per trial: ``W += eta * mask * U`` (``mask`` 1 on the plastic modules and the bias),
``eta`` as :class:`~neurosim.learners.continual.PlainTrial`. ``kappa_fraction = 1`` is
plain_trial bitwise. State (``learner.state``): ``plastic`` (n_modules,), ``kappa``
(n_modules,) of the last selection, ``pending``, ``n_selections``; every selection is also
appended to :attr:`selections` (block, kappa, plastic), for analysis (not checkpointed).

Memory: ``G_m`` is ``module features`` floats per synapse during the selection (this
implementation replays the whole trial's features, n_steps floats per synapse, transiently;
an online accumulation needs only ``G_m``); between selections one flag per module.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..config import ConfigError, check_choice, check_range
from .base import register
from .continual import _TrialLearner

__all__ = ["KappaTune", "module_layout", "module_kappas", "select_modules"]

GROUPS = ("bank", "neuron")
SELECT = ("switch", "once")
KAPPA_FLOOR = 1e-12


def module_layout(n_features: int, n_neurons: int, module_size: int,
                  group: str = "bank") -> np.ndarray:
    """(n_features,) int: the module of every feature (-1: the bias, in no module)."""
    banks = n_features // n_neurons
    if banks not in (1, 2) or n_features - banks * n_neurons not in (0, 1):
        raise ConfigError(f"kappatune: {n_features} features for {n_neurons} neurons is not "
                          "the fast [slow] [bias] layout")
    blocks = np.arange(n_neurons) // module_size          # neuron block of every neuron
    n_blocks = int(blocks[-1]) + 1
    out = np.full(n_features, -1, np.int64)
    for b in range(banks):
        out[b * n_neurons:(b + 1) * n_neurons] = blocks + (b * n_blocks if group == "bank" else 0)
    return out


def module_kappas(X: np.ndarray, gate: np.ndarray, module_of: np.ndarray) -> np.ndarray:
    """Condition number of the gated Gram matrix ``sum_t g x_m x_m^T`` of every module."""
    on = gate > 0
    Xg = X[on] * np.sqrt(gate[on])[:, None]
    n_mod = int(module_of.max()) + 1
    kappa = np.empty(n_mod)
    for m in range(n_mod):
        A = Xg[:, module_of == m]
        lam = np.linalg.eigvalsh(A.T @ A)
        top = lam[-1]
        kappa[m] = np.inf if top <= 0 else top / max(lam[0], KAPPA_FLOOR * top)
    return kappa


def select_modules(kappa: np.ndarray, fraction: float) -> np.ndarray:
    """(n_modules,) bool: the ``max(1, round(fraction * n))`` lowest-kappa modules (ties:
    lower index first)."""
    n_keep = max(1, int(round(fraction * kappa.size)))
    keep = np.zeros(kappa.size, bool)
    keep[np.argsort(kappa, kind="stable")[:n_keep]] = True
    return keep


@register
@dataclasses.dataclass(frozen=True)
class KappaTune(_TrialLearner):
    """Plain per-trial update on the ``kappa_fraction`` lowest-condition-number modules.

    Parameters
    ----------
    kappa_fraction : float in (0, 1]
        Fraction of modules kept plastic (at least one).
    module_size : int >= 1
        Neurons per module.
    group : "bank" | "neuron"
        A module is one bank of a neuron block, or both banks of it (module docstring).
    select : "switch" | "once"
        Select at the first trial of every block, or of the first block only.
    """
    name = "kappatune"
    kappa_fraction: float = 0.25
    module_size: int = 25
    group: str = "bank"
    select: str = "switch"

    def __post_init__(self):
        super().__post_init__()
        check_range("kappatune.kappa_fraction", self.kappa_fraction, 0, 1, lo_open=True)
        if isinstance(self.module_size, bool) or not isinstance(self.module_size, int):
            raise ConfigError(f"kappatune.module_size = {self.module_size!r} must be an "
                              "integer >= 1 (neurons per module)")
        check_range("kappatune.module_size", self.module_size, 1)
        check_choice("kappatune.group", self.group, GROUPS)
        check_choice("kappatune.select", self.select, SELECT)

    def init_state(self, n_features, n_outputs, n_neurons, dtype, dt_ms):
        if self.module_size > n_neurons:
            raise ConfigError(f"kappatune.module_size = {self.module_size} exceeds the "
                              f"number of neurons ({n_neurons}): must lie in [1, {n_neurons}]")
        module_of = module_layout(n_features, n_neurons, self.module_size, self.group)
        object.__setattr__(self, "module_of", module_of)
        object.__setattr__(self, "selections", [])
        return super().init_state(n_features, n_outputs, n_neurons, dtype, dt_ms)

    def _new_state(self, shape, dtype):
        n_mod = int(self.module_of.max()) + 1
        return {"plastic": np.zeros(n_mod, bool), "kappa": np.full(n_mod, np.nan),
                "pending": np.ones((), bool), "n_selections": np.zeros((), np.int64),
                "n_blocks": np.zeros((), np.int64)}

    # ---------------------------------------------------------------- the hooks
    def wants_features(self) -> bool:
        """True when the next trial's features should be passed to :meth:`observe_features`."""
        return bool(self.state["pending"])

    def observe_features(self, X: np.ndarray, gate: np.ndarray) -> None:
        """Select the plastic modules from one trial's features ``X`` (n_steps, n_features)
        and gate (n_steps,)."""
        st = self.state
        kappa = module_kappas(np.asarray(X, float), np.asarray(gate, float), self.module_of)
        st["kappa"][:] = kappa
        st["plastic"][:] = select_modules(kappa, self.kappa_fraction)
        st["pending"][...] = False
        st["n_selections"][...] += 1
        self.selections.append({"block": int(st["n_blocks"]), "kappa": kappa.copy(),
                                "plastic": st["plastic"].copy()})

    def mask(self) -> np.ndarray:
        """(n_features,) 1.0 where the weight is plastic (plastic modules and the bias)."""
        plastic = np.append(self.state["plastic"], True)      # index -1: the bias
        return plastic[self.module_of].astype(float)

    def memory_per_synapse(self) -> float:
        """Peak extra floats per synapse: the module Gram during a selection."""
        return float(self.module_size * (2 if self.group == "neuron" else 1))

    # ---------------------------------------------------------------- the rule
    def _apply(self, W, U, eta):
        if self.state["pending"]:
            raise RuntimeError("kappatune: no module selection for this trial; the caller must "
                               "pass the trial's features to observe_features when "
                               "wants_features() (the continual experiment does)")
        mask = self.mask().astype(U.dtype)
        self._kern("plain_apply")(W, U * mask, eta)
        return float(mask.mean())

    def _end_block(self, W, n_trials):
        st = self.state
        st["n_blocks"][...] += 1
        if self.select == "switch":
            st["pending"][...] = True
