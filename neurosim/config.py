"""Frozen, validated configuration records, loadable from TOML/JSON and overridable.

Every record is a frozen dataclass validated in ``__post_init__``: a bad value raises
:class:`ConfigError` naming the field, the value and what is allowed. ``from_dict`` rejects
unknown keys (listing the valid ones) and ``apply_overrides`` handles CLI ``--set a.b=value``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and the allowed range."""


def _check(cond: bool, name: str, value: Any, allowed: str) -> None:
    if not cond:
        raise ConfigError(f"{name} = {value!r} is invalid: {allowed}")


def check_choice(name: str, value: str, choices) -> None:
    """Raise a ConfigError listing the valid names when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{name} = {value!r} is unknown; valid names: {', '.join(sorted(choices))}")


def check_range(name: str, value: float, lo: float = -math.inf, hi: float = math.inf,
                lo_open: bool = False, hi_open: bool = False, allow_inf: bool = False) -> None:
    """Raise a ConfigError unless ``lo <= value <= hi`` (open ends where requested).

    NaN is always refused, and so is infinity unless ``allow_inf`` (a field where infinity
    means "never", e.g. a threshold that switches a mechanism off).
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    if ok and not allow_inf and math.isinf(value):
        _check(False, name, value, f"must be a finite number in [{lo}, {hi}]")
    if ok:
        ok = (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    _check(ok, name, value, f"must lie in {left}{lo}, {hi}{right}")


@contextlib.contextmanager
def user_keys(mapping: dict[str, str]):
    """Report errors raised under internal field names by the user's config keys.

    Code that builds records from a config section (e.g. a paradigm's ``Block``) raises
    ``"Block.n_trials = 0 is outside [1, inf)"``; inside ``with user_keys({"Block.n_trials":
    "paradigm.main_trials"})`` that becomes a ConfigError
    ``"paradigm.main_trials: Block.n_trials = 0 is outside [1, inf)"``.
    """
    try:
        yield
    except ValueError as err:
        msg = str(err)
        for internal, key in mapping.items():
            if msg.startswith(internal):
                raise ConfigError(f"{key}: {msg}") from None
        raise


NEURON_MODELS = ("izhikevich2003", "regular_spiking", "intrinsically_bursting", "chattering",
                 "fast_spiking", "low_threshold_spiking", "thalamo_cortical", "resonator",
                 "nicola_clopath2017")
INTEGRATIONS = ("izhikevich2003", "euler")
CONNECTIVITIES = ("dense", "sparse")
WEIGHT_DISTRIBUTIONS = ("uniform", "gaussian")
SYNAPSES = ("delta", "exponential", "double_exponential")
FEATURE_KERNELS = ("exponential", "double_exponential")
BACKENDS = ("numpy", "numba", "cuda", "auto")
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class SynapseConfig:
    """Synaptic current model.

    ``delta``: a spike through weight w jumps v_post by w (Brian2 ``on_pre='v_post += w'``).
    ``exponential`` / ``double_exponential``: current kernels of unit area, so a spike through
    w delivers a total charge w (current x ms); decay ``tau_decay_ms``, rise ``tau_rise_ms``.
    """
    model: str = "delta"
    tau_decay_ms: float = 20.0
    tau_rise_ms: float = 2.0

    def __post_init__(self):
        check_choice("synapse.model", self.model, SYNAPSES)
        check_range("synapse.tau_decay_ms", self.tau_decay_ms, 0, lo_open=True)
        check_range("synapse.tau_rise_ms", self.tau_rise_ms, 0, lo_open=True)


@dataclass(frozen=True)
class FeaturesConfig:
    """Readout features: filtered spike trains of every neuron (the readout inputs).

    A fast bank (``tau_fast_ms``) and an optional slow bank (``tau_slow_ms``, 0 = off) scaled
    by ``slow_scale`` (default tau_fast / tau_slow, so both banks have similar magnitude);
    ``kernel='exponential'`` jumps by 1 per spike, ``'double_exponential'`` uses a unit-area
    kernel with rise ``tau_rise_ms`` (Nicola & Clopath). With ``centering`` every feature has
    its running mean (time constant ``centering_tau_ms``) subtracted; ``bias`` appends a
    constant feature 1.
    """
    tau_fast_ms: float = 20.0
    tau_slow_ms: float = 0.0
    slow_scale: float | None = None
    kernel: str = "exponential"
    tau_rise_ms: float = 2.0
    centering: bool = False
    centering_tau_ms: float = 5000.0
    bias: bool = False

    def __post_init__(self):
        check_range("features.tau_fast_ms", self.tau_fast_ms, 0, lo_open=True)
        check_range("features.tau_slow_ms", self.tau_slow_ms, 0)
        check_choice("features.kernel", self.kernel, FEATURE_KERNELS)
        check_range("features.tau_rise_ms", self.tau_rise_ms, 0, lo_open=True)
        check_range("features.centering_tau_ms", self.centering_tau_ms, 0, lo_open=True)
        if self.slow_scale is not None:
            check_range("features.slow_scale", self.slow_scale, 0)

    @property
    def resolved_slow_scale(self) -> float:
        if self.slow_scale is not None:
            return float(self.slow_scale)
        return self.tau_fast_ms / self.tau_slow_ms if self.tau_slow_ms > 0 else 0.0


@dataclass(frozen=True)
class ChannelConfig:
    """One external input channel: while its drive is d, neurons it projects to get d * amplitude.

    It projects onto a random ``fraction`` of the ``population`` ('excitatory', 'inhibitory'
    or 'all'); channels with ``exclusive=True`` get mutually disjoint neuron subsets.
    """
    name: str = "input"
    amplitude: float = 1.0
    fraction: float = 1.0
    population: str = "excitatory"
    exclusive: bool = False

    def __post_init__(self):
        check_range(f"inputs[{self.name}].fraction", self.fraction, 0, 1)
        check_range(f"inputs[{self.name}].amplitude", self.amplitude)
        check_choice(f"inputs[{self.name}].population", self.population,
                     ("excitatory", "inhibitory", "all"))


@dataclass(frozen=True)
class NetworkConfig:
    """A heterogeneous Izhikevich network (defaults: the Izhikevich 2003 benchmark network).

    Currents are in the model's dimensionless units (per Izhikevich 2003), times in ms.
    Weights: ``uniform`` gives ``weight_excitatory * U(0,1)`` from E and
    ``-weight_inhibitory * U(0,1)`` from I; ``gaussian`` gives ``gaussian_gain * N(0,1) /
    (p sqrt(N))`` (Nicola & Clopath). ``scale_weights_with_n`` multiplies by 1000 / N.
    Noise: a Gaussian current of std ``noise_*`` drawn anew each step (Izhikevich's thalamic
    input convention). Bias: a tonic current per neuron drawn from U(lo, hi).
    """
    n_neurons: int = 1000
    excitatory_fraction: float = 0.8
    neuron_model: str = "izhikevich2003"
    integration: str = "izhikevich2003"
    connectivity: str = "dense"
    connection_probability: float = 1.0
    allow_self_connections: bool = True
    weight_distribution: str = "uniform"
    weight_excitatory: float = 0.5
    weight_inhibitory: float = 1.0
    gaussian_gain: float = 5000.0
    scale_weights_with_n: bool = False
    bias_excitatory: tuple[float, float] = (0.0, 0.0)
    bias_inhibitory: tuple[float, float] = (0.0, 0.0)
    noise_excitatory: float = 5.0
    noise_inhibitory: float = 2.0
    synapse: SynapseConfig = field(default_factory=SynapseConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    inputs: tuple[ChannelConfig, ...] = ()

    def __post_init__(self):
        _check(isinstance(self.n_neurons, int) and self.n_neurons > 0, "network.n_neurons",
               self.n_neurons, "must be a positive integer")
        check_range("network.excitatory_fraction", self.excitatory_fraction, 0, 1)
        check_choice("network.neuron_model", self.neuron_model, NEURON_MODELS)
        check_choice("network.integration", self.integration, INTEGRATIONS)
        check_choice("network.connectivity", self.connectivity, CONNECTIVITIES)
        check_range("network.connection_probability", self.connection_probability, 0, 1)
        check_choice("network.weight_distribution", self.weight_distribution, WEIGHT_DISTRIBUTIONS)
        check_range("network.weight_excitatory", self.weight_excitatory, 0)
        check_range("network.weight_inhibitory", self.weight_inhibitory, 0)
        check_range("network.gaussian_gain", self.gaussian_gain, 0)
        check_range("network.noise_excitatory", self.noise_excitatory, 0)
        check_range("network.noise_inhibitory", self.noise_inhibitory, 0)
        for name in ("bias_excitatory", "bias_inhibitory"):
            lo_hi = getattr(self, name)
            _check(len(lo_hi) == 2 and lo_hi[0] <= lo_hi[1], f"network.{name}", lo_hi,
                   "must be a pair (low, high) with low <= high")

    @property
    def n_excitatory(self) -> int:
        return int(round(self.n_neurons * self.excitatory_fraction))


@dataclass(frozen=True)
class RunConfig:
    """How to run: time step, duration, backend, precision, seed, recording.

    ``dt_ms`` is the integration step; time is kept as an integer step count. ``chunk_ms`` is
    the length of one compiled call (Python only acts between chunks). ``record_traces``
    lists neuron ids whose v is recorded every step. ``checkpoint_every_chunks`` saves the
    full simulation state to the results file every that many chunks (0: never), so that an
    interrupted run can be resumed (``neurosim run ... --resume FILE``).
    """
    dt_ms: float = 1.0
    duration_ms: float = 1000.0
    chunk_ms: float = 1000.0
    backend: str = "numba"
    dtype: str = "float32"
    seed: int = 0
    record_spikes: bool = True
    record_traces: tuple[int, ...] = ()
    checkpoint_every_chunks: int = 10

    def __post_init__(self):
        check_range("run.dt_ms", self.dt_ms, 0, 10, lo_open=True)
        check_range("run.duration_ms", self.duration_ms, 0)
        check_range("run.chunk_ms", self.chunk_ms, 0, lo_open=True)
        check_choice("run.backend", self.backend, BACKENDS)
        check_choice("run.dtype", self.dtype, DTYPES)
        _check(isinstance(self.seed, int) and self.seed >= 0, "run.seed", self.seed,
               "must be a non-negative integer")
        _check(type(self.checkpoint_every_chunks) is int and self.checkpoint_every_chunks >= 0,
               "run.checkpoint_every_chunks", self.checkpoint_every_chunks,
               "must be a non-negative integer (0 = no checkpoints)")

    def steps(self, ms: float) -> int:
        """Number of integer steps in ``ms`` milliseconds."""
        return int(round(ms / self.dt_ms))


# ---------------------------------------------------------------- dict / file conversion

def _convert(tp, value, path: str):
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{path} must be a table/dict, got {value!r}")
        return from_dict(tp, value, path)
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        return tuple(_convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if tp is float or tp == (float | None):
        if value is None and tp != float:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise ConfigError(f"{path} must be a finite number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{path} must be an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path} must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path} must be a string, got {value!r}")
        return value
    return value


def from_dict(cls, data: dict, path: str = ""):
    """Build dataclass ``cls`` from a nested dict, rejecting unknown keys by name."""
    hints = get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        where = path or cls.__name__
        raise ConfigError(f"unknown key(s) {unknown} in {where}; valid keys: {', '.join(names)}")
    kwargs = {k: _convert(hints[k], v, f"{path}.{k}" if path else k) for k, v in data.items()}
    return cls(**kwargs)


def to_dict(obj) -> dict:
    """Plain nested dict (JSON-serialisable) of a config dataclass."""
    return json.loads(json.dumps(dataclasses.asdict(obj)))


def load_file(path: str | Path) -> dict:
    """Read a TOML or JSON file into a dict (by extension)."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ConfigError(f"config file {str(path)!r} {what}")
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise ConfigError(f"config file {str(path)!r}: unknown extension; use .toml or .json")
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as err:  # decode errors are ValueErrors
        raise ConfigError(f"config file {str(path)!r} cannot be read: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a table of sections, "
                          f"not {type(data).__name__}")
    return data


def _parse_scalar(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        low = text.strip().lower()
        if low in ("true", "false"):
            return low == "true"
        return text


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``key.sub=value`` overrides (values parsed as JSON, else strings) to a nested dict."""
    data = json.loads(json.dumps(data))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        if not all(parts):
            raise ConfigError(f"override {item!r}: the key before '=' must look like "
                              "section.key (no empty names)")
        node = data
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {p!r} is not a section")
        node[parts[-1]] = _parse_scalar(text)
    return data


def merge(base: dict, update: dict) -> dict:
    """Recursively merge ``update`` into a copy of ``base``."""
    out = json.loads(json.dumps(base))
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out
