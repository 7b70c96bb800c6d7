"""Conditioning diagnostics of readouts and features (KappaTune-style, CONTINUAL.md).

All condition numbers are ``s_max / s_min`` of singular values, hence scale-invariant
(``kappa(c W) = kappa(W)``); a (numerically) rank-deficient matrix gives ``inf``, never
NaN: ``s_min <= rtol * s_max`` counts as zero, with ``rtol`` relative to ``s_max``.
"""
import numpy as np

__all__ = ["condition_number", "module_condition_numbers", "feature_covariance_condition",
           "participation_ratio", "select_lowest_kappa_modules"]


def _default_rtol(shape):
    # Same convention as numpy.linalg.matrix_rank: max(shape) * machine epsilon (float64).
    return max(shape) * np.finfo(np.float64).eps


def _condition_from_singular_values(s, rtol):
    s_max = float(s.max()) if s.size else 0.0
    if not np.isfinite(s_max):
        return float("nan")  # the matrix itself holds inf / NaN
    s_min = float(s.min())
    if s_max == 0.0 or s_min <= rtol * s_max:
        return float("inf")
    return s_max / s_min


def condition_number(M, rtol=None):
    """``kappa = s_max / s_min`` over the ``min(m, n)`` singular values of ``M``.

    Parameters
    ----------
    M : array_like, shape (m, n)
    rtol : float, optional
        Relative tolerance below which ``s_min`` counts as zero; default
        ``max(m, n) * eps(float64)``.

    Returns
    -------
    float
        >= 1; ``inf`` if rank-deficient (including an all-zero or empty matrix).
    """
    M = np.asarray(M, dtype=np.float64)
    if M.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {M.shape}")
    if M.size == 0:
        return float("inf")
    if not np.all(np.isfinite(M)):
        return float("nan")
    s = np.linalg.svd(M, compute_uv=False)
    return _condition_from_singular_values(s, _default_rtol(M.shape) if rtol is None else rtol)


def module_condition_numbers(W, modules, axis=0, rtol=None):
    """Condition number of each row block (``axis=0``, e.g. output heads) or column block
    (``axis=1``, e.g. excitatory / inhibitory features) of ``W``.

    Parameters
    ----------
    W : array_like, shape (n_out, n_feat)
    modules : sequence or mapping of index selections
        Each selection is a slice, an integer index array or a boolean mask along ``axis``.
        A mapping ``{name: selection}`` returns a dict with the same keys.
    axis : {0, 1}

    Returns
    -------
    ndarray, shape (n_modules,), or dict
    """
    W = np.asarray(W, dtype=np.float64)
    if axis not in (0, 1):
        raise ValueError("axis must be 0 (row blocks) or 1 (column blocks)")

    def kappa(selection):
        block = W[selection, :] if axis == 0 else W[:, selection]
        if block.ndim == 1:  # a single integer index
            block = block[None, :] if axis == 0 else block[:, None]
        return condition_number(block, rtol)

    if hasattr(modules, "keys"):
        return {name: kappa(sel) for name, sel in modules.items()}
    return np.array([kappa(sel) for sel in modules], dtype=np.float64)


def _centred_singular_values(X):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"expected samples x features, got shape {X.shape}")
    if X.shape[0] < 2:
        raise ValueError("need at least 2 samples")
    Xc = X - X.mean(axis=0)
    return np.linalg.svd(Xc, compute_uv=False), X.shape


def feature_covariance_condition(X, rtol=None):
    """Condition number of the feature covariance ``cov(X)`` (= ``kappa(X - mean)**2``).

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
    rtol : float, optional
        Relative tolerance on the covariance eigenvalues (``lambda_min <= rtol * lambda_max``
        counts as zero); default ``max(shape) * eps(float64)``.

    Returns
    -------
    float
        ``inf`` if the covariance is singular, e.g. ``n_samples <= n_features``.
    """
    s, shape = _centred_singular_values(X)
    if s.size < shape[1]:  # fewer samples than features: covariance has zero eigenvalues
        return float("inf")
    lam = s * s
    return _condition_from_singular_values(lam, _default_rtol(shape) if rtol is None else rtol)


def participation_ratio(X):
    """``PR = (sum lambda)**2 / sum lambda**2`` of the covariance eigenvalues of ``X``.

    Between 1 (one dimension carries all variance) and ``n_features`` (isotropic).
    Returns 0.0 for data without variance.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
    """
    s, _ = _centred_singular_values(X)
    lam = s * s  # proportional to the eigenvalues; PR is scale-free
    total = float(lam.sum())
    if total == 0.0:
        return 0.0
    return total * total / float(np.sum(lam * lam))


def select_lowest_kappa_modules(kappas, n):
    """KappaTune-style selection: the ``n`` modules with the lowest condition number.

    Ties keep the input order; NaN sorts after ``inf``.

    Parameters
    ----------
    kappas : sequence of float, or mapping {name: kappa}
    n : int
        How many to keep plastic (clipped to the number of modules).

    Returns
    -------
    ndarray of int (sequence input) or list of names (mapping input), lowest kappa first.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    names = list(kappas.keys()) if hasattr(kappas, "keys") else None
    values = np.asarray(list(kappas.values()) if names is not None else kappas, dtype=float)
    order = np.argsort(values, kind="stable")[: int(n)]  # numpy sorts NaN last
    if names is not None:
        return [names[i] for i in order]
    return order
