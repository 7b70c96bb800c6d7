"""How well an output reproduces a periodic target: correlation, lag, RMS error, spectrum.

Pure NumPy functions on 1-D signals sampled every ``dt_ms`` milliseconds (used by the FORCE
sinusoid check, ``neurosim run force_sinusoid``). A trained spiking oscillator drifts a
little in phase (Nicola & Clopath's runs ~0.05 Hz slow), so besides the zero-lag correlation
over a short stretch there is the correlation at the best lag within ``+-max_lag_ms``,
computed per window, and the frequency of the spectral peak.

Conventions: ``lag > 0`` means the output lags the target, ``z(t) ~ target(t - lag)``.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "pearson",
    "rms_error",
    "best_lag_correlation",
    "windowed_best_lag_correlation",
    "spectral_peak",
]


def _as_1d(name: str, x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D (or (n, 1)); got shape {x.shape}")
    return x


def _pair(z, target):
    z, target = _as_1d("z", z), _as_1d("target", target)
    if z.shape != target.shape:
        raise ValueError(f"z has {z.size} samples but target has {target.size}")
    return z, target


def pearson(z, target) -> float:
    """Pearson correlation of two equally long signals (NaN if either is constant).

    Parameters
    ----------
    z, target : array (n,) or (n, 1)

    Returns
    -------
    float in [-1, 1], or NaN when a signal has zero variance or fewer than 2 samples.
    """
    z, target = _pair(z, target)
    if z.size < 2:
        return float("nan")
    dz, dt = z - z.mean(), target - target.mean()
    denom = np.sqrt(np.dot(dz, dz) * np.dot(dt, dt))
    return float(np.dot(dz, dt) / denom) if denom > 0 else float("nan")


def rms_error(z, target) -> float:
    """Root-mean-square error ``sqrt(mean((z - target)^2))`` (units of the signals).

    Parameters
    ----------
    z, target : array (n,) or (n, 1)
    """
    z, target = _pair(z, target)
    if z.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean((z - target) ** 2)))


def _lag_corr(z, target, lo, hi, lag):
    """Correlation of ``z[i]`` with ``target[i - lag]`` for i in [lo, hi), clipped to bounds."""
    n = target.size
    i0, i1 = max(lo, lag), min(hi, n + lag)
    if i1 - i0 < 2:
        return float("nan")
    return pearson(z[i0:i1], target[i0 - lag:i1 - lag])


def best_lag_correlation(z, target, dt_ms: float, max_lag_ms: float = 100.0,
                         lo: int = 0, hi: int | None = None) -> tuple[float, float]:
    """Highest correlation of ``z`` with the target shifted by a lag in ``+-max_lag_ms``.

    For each lag ``L`` (whole samples, ``|L dt| <= max_lag_ms``) the correlation of
    ``z[i]`` with ``target[i - L]`` over the samples ``i`` in ``[lo, hi)`` whose shifted
    index lies inside the target; the target may extend beyond ``[lo, hi)`` (pass the whole
    series and a window to use it).

    Parameters
    ----------
    z, target : array (n,) or (n, 1)
        Equally long, sampled every ``dt_ms``.
    dt_ms : float
        Sample interval (ms).
    max_lag_ms : float
        Largest lag tried, both signs (ms).
    lo, hi : int
        Sample range of ``z`` to judge (default all).

    Returns
    -------
    (correlation, lag_ms) : the best correlation and its lag (positive: z lags the target).
    """
    z, target = _pair(z, target)
    hi = z.size if hi is None else int(hi)
    if not 0 <= lo < hi <= z.size:
        raise ValueError(f"window [{lo}, {hi}) must lie inside [0, {z.size}]")
    max_lag = int(np.floor(max_lag_ms / dt_ms + 1e-9))
    best, best_lag = -np.inf, 0
    for lag in range(-max_lag, max_lag + 1):
        c = _lag_corr(z, target, lo, hi, lag)
        if c > best or (c == best and abs(lag) < abs(best_lag)):
            best, best_lag = c, lag
    if not np.isfinite(best):
        return float("nan"), float("nan")
    return float(best), float(best_lag * dt_ms)


def windowed_best_lag_correlation(z, target, dt_ms: float, window_ms: float = 500.0,
                                  max_lag_ms: float = 100.0, start: int = 0,
                                  stop: int | None = None) -> dict:
    """Best-lag correlation (see :func:`best_lag_correlation`) in consecutive windows.

    Windows of ``window_ms`` tile ``[start, stop)`` (samples); a last partial window is
    dropped. The target outside a window is used for the shifted comparison where available.

    Parameters
    ----------
    z, target : array (n,) or (n, 1)
    dt_ms : float
        Sample interval (ms).
    window_ms, max_lag_ms : float
        Window length and largest lag (ms).
    start, stop : int
        Sample range to tile (default the whole signal).

    Returns
    -------
    dict with arrays ``start_ms`` (window start relative to ``start``), ``correlation`` and
    ``lag_ms``, one entry per window.
    """
    z, target = _pair(z, target)
    stop = z.size if stop is None else int(stop)
    width = int(round(window_ms / dt_ms))
    if width < 2:
        raise ValueError(f"window_ms = {window_ms} holds fewer than 2 samples at dt {dt_ms} ms")
    starts = list(range(start, stop - width + 1, width))
    corr, lags = [], []
    for s in starts:
        c, lag = best_lag_correlation(z, target, dt_ms, max_lag_ms, s, s + width)
        corr.append(c)
        lags.append(lag)
    return {"start_ms": (np.asarray(starts, dtype=np.float64) - start) * dt_ms,
            "correlation": np.asarray(corr), "lag_ms": np.asarray(lags)}


def spectral_peak(x, dt_ms: float, f_min_hz: float = 0.5, f_max_hz: float | None = None,
                  resolution_hz: float = 0.01) -> tuple[float, float]:
    """Frequency (Hz) of the largest peak of the power spectrum of ``x``.

    The mean is removed, a Hann window applied, and the FFT zero-padded so that the
    frequency grid spacing is at most ``resolution_hz`` (the peak of a windowed sinusoid of
    a few cycles is then located to about that precision; the window, not the padding, sets
    how well two close peaks separate).

    Parameters
    ----------
    x : array (n,) or (n, 1)
        Signal sampled every ``dt_ms``.
    dt_ms : float
        Sample interval (ms).
    f_min_hz, f_max_hz : float
        Band searched (default ``[0.5 Hz, Nyquist]``).
    resolution_hz : float
        Grid spacing of the padded spectrum (Hz).

    Returns
    -------
    (frequency_hz, power_fraction) : peak frequency, and the fraction of the band's power
    within the Hann main lobe around it (``+-2 / duration``), about 1 for a pure sinusoid.
    """
    x = _as_1d("x", x)
    if x.size < 4:
        raise ValueError("spectral_peak needs at least 4 samples")
    fs = 1000.0 / dt_ms
    n_fft = int(2 ** np.ceil(np.log2(max(x.size, fs / resolution_hz))))
    y = (x - x.mean()) * np.hanning(x.size)
    power = np.abs(np.fft.rfft(y, n_fft)) ** 2
    freqs = np.fft.rfftfreq(n_fft, d=dt_ms / 1000.0)
    band = (freqs >= f_min_hz) & (freqs <= (fs / 2 if f_max_hz is None else f_max_hz))
    if not band.any():
        raise ValueError(f"no frequency in [{f_min_hz}, {f_max_hz}] Hz at this sampling")
    p, f = power[band], freqs[band]
    total = p.sum()
    i = int(np.argmax(p))
    lobe = np.abs(f - f[i]) <= 2.0 / (x.size * dt_ms / 1000.0)
    return float(f[i]), float(p[lobe].sum() / total) if total > 0 else float("nan")
