"""Check a user's config against an experiment's default config, key by key.

Every experiment declares its settings as a nested default dict (``DEFAULT_CONFIG``). The
user's dict (TOML, JSON or ``--set``) may only name keys that exist there, with values of
the default's kind:

* an unknown section or key is a :class:`ConfigError` that names it, lists the valid keys and
  suggests the nearest one ("did you mean");
* booleans must be booleans, integers integers (a float with an integral value is accepted),
  reals finite numbers (NaN and infinity are refused), strings strings, tables tables;
* lists must be lists whose elements have the kind of the default's elements.

Sections held by a validated record (``network``, ``run``: see :mod:`neurosim.config`) are
only checked to be tables here; their record's ``from_dict`` names unknown keys itself.
Sections listed as *open* (e.g. a learner's hyper-parameters, which depend on the learner
chosen) may hold keys the default lacks: those are left to the code that builds them, while
the keys the default has keep their kind. Value ranges are checked where each value is
used, under the same key names.
"""
from __future__ import annotations

import difflib
import math

from .config import ConfigError, check_range

RECORD_SECTIONS = ("network", "run")


def _kind(value) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a finite number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _unknown(path: str, key: str, valid) -> ConfigError:
    where = f"{path}.{key}" if path else key
    valid = sorted(valid)
    near = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    what = "section" if not path else "key"
    return ConfigError(f"unknown {what} {where!r}{hint}; valid: {', '.join(valid)}")


def _check_value(default, value, path: str, open_paths=(), bounds=None):
    """``value`` converted to the default's kind, or a ConfigError naming ``path``."""
    bad = ConfigError(f"{path} = {value!r} is invalid: must be {_kind(default)}")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad
        return value
    if isinstance(default, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise bad
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise bad
        return value
    if isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            raise bad
        if not default:
            return list(value)
        if not value:
            raise ConfigError(f"{path} = [] is invalid: needs at least one element")
        return [_check_value(default[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise bad
        return check_section(default, value, path, open_paths, bounds)
    return value


def _check_bounds(path: str, value, bounds: dict) -> None:
    """Check ``value`` (a number, or each number of a list) against ``bounds[path]`` or the
    ``"section.*.key"`` pattern that matches it: ``(lo, hi)`` closed, ``(lo, hi, "lo_open")``,
    ``(lo, hi, "hi_open")``; None for no limit."""
    spec = bounds.get(path)
    if spec is None:
        parts = path.split(".")
        for i in range(len(parts)):
            spec = bounds.get(".".join(parts[:i] + ["*"] + parts[i + 1:]))
            if spec is not None:
                break
    if spec is None:
        return
    lo, hi, *flags = spec
    items = value if isinstance(value, list) else [value]
    for k, v in enumerate(items):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            check_range(f"{path}[{k}]" if isinstance(value, list) else path, v,
                        -math.inf if lo is None else lo, math.inf if hi is None else hi,
                        lo_open="lo_open" in flags, hi_open="hi_open" in flags)


def check_section(default: dict, user: dict, path: str, open_paths=(), bounds=None) -> dict:
    """The user's table ``user`` checked against ``default`` (keys and value kinds)."""
    out = {}
    for key, value in user.items():
        sub = f"{path}.{key}" if path else key
        if not isinstance(key, str) or not key:
            raise ConfigError(f"empty key in {path or 'the config'}: every setting needs a name")
        if key not in default:
            raise _unknown(path, key, default)
        if sub in open_paths or f"{path}.*" in open_paths:
            if not isinstance(value, dict):
                raise ConfigError(f"{sub} = {value!r} is invalid: must be a table")
            # keys the default knows keep their kind; further keys go to the builder
            known = {k: v for k, v in value.items() if k in default[key]}
            out[key] = dict(value, **check_section(default[key], known, sub, (), bounds))
        else:
            out[key] = _check_value(default[key], value, sub, open_paths, bounds)
            if bounds and not isinstance(out[key], dict):
                _check_bounds(sub, out[key], bounds)
    return out


def check_config(default: dict, user: dict, open_paths=(), bounds=None) -> dict:
    """The user's config checked against the experiment's ``default`` (see module doc).

    ``open_paths``: dotted section names whose keys are validated elsewhere (e.g.
    ``"learner"``; ``"learners.*"`` opens every table under ``learners``). ``bounds``: the
    allowed interval of numeric settings by dotted key (see :func:`_check_bounds`). Returns
    the user's dict with numbers converted to the default's kind.
    """
    if not isinstance(user, dict):
        raise ConfigError(f"a config must be a table of sections, got {user!r}")
    out = {}
    for key, value in user.items():
        if key in RECORD_SECTIONS and key in default:
            if not isinstance(value, dict):
                raise ConfigError(f"{key} = {value!r} is invalid: must be a table")
            out[key] = value
            continue
        if not isinstance(key, str) or not key:
            raise ConfigError("empty section name in the config: every setting needs a name")
        if key not in default:
            raise _unknown("", key, default)
        out.update(check_section(default, {key: value}, "", open_paths, bounds))
    return out
