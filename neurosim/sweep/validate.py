"""Check every sweep point with its experiment's own config rules, before anything runs.

A named experiment (``neurosim run NAME``) resolves each point's config exactly as ``neurosim
run NAME --config`` would (:func:`neurosim.experiments.common.resolve` with the module's
``OPEN_PATHS`` and ``BOUNDS``), then builds its ``network`` and ``run`` records, whose own
checks name the key. A callable experiment (``"module:function"``) with a ``DEFAULT_CONFIG``
attribute (and optionally ``OPEN_PATHS``, ``BOUNDS``) is checked the same way; one without
is given the merged dict unchecked.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json

from ..config import ConfigError
from .spec import SweepError, SweepSpec, expand, point_config


@dataclasses.dataclass(frozen=True)
class Point:
    """One sweep point: ``id`` (16 hex digits, stable hash of the experiment and resolved
    config), ``values`` ({field: value} of the grid), ``config`` (the user-level config the
    experiment receives) and ``resolved`` (that config after the experiment's defaults)."""
    id: str
    values: dict
    config: dict
    resolved: dict


def point_id(experiment: str, resolved: dict) -> str:
    """Stable hash of a point: sha256 of the canonical JSON of experiment name and resolved
    config (sorted keys), first 16 hex digits. Equal configs give equal ids on any machine."""
    text = json.dumps({"experiment": experiment, "config": resolved}, sort_keys=True,
                      separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def experiment_target(experiment):
    """``(module, callable or None)``: the module of a named experiment, or the function of a
    ``"module:function"`` / callable experiment."""
    if callable(experiment):
        return None, experiment
    if ":" in experiment:
        mod_name, _, fn_name = experiment.partition(":")
        try:
            fn = getattr(importlib.import_module(mod_name), fn_name)
        except (ImportError, AttributeError) as err:
            raise SweepError(f"sweep: experiment {experiment!r} cannot be imported: {err}") from None
        if not callable(fn):
            raise SweepError(f"sweep: experiment {experiment!r} is not callable")
        return None, fn
    from ..experiments import get_experiment
    try:
        return get_experiment(experiment), None
    except ConfigError as err:
        raise SweepError(f"sweep: {err}") from None


def _extra_checks(name: str, config: dict) -> None:
    """Checks an experiment makes only once it starts, run here so that a bad grid value
    fails before the sweep starts (the what/when paradigm's streams: lengths, latencies)."""
    if name in ("whatwhen",):
        from ..experiments import whatwhen
        from ..experiments.common import network_and_run
        whatwhen._specs(config["paradigm"], network_and_run(config)[1].dt_ms)


def resolve_point(experiment, config: dict) -> dict:
    """The experiment's resolved config for a user-level ``config`` (ConfigError if invalid)."""
    module, fn = experiment_target(experiment)
    holder = module if module is not None else fn
    default = getattr(holder, "DEFAULT_CONFIG", None)
    if default is None:
        return json.loads(json.dumps(config))
    from ..experiments.common import network_and_run, resolve_experiment
    resolved = resolve_experiment(holder, config)
    if "network" in resolved or "run" in resolved:
        network_and_run(resolved)
    if module is not None:
        _extra_checks(experiment, resolved)
    return resolved


def _describe(values: dict) -> str:
    return ", ".join(f"{f} = {json.dumps(v)}" for f, v in values.items())


def points(spec: SweepSpec) -> list[Point]:
    """Every point of ``spec``, each checked; a SweepError names the point's grid values and
    the experiment's own message (which names the key and what is allowed)."""
    name = spec.experiment_name
    experiment_target(spec.experiment)    # unknown experiment: one error, before the grid
    try:
        resolve_point(spec.experiment, spec.base)
    except ConfigError as err:
        raise SweepError(f"sweep: [base]: {err}") from None
    out, seen = [], {}
    for values in expand(spec):
        config = point_config(spec.base, values)
        try:
            resolved = resolve_point(spec.experiment, config)
        except ConfigError as err:
            raise SweepError(f"sweep: point {_describe(values)}: {err}") from None
        pid = point_id(name, resolved)
        if pid in seen:
            raise SweepError(f"sweep: points {_describe(seen[pid])} and {_describe(values)} "
                             "resolve to the same config; drop the duplicate value")
        seen[pid] = values
        out.append(Point(pid, values, config, resolved))
    return out
