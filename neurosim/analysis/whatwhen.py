"""Analysis of what/when readouts: peaks, anticipatory amplitudes, regressions, subspaces.

Trial-aligned arrays have shape (n_trials, n_window_steps) with step 0 at cue onset; NaN marks
steps that must not count (e.g. after stimulus onset, where the stimulus itself drives the
reservoir: timing and probability are judged on the anticipatory output).
"""
from __future__ import annotations

import numpy as np


def mask_after_onset(aligned: np.ndarray, onset_steps: np.ndarray) -> np.ndarray:
    """Copy of ``aligned`` (n_trials, n_steps) with NaN from each trial's onset on (-1 = none)."""
    out = np.array(aligned, dtype=float)
    for i, onset in enumerate(onset_steps):
        if onset >= 0:
            out[i, onset:] = np.nan
    return out


def peak_time(trace: np.ndarray, dt_ms: float, lo_ms: float = 0.0, hi_ms: float | None = None):
    """Time (ms after cue) and height of the maximum of a 1-D trace within [lo, hi) ms.

    NaN steps are ignored; returns (nan, nan) if the window holds no finite value.
    """
    lo = int(round(lo_ms / dt_ms))
    hi = trace.size if hi_ms is None else min(trace.size, int(round(hi_ms / dt_ms)))
    window = trace[lo:hi]
    if window.size == 0 or not np.any(np.isfinite(window)):
        return float("nan"), float("nan")
    k = int(np.nanargmax(window))
    return (lo + k) * dt_ms, float(window[k])


SPECIFIC_EXCLUDE_MS = 100.0
"""Half-width (ms) of the zone around each latency that belongs to its own bump."""
CUE_TRANSIENT_MS = 150.0
"""The cue (50 ms) and the reservoir's transient response to it (100 ms): no prediction."""


def specificity(trace: np.ndarray, dt_ms: float, latencies_ms, lo_ms: float = CUE_TRANSIENT_MS,
                exclude_ms: float = SPECIFIC_EXCLUDE_MS) -> list[dict]:
    """How specific a cue-aligned output is to the latencies it should predict.

    Parameters
    ----------
    trace : ndarray (n_steps,)
        Trial-averaged output, step 0 at cue onset; NaN steps are ignored.
    dt_ms : float
        Step (ms).
    latencies_ms : sequence of float
        Times (ms after the cue) where the output should peak.
    lo_ms : float
        Steps before ``lo_ms`` (the cue transient) are not looked at.
    exclude_ms : float
        A latency's own bump is searched within +-``exclude_ms`` of it; "elsewhere" is the
        window from ``lo_ms`` on, outside +-``exclude_ms`` of *every* latency (so that the
        bump of another identity does not count against this one).

    Returns
    -------
    list of dict, one per latency
        ``peak_ms`` (time of the largest output within +-exclude_ms), ``height`` (its value),
        ``elsewhere`` (largest output elsewhere; NaN if there is no such step), ``ratio``
        (elsewhere / height; inf when the height is <= 0, NaN without an elsewhere).
    """
    trace = np.asarray(trace, dtype=float)
    t = np.arange(trace.size) * dt_ms
    lats = np.atleast_1d(np.asarray(latencies_ms, dtype=float))
    finite = np.isfinite(trace)
    away = finite & (t >= lo_ms)
    for lat in lats:
        away &= np.abs(t - lat) > exclude_ms
    elsewhere = float(np.max(trace[away])) if away.any() else float("nan")
    out = []
    for lat in lats:
        own = finite & (t >= lo_ms) & (np.abs(t - lat) <= exclude_ms)
        if not own.any():
            out.append({"peak_ms": float("nan"), "height": float("nan"),
                        "elsewhere": elsewhere, "ratio": float("nan")})
            continue
        k = np.flatnonzero(own)[np.argmax(trace[own])]
        height = float(trace[k])
        ratio = elsewhere / height if height > 0 else float("inf")
        out.append({"peak_ms": float(t[k]), "height": height, "elsewhere": elsewhere,
                    "ratio": float(ratio)})
    return out


def masked_mean(aligned: np.ndarray, min_trials: int = 3) -> np.ndarray:
    """Trial average ignoring NaN; steps with fewer than ``min_trials`` values are NaN."""
    counts = np.sum(np.isfinite(aligned), axis=0)
    with np.errstate(invalid="ignore"):
        mean = np.nansum(aligned, axis=0) / np.maximum(counts, 1)
    mean[counts < min_trials] = np.nan
    return mean


def anticipatory_amplitude(aligned: np.ndarray, latency_ms: float, dt_ms: float,
                           width_ms: float = 10.0) -> np.ndarray:
    """Mean output per trial over [L - width, L) ms after the cue, shape (n_trials,)."""
    hi = int(round(latency_ms / dt_ms))
    lo = hi - int(round(width_ms / dt_ms))
    return np.nanmean(aligned[:, lo:hi], axis=1)


def amplitude_regression(probabilities, amplitudes) -> dict:
    """Linear fit of amplitude against probability: slope, intercept and Pearson r."""
    p = np.asarray(probabilities, dtype=float)
    a = np.asarray(amplitudes, dtype=float)
    slope, intercept = np.polyfit(p, a, 1)
    r = float(np.corrcoef(p, a)[0, 1])
    return {"slope": float(slope), "intercept": float(intercept), "r": r}


def subspace_angle_deg(basis: np.ndarray, w_a: np.ndarray, W_b: np.ndarray) -> float:
    """Angle (degrees) between vector ``w_a`` and the span of the rows of ``W_b``, in ``basis``.

    Parameters
    ----------
    basis : ndarray (n_features, n_components)
        Orthonormal columns (e.g. the top principal components of the activity).
    w_a : ndarray (n_features,)
    W_b : ndarray (n_b, n_features)
    """
    a = basis.T @ w_a
    B = basis.T @ np.atleast_2d(W_b).T
    q, _ = np.linalg.qr(B)
    norm_a = np.linalg.norm(a)
    if norm_a == 0:
        return float("nan")
    cos = np.clip(np.linalg.norm(q.T @ a) / norm_a, 0.0, 1.0)
    return float(np.degrees(np.arccos(cos)))


def principal_components(X: np.ndarray, n_components: int) -> np.ndarray:
    """Top principal directions of samples X (n_samples, n_features), as columns.

    Lanczos (``scipy.sparse.linalg.eigsh``, fixed start vector, so reproducible) for the few
    leading eigenvectors of the covariance: the same subspace as a full ``eigh`` to rounding,
    ~10x faster at 2001 features (the main job's R8).
    """
    from scipy.sparse.linalg import eigsh
    Xc = X - X.mean(axis=0)
    cov = Xc.T @ Xc / max(1, X.shape[0] - 1)
    n = cov.shape[0]
    if n_components >= n - 1:          # eigsh needs k < n: small problems go dense
        vals, vecs = np.linalg.eigh(cov)
    else:
        vals, vecs = eigsh(cov, k=n_components, which="LA", v0=np.ones(n), tol=0)
    return vecs[:, np.argsort(vals)[::-1][:n_components]]


def filtered_spike_features(steps: np.ndarray, ids: np.ndarray, n_steps: int, n_neurons: int,
                            taus_ms, scales, dt_ms: float) -> np.ndarray:
    """Rebuild exponentially filtered spike-train features from a spike record.

    Returns (n_steps, n_neurons * len(taus_ms)): per bank, trace = trace * exp(-dt/tau) + spike,
    times the bank's scale (the kernels' ``exponential`` feature kernel).
    """
    from scipy.signal import lfilter
    spikes = np.zeros((n_steps, n_neurons), dtype=np.float32)
    np.add.at(spikes, (steps, ids), 1.0)
    banks = []
    for tau, scale in zip(taus_ms, scales):
        decay = np.exp(-dt_ms / tau)
        banks.append(scale * lfilter([1.0], [1.0, -decay], spikes, axis=0).astype(np.float32))
    return np.concatenate(banks, axis=1)


def offline_what_replay(xbars: np.ndarray, labels: np.ndarray, eta0: float) -> np.ndarray:
    """Replay the offline "what" rule over a sequence of tags; returns W (n_ids, n_features).

    ``W += eta (Y - W xbar) xbar^T`` with ``eta = eta0 / <|xbar|^2>`` (running mean), as in the
    ``three_factor`` learner; used with shuffled labels as the R8 control.
    """
    W = np.zeros((labels.shape[1], xbars.shape[1]))
    total = 0.0
    for n, (x, y) in enumerate(zip(xbars, labels), start=1):
        total += float(x @ x)
        W += (eta0 / (total / n)) * np.outer(y - W @ x, x)
    return W
