"""Argument checks shared by the paradigm generators (numpy + stdlib only).

Every failure is a ``ValueError`` whose message starts with the field name, then the bad
value and what is allowed, e.g. ``"Block.p_stimulus = 1.3 is outside [0, 1]"``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np


def fail(field: str, value, why: str) -> None:
    """Raise ``ValueError("<field> = <value!r> <why>")``."""
    raise ValueError(f"{field} = {value!r} {why}")


def _interval(lo, hi, lo_open, hi_open) -> str:
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    lo_s = "-inf" if lo is None else f"{lo:g}"
    hi_s = "inf" if hi is None else f"{hi:g}"
    return f"{left}{lo_s}, {hi_s}{right}"


def check_int(field: str, value, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as a Python int, checking it is an integer in ``[lo, hi]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        fail(field, value, "is not an integer")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        fail(field, value, f"is outside {_interval(lo, hi, False, False)}")
    return v


def check_real(field: str, value, lo: float | None = None, hi: float | None = None,
               lo_open: bool = False, hi_open: bool = False) -> float:
    """Return ``value`` as a finite Python float in the given (half-)open interval."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        fail(field, value, "is not a real number")
    v = float(value)
    if not math.isfinite(v):
        fail(field, value, "is not finite")
    bad_lo = lo is not None and (v <= lo if lo_open else v < lo)
    bad_hi = hi is not None and (v >= hi if hi_open else v > hi)
    if bad_lo or bad_hi:
        fail(field, value, f"is outside {_interval(lo, hi, lo_open, hi_open)}")
    return v


def check_bool(field: str, value) -> bool:
    """Return ``value`` as a Python bool (only ``bool`` / ``numpy.bool_`` accepted)."""
    if not isinstance(value, (bool, np.bool_)):
        fail(field, value, "is not a bool")
    return bool(value)


def check_seq(field: str, value, length: int | None = None) -> tuple:
    """Return ``value`` as a tuple, checking it is a (non-string) sequence of ``length``."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") \
            or not hasattr(value, "__iter__"):
        fail(field, value, "is not a sequence")
    t = tuple(value)
    if length is not None and len(t) != length:
        fail(field, value, f"has length {len(t)}, expected {length}")
    if length is None and len(t) == 0:
        fail(field, value, "is empty")
    return t


def make_rng(field: str, seed, allow_generator: bool = False) -> np.random.Generator:
    """``numpy.random.default_rng`` for an int >= 0 or a ``SeedSequence``.

    With ``allow_generator`` a ``Generator`` is used as is (it is consumed, not copied).
    ``None`` is refused: the generators here must be reproducible.
    """
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if allow_generator and isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_)):
        check_int(field, seed, lo=0)
        return np.random.default_rng(int(seed))
    allowed = "an int >= 0, a numpy.random.SeedSequence"
    allowed += ", or a numpy.random.Generator" if allow_generator else ""
    fail(field, seed, f"is not {allowed}")
