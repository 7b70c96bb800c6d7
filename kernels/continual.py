"""Continual-learning modifiers of the per-trial readout update (see CONTINUAL.md).

The simulation kernel accumulates, over one trial, the update signal
``U[i, j] = sum_t g(t) e_i(t) elig_j(t) dt`` with the shape of the readout
``W`` (n_out, n_feat). At the end of a trial a learner applies ``U`` with one of the
functions below; at the end of a block it may consolidate.

Every method comes as two twins that agree exactly:

* ``<name>_reference``: plain numpy, readable, the oracle;
* ``<name>``: ``@numba.njit(cache=True)``, in place, allocation-free.

Conventions shared by all functions:

* arrays are 2-D, shape (n_out, n_feat), and all share one dtype (float32 or float64);
  they are modified in place;
* scalar hyper-parameters are cast to the arrays' dtype before use, so float32 state is
  updated in float32 arithmetic in both twins (bitwise equal where the operations are the
  same IEEE operations: +, -, *, /, sqrt);
* units: ``U`` is in (output units) x (feature units) x s; ``eta`` converts it to weight
  units, so ``eta * U`` is a weight change.

Memory: :data:`MEMORY_PER_SYNAPSE` lists the extra floats each method stores per weight.

This module is a leaf: it imports numpy and numba only.
"""
import math

import numba
import numpy as np

__all__ = [
    "MEMORY_PER_SYNAPSE", "memory_per_synapse",
    "plain_apply", "plain_apply_reference",
    "classp_apply", "classp_apply_reference",
    "fast_slow_effective", "fast_slow_effective_reference",
    "fast_slow_apply", "fast_slow_apply_reference",
    "fast_slow_consolidate", "fast_slow_consolidate_reference",
    "ewc_apply", "ewc_apply_reference",
    "ewc_consolidate", "ewc_consolidate_reference",
]

#: Extra floats stored per readout weight, beyond the weight itself, counted at their peak
#: (during a block) and between blocks. Everything the kernels below read or write counts.
MEMORY_PER_SYNAPSE = {
    "plain": {"during_block": 0, "between_blocks": 0, "arrays": ()},
    "classp": {"during_block": 1, "between_blocks": 1, "arrays": ("G",)},
    # F_acc (this block's sum of U**2) is needed only until ewc_consolidate; it would
    # vanish if the importance were estimated from a separate probe pass instead.
    "ewc": {"during_block": 3, "between_blocks": 2, "arrays": ("F", "W_star", "F_acc")},
    # W_slow takes the place of W; W_fast is a second weight set; the caller also keeps
    # one buffer for the effective weights W_slow + W_fast that produce the output.
    "fast_slow": {"during_block": 5, "between_blocks": 4,
                  "arrays": ("W_fast", "W_effective", "anchor", "importance",
                             "importance_acc")},
}


def memory_per_synapse(method, during_block=True):
    """Extra floats of state per readout weight for ``method`` (see MEMORY_PER_SYNAPSE)."""
    try:
        entry = MEMORY_PER_SYNAPSE[method]
    except KeyError:
        raise KeyError(f"unknown method {method!r}; valid: {sorted(MEMORY_PER_SYNAPSE)}") from None
    return entry["during_block" if during_block else "between_blocks"]


# ---------------------------------------------------------------------------------------
# Plain three-factor rule
# ---------------------------------------------------------------------------------------
def plain_apply_reference(W, U, eta):
    """``W += eta * U``.

    Parameters
    ----------
    W : ndarray, shape (n_out, n_feat)
        Readout weights, updated in place.
    U : ndarray, shape (n_out, n_feat)
        Update signal accumulated over the trial.
    eta : float
        Learning rate (weight units per unit of ``U``).
    """
    W += W.dtype.type(eta) * U


@numba.njit(cache=True)
def plain_apply(W, U, eta):
    """Compiled twin of :func:`plain_apply_reference`."""
    eta_t = W.dtype.type(eta)
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            W[i, j] += eta_t * U[i, j]


# ---------------------------------------------------------------------------------------
# CLASSP (Ludwig 2024): per-element threshold, per-synapse accumulator
# ---------------------------------------------------------------------------------------
def _relative_theta_reference(U, c):
    # (c * RMS(U))**2 = c**2 * mean(U**2), accumulated in float64.
    mean_square = float(np.sum(np.square(U, dtype=np.float64))) / U.size
    return c * c * mean_square


def classp_apply_reference(W, U, G, eta, theta, p=2.0, eps=1e-8, gamma=1.0, relative=False):
    """One CLASSP step with a per-element mask.

    ::

        mask = U*U > theta                     # per element
        G    = gamma * G + mask * |U|**p       # gamma < 1: leak, OUR extension (default 1)
        W   += eta * mask * U / (eps + G)**(1/p)

    With ``theta = 0, p = 2, gamma = 1`` this is AdaGrad with epsilon inside the root
    (``W += eta U / sqrt(eps + G)``, Keras form; identical to the ``eps + sqrt(G)`` form
    when ``eps = 0``). ``theta = inf`` leaves ``W`` unchanged (``G`` only leaks).
    For ``p == 2`` the kernels use ``U*U`` and ``sqrt`` (exact IEEE operations).

    Parameters
    ----------
    W, U, G : ndarray, shape (n_out, n_feat)
        Weights (in place), trial update signal, accumulator (in place, same dtype, >= 0).
    eta : float
        Learning rate.
    theta : float
        Absolute threshold on ``U**2`` (units of U squared); if ``relative``, the factor
        ``c`` of the relative threshold ``theta_abs = (c * RMS(U))**2``, RMS over all
        elements of this ``U``.
    p : float
        Exponent of the accumulator (> 0).
    eps : float
        Regulariser inside the root (>= 0).
    gamma : float
        Accumulator retention per call, in (0, 1]. 1 = the published rule.
    relative : bool
        Interpret ``theta`` as ``c`` of the relative threshold.

    Returns
    -------
    float
        Realised fraction of elements updated in this call, in [0, 1].
    """
    dt = W.dtype.type
    thr = dt(_relative_theta_reference(U, theta) if relative else theta)
    UU = U * U
    mask = UU > thr
    if gamma != 1.0:
        G *= dt(gamma)
    with np.errstate(divide="ignore", invalid="ignore"):
        if p == 2.0:
            G += np.where(mask, UU, 0)
            denom = np.sqrt(dt(eps) + G)
        else:
            G += np.where(mask, np.abs(U) ** dt(p), 0)
            denom = (dt(eps) + G) ** dt(1.0 / p)
        W += np.where(mask, dt(eta) * U / denom, 0)
    return int(np.count_nonzero(mask)) / U.size


@numba.njit(cache=True)
def classp_apply(W, U, G, eta, theta, p=2.0, eps=1e-8, gamma=1.0, relative=False):
    """Compiled twin of :func:`classp_apply_reference`; returns the fraction updated."""
    dt = W.dtype.type
    n_out, n_feat = W.shape
    if relative:
        acc = 0.0
        for i in range(n_out):
            for j in range(n_feat):
                u = np.float64(U[i, j])
                acc += u * u
        c = np.float64(theta)
        thr = dt(c * c * (acc / U.size))
    else:
        thr = dt(theta)
    eta_t = dt(eta)
    eps_t = dt(eps)
    gamma_t = dt(gamma)
    p_t = dt(p)
    inv_p = dt(1.0 / p)
    leak = gamma != 1.0
    square = p == 2.0
    n_updated = 0
    for i in range(n_out):
        for j in range(n_feat):
            u = U[i, j]
            uu = u * u
            if leak:
                G[i, j] = G[i, j] * gamma_t
            if uu > thr:
                n_updated += 1
                if square:
                    G[i, j] += uu
                    W[i, j] += eta_t * u / math.sqrt(eps_t + G[i, j])
                else:
                    G[i, j] += abs(u) ** p_t
                    W[i, j] += eta_t * u / (eps_t + G[i, j]) ** inv_p
    return n_updated / U.size


# ---------------------------------------------------------------------------------------
# Fast/slow weights (Hinton & Plaut 1987; few-shot CL, 2021)
# ---------------------------------------------------------------------------------------
def fast_slow_effective_reference(W_slow, W_fast, out):
    """Write the effective readout ``out = W_slow + W_fast`` (all shape (n_out, n_feat)).

    The caller computes outputs, errors and ``U`` with these effective weights.
    """
    np.add(W_slow, W_fast, out=out)


@numba.njit(cache=True)
def fast_slow_effective(W_slow, W_fast, out):
    """Compiled twin of :func:`fast_slow_effective_reference`."""
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = W_slow[i, j] + W_fast[i, j]


def fast_slow_apply_reference(W_fast, U, anchor, importance, importance_acc,
                              eta_fast, pull, decay):
    """Per-trial update of the fast weights.

    ::

        W_fast += eta_fast * (U - pull * importance * (W_fast - anchor))
        W_fast -= decay * (W_fast - anchor)        # relax toward the consolidated state
        importance_acc += U * U                    # this block's importance estimate

    With ``pull = 0`` and ``decay = 0`` the weight update is ``W_fast += eta_fast * U``
    with the same IEEE operations as :func:`plain_apply`, hence bitwise equal to it.

    Parameters
    ----------
    W_fast : ndarray, shape (n_out, n_feat)
        Fast weights (in place).
    U : ndarray, shape (n_out, n_feat)
        Trial update signal, computed with the effective weights W_slow + W_fast.
    anchor : ndarray, shape (n_out, n_feat)
        The fast weights' rest state (zero unless the caller sets it; read only): the decay
        and the pull draw the effective readout toward ``W_slow + anchor``, the consolidated
        readout (see :func:`fast_slow_consolidate`).
    importance : ndarray, shape (n_out, n_feat)
        Per-synapse importance of past blocks (units of U squared).
    importance_acc : ndarray, shape (n_out, n_feat)
        Running sum of ``U**2`` over this block's trials (in place).
    eta_fast : float
        Fast learning rate.
    pull : float
        Strength of the importance-weighted pull (units 1 / U squared);
        stable while ``eta_fast * pull * importance < 2``.
    decay : float
        Fraction of the fast weights' distance to the anchor removed per trial, in [0, 1].
    """
    dt = W_fast.dtype.type
    W_fast += dt(eta_fast) * (U - dt(pull) * importance * (W_fast - anchor))
    W_fast -= dt(decay) * (W_fast - anchor)
    importance_acc += U * U


@numba.njit(cache=True)
def fast_slow_apply(W_fast, U, anchor, importance, importance_acc, eta_fast, pull, decay):
    """Compiled twin of :func:`fast_slow_apply_reference`."""
    dt = W_fast.dtype.type
    eta_t = dt(eta_fast)
    pull_t = dt(pull)
    decay_t = dt(decay)
    for i in range(W_fast.shape[0]):
        for j in range(W_fast.shape[1]):
            u = U[i, j]
            a = anchor[i, j]
            w = W_fast[i, j]
            w = w + eta_t * (u - pull_t * importance[i, j] * (w - a))
            w = w - decay_t * (w - a)
            W_fast[i, j] = w
            importance_acc[i, j] += u * u


def fast_slow_consolidate_reference(W_slow, W_fast, anchor, importance, importance_acc,
                                    n_trials, beta, gamma=1.0):
    """Between blocks: Reptile-like transfer of the block's fast change to the slow weights.

    ::

        delta       = W_fast - anchor       # what the fast weights hold beyond their rest state
        W_slow     += beta * delta          # slow weights take a fraction beta of it
        W_fast     -= beta * delta          # hand-over: W_slow + W_fast is unchanged
        importance  = gamma * importance + importance_acc / n_trials
        importance_acc[:] = 0

    The anchor (the fast weights' rest state, zero unless the caller sets it) is not moved:
    the part ``(1 - beta) * delta`` left in the fast weights keeps decaying toward it in
    the following trials (:func:`fast_slow_apply`, ``decay``), and the pull keeps drawing
    the effective readout toward the consolidated one, ``W_slow + anchor``. So ``beta``
    decides how much of each block survives the decay: ``beta = 1`` makes all of it slow
    (fast weights back at the anchor); ``beta = 0`` consolidates nothing. The effective
    readout is preserved up to rounding, so consolidation never changes behaviour by
    itself. With ``beta = 1`` and ``decay = 0`` the pull acts on ``W_eff - W_eff(last block
    end)`` with importance-weighted strength, i.e. it is online EWC on the effective
    weights (same trajectory as :func:`ewc_apply` with ``lam = pull``, up to rounding);
    ``beta < 1`` or ``decay > 0`` is what makes fast/slow differ from EWC.

    (Before 2026-12 the anchor was reset to the handed-over fast weights at every call;
    the pull and the decay then acted on ``W_eff - W_eff(last block end)`` whatever
    ``beta``, so ``beta`` had no effect on behaviour: that was the ``beta = 1`` case here.)

    Parameters
    ----------
    W_slow, W_fast, anchor, importance, importance_acc : ndarray, shape (n_out, n_feat)
        State, updated in place (``anchor`` is read only).
    n_trials : int
        Trials accumulated in ``importance_acc`` this block (> 0; 0 leaves the importance
        unchanged apart from ``gamma``).
    beta : float
        Consolidation fraction in [0, 1].
    gamma : float
        Retention of the old importance (online accumulation), in [0, 1].
    """
    dt = W_slow.dtype.type
    delta = W_fast - anchor
    W_slow += dt(beta) * delta
    W_fast -= dt(beta) * delta
    importance *= dt(gamma)
    if n_trials > 0:
        importance += importance_acc / dt(n_trials)
    importance_acc[...] = 0


@numba.njit(cache=True)
def fast_slow_consolidate(W_slow, W_fast, anchor, importance, importance_acc,
                          n_trials, beta, gamma=1.0):
    """Compiled twin of :func:`fast_slow_consolidate_reference`."""
    dt = W_slow.dtype.type
    beta_t = dt(beta)
    gamma_t = dt(gamma)
    n_t = dt(n_trials)
    for i in range(W_slow.shape[0]):
        for j in range(W_slow.shape[1]):
            delta = W_fast[i, j] - anchor[i, j]
            W_slow[i, j] += beta_t * delta
            W_fast[i, j] -= beta_t * delta
            imp = importance[i, j] * gamma_t
            if n_trials > 0:
                imp = imp + importance_acc[i, j] / n_t
            importance[i, j] = imp
            importance_acc[i, j] = 0.0


# ---------------------------------------------------------------------------------------
# EWC (Kirkpatrick 2017), diagonal importance from E[U**2]; online variant
# ---------------------------------------------------------------------------------------
def ewc_apply_reference(W, U, F, W_star, F_acc, eta, lam):
    """Per-trial EWC step and importance accumulation.

    ::

        W     += eta * (U - lam * F * (W - W_star))
        F_acc += U * U

    ``lam = 0`` is the plain rule, bitwise. Stable while ``eta * lam * F < 2``.

    Parameters
    ----------
    W : ndarray, shape (n_out, n_feat)
        Readout weights (in place).
    U : ndarray, shape (n_out, n_feat)
        Trial update signal.
    F : ndarray, shape (n_out, n_feat)
        Importance of past blocks (units of U squared).
    W_star : ndarray, shape (n_out, n_feat)
        Weights at the end of the last consolidated block.
    F_acc : ndarray, shape (n_out, n_feat)
        Running sum of ``U**2`` over this block's trials (in place).
    eta : float
        Learning rate.
    lam : float
        Penalty strength (units 1 / U squared).
    """
    dt = W.dtype.type
    W += dt(eta) * (U - dt(lam) * F * (W - W_star))
    F_acc += U * U


@numba.njit(cache=True)
def ewc_apply(W, U, F, W_star, F_acc, eta, lam):
    """Compiled twin of :func:`ewc_apply_reference`."""
    dt = W.dtype.type
    eta_t = dt(eta)
    lam_t = dt(lam)
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            u = U[i, j]
            W[i, j] += eta_t * (u - lam_t * F[i, j] * (W[i, j] - W_star[i, j]))
            F_acc[i, j] += u * u


def ewc_consolidate_reference(W, W_star, F, F_acc, n_trials, gamma=1.0):
    """End of block: ``F = gamma * F + F_acc / n_trials``; ``W_star = W``; ``F_acc = 0``.

    ``gamma = 0`` keeps only the last block's importance (EWC anchored on the last task);
    ``0 < gamma <= 1`` is online EWC (Schwarz et al. 2018) with one anchor.

    Parameters
    ----------
    W, W_star, F, F_acc : ndarray, shape (n_out, n_feat)
        ``W`` is read; the others are updated in place.
    n_trials : int
        Trials accumulated in ``F_acc`` (> 0; 0 leaves F unchanged apart from ``gamma``).
    gamma : float
        Retention of the old importance, in [0, 1].
    """
    dt = W.dtype.type
    F *= dt(gamma)
    if n_trials > 0:
        F += F_acc / dt(n_trials)
    W_star[...] = W
    F_acc[...] = 0


@numba.njit(cache=True)
def ewc_consolidate(W, W_star, F, F_acc, n_trials, gamma=1.0):
    """Compiled twin of :func:`ewc_consolidate_reference`."""
    dt = W.dtype.type
    gamma_t = dt(gamma)
    n_t = dt(n_trials)
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            f = F[i, j] * gamma_t
            if n_trials > 0:
                f = f + F_acc[i, j] / n_t
            F[i, j] = f
            W_star[i, j] = W[i, j]
            F_acc[i, j] = 0.0
