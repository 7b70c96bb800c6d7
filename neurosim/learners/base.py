"""The learner contract and registry (reservoirpy-style: small rules, chosen by name).

A learner holds frozen hyper-parameters. It builds the readout record the compiled kernel
updates every step (``init_state``), may adjust that record's scalars before a chunk
(``before_chunk``, e.g. a normalised learning rate), applies offline updates after a chunk
(``consolidate``: per trial, in the inter-trial interval), and can reset its state at a
switch (``reset``). The per-step update itself runs inside ``run_chunk``, selected by the
readout's ``rule`` code: a built-in one (frozen, rls) or a local rule registered with
``neurosim.kernels.plugins.register_rule``, whose per-synapse update lives in its learner's
file: ``"online"`` (``three_factor.py``), ``"accumulate"`` (``continual.py``), ``"oja"``
(``oja.py``, the whole rule in one file). A local rule reads its hyper-parameters from the
readout's ``hyper`` array, which ``before_chunk`` may set (the rate, ``hyper[0]``).
"""
from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

from ..config import ConfigError, check_choice
from ..kernels.records import Readout

LEARNERS: dict[str, type] = {}


def normalised_rate(readout: Readout, eta0: float) -> float:
    """``eta0 * 1e-3 / <|x|^2>``, the mean squared feature norm over the gated steps seen so
    far (``readout.fsums``); 0.0 before the first gated step (no learning yet)."""
    total, count = readout.fsums[0], readout.fsums[1]
    return 0.0 if count == 0 else eta0 * 1e-3 / (total / count)


def register(cls):
    """Class decorator adding a learner to the registry under ``cls.name``."""
    LEARNERS[cls.name] = cls
    return cls


def make_learner(name: str, key: str = "learner", **hyper):
    """Build the learner ``name`` with hyper-parameters ``hyper`` (unknown names listed).

    ``key`` is the config section the settings came from; errors name it (``learner.eta0``).
    """
    check_choice(f"{key}.name", name, LEARNERS)
    cls = LEARNERS[name]
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(hyper) - valid)
    if unknown:
        raise ConfigError(f"{key}: unknown hyper-parameter(s) {unknown} of learner {name!r}; "
                          f"valid: {', '.join(sorted(valid))}")
    try:
        return cls(**hyper)
    except ConfigError as err:   # the record names its fields "<rule>.<field>"
        raise ConfigError(str(err).replace(f"{name}.", f"{key}.", 1)) from None


@dataclasses.dataclass(frozen=True)
class Learner(abc.ABC):
    """Base class: a frozen record of hyper-parameters plus the four contract methods."""
    name: ClassVar[str] = "base"

    @abc.abstractmethod
    def init_state(self, n_features: int, n_outputs: int, n_neurons: int, dtype,
                   dt_ms: float) -> Readout:
        """Build the readout record (weights (n_outputs, n_features) and learner state)."""

    def before_chunk(self, readout: Readout, chunk) -> Readout:
        """Return the readout record to use for the next chunk (default: unchanged)."""
        return readout

    def consolidate(self, readout: Readout, chunk, result) -> None:
        """Offline update after a chunk (default: none)."""

    def reset(self, readout: Readout, scope: str = "all") -> None:
        """Reset learner state at a switch (default: nothing to reset)."""
