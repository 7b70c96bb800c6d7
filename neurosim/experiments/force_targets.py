"""FORCE targets: the signal a FORCE network learns to produce, built from the ``target`` section.

A target is an array of shape ``(n_steps, n_outputs)`` sampled at ``t_ms = i * dt`` (ms, from
the start of the run, settle included). ``target.kind`` picks the source:

* ``"sines"`` (default): one output, ``sum_k a_k sin(2 pi f_k t_s + phi_k)`` over
  ``target.components = [{frequency_hz, amplitude, phase}]`` (t_s in s, phase in rad;
  amplitude defaults to 1, phase to 0). ``target.frequency_hz`` / ``target.amplitude`` set
  in the user's config are a shorthand for one component of phase 0.
* ``"file"``: a ``.npy`` or ``.h5`` array (``target.dataset`` names the HDF5 dataset; may be
  left empty when the file holds one), shape ``(n_samples,)`` or ``(n_samples, n_outputs)``,
  sample j at ``j * target.dt_ms``, linearly interpolated to the run's dt. The file must cover
  the whole protocol. Setting ``target.file`` alone selects this kind.
* ``"vanderpol"``: van der Pol ``x'' = mu (1 - x^2) x' - x`` (Nicola & Clopath 2017,
  ModelDB 190565) with ``t_vdp = t_ms / time_scale`` and target ``(x, dx/dt_vdp) /
  space_scale`` (2 outputs); integrated with ``scipy.integrate.solve_ivp`` (LSODA) from (2, 0)
  after a burn-in of ``BURN_IN`` time units, so the target starts on the limit cycle.
* ``"callable"``: a Python function ``f(t_ms) -> (n_steps,)`` or ``(n_steps, n_outputs)``,
  passed as ``neurosim.experiments.force.run(..., target=f)`` (not from a config file).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import ConfigError, check_choice, check_range
from ..config_check import check_section

KINDS = ("sines", "file", "vanderpol", "callable")
COMPONENT = {"frequency_hz": 5.0, "amplitude": 1.0, "phase": 0.0}
BURN_IN = 100.0   # van der Pol time units integrated before t = 0 (~9 periods at mu = 5)


def normalize_user(user: dict | None) -> dict:
    """The user's config with the target shorthands resolved (before the key check).

    ``target.frequency_hz`` / ``target.amplitude`` become one component (an error together
    with ``target.components``); ``target.file`` without ``target.kind`` selects ``"file"``.
    """
    user = dict(user or {})
    tc = user.get("target")
    if not isinstance(tc, dict):
        return user
    tc = dict(tc)
    short = [k for k in ("frequency_hz", "amplitude") if k in tc]
    if short and "components" in tc:
        raise ConfigError(f"target.{short[0]} and target.components are both set: give one "
                          "sine as target.frequency_hz / target.amplitude, or "
                          "target.components = [{frequency_hz, amplitude, phase}], not both")
    if short:
        tc["components"] = [{k: tc[k] for k in short}]
    if "file" in tc and "kind" not in tc:
        tc["kind"] = "file"
    user["target"] = tc
    return user


def check_components(components) -> list[dict]:
    """Each component with every key (amplitude 1, phase 0 by default), checked by its key
    ``target.components[i].<key>``; ConfigError on an unknown key, a missing frequency, a
    negative frequency or a non-positive amplitude."""
    if not components:
        raise ConfigError("target.components = [] is invalid: needs at least one sine "
                          "{frequency_hz, amplitude, phase}")
    out = []
    for i, comp in enumerate(components):
        key = f"target.components[{i}]"
        if not isinstance(comp, dict):
            raise ConfigError(f"{key} = {comp!r} is invalid: must be a table "
                              "{frequency_hz, amplitude, phase}")
        comp = check_section(COMPONENT, comp, key)
        if "frequency_hz" not in comp:
            raise ConfigError(f"{key}.frequency_hz is missing: every sine needs a frequency")
        comp = {**COMPONENT, **comp}
        check_range(f"{key}.frequency_hz", comp["frequency_hz"], 0)
        check_range(f"{key}.amplitude", comp["amplitude"], 0, lo_open=True)
        check_range(f"{key}.phase", comp["phase"])
        out.append(comp)
    return out


def check_target(tc: dict, fn=None) -> dict:
    """The resolved ``target`` section checked for its kind; returns the settings that define
    the target (what is stored with the results): ``kind`` and that kind's keys."""
    kind = "callable" if fn is not None else tc["kind"]
    check_choice("target.kind", kind, KINDS)
    if kind == "sines":
        return {"kind": kind, "components": check_components(tc["components"])}
    if kind == "file":
        if not tc["file"]:
            raise ConfigError("target.kind = 'file' needs target.file (a .npy or .h5 array)")
        path = Path(tc["file"]).expanduser()
        if path.suffix not in (".npy", ".h5", ".hdf5"):
            raise ConfigError(f"target.file = {tc['file']!r} is invalid: must end in .npy, "
                              ".h5 or .hdf5")
        if not path.is_file():
            raise ConfigError(f"target.file = {tc['file']!r}: no such file")
        return {"kind": kind, "file": str(path), "dataset": tc["dataset"], "dt_ms": tc["dt_ms"]}
    if kind == "vanderpol":
        return {"kind": kind, **{k: tc[k] for k in ("mu", "space_scale", "time_scale")}}
    if fn is None:
        raise ConfigError("target.kind = 'callable' needs a Python function: call "
                          "neurosim.experiments.force.run(config, out, target=f)")
    return {"kind": kind, "callable": getattr(fn, "__qualname__", repr(fn))}


def sines(components: list[dict], t_ms: np.ndarray) -> np.ndarray:
    """``sum_k a_k sin(2 pi f_k t_s + phi_k)``, shape ``(n_steps, 1)``."""
    t_s = t_ms / 1000.0
    out = np.zeros(t_ms.shape)
    for c in components:
        out = out + c["amplitude"] * np.sin(2.0 * np.pi * c["frequency_hz"] * t_s + c["phase"])
    return out[:, None]


def load_array(path: str, dataset: str = "") -> np.ndarray:
    """The array of a ``.npy`` file or of an HDF5 dataset, as ``(n_samples, n_outputs)``
    float64 (ConfigError naming ``target.file`` / ``target.dataset`` otherwise)."""
    if path.endswith(".npy"):
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ConfigError(f"target.file = {path!r} cannot be read: {err}") from None
    else:
        import h5py
        with h5py.File(path, "r") as f:
            names = []
            f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
            if not dataset and len(names) != 1:
                raise ConfigError(f"target.file = {path!r} holds {len(names)} datasets; name "
                                  f"one as target.dataset: {', '.join(names) or '(none)'}")
            name = dataset or names[0]
            if name not in names:
                raise ConfigError(f"target.dataset = {dataset!r} is not in {path}; its "
                                  f"datasets: {', '.join(names) or '(none)'}")
            data = f[name][()]
    data = np.asarray(data)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[0] < 2 or data.shape[1] < 1 \
            or not np.issubdtype(data.dtype, np.number):
        raise ConfigError(f"target.file = {path!r}: the array has shape {data.shape} "
                          f"({data.dtype}); must be numbers of shape (n_samples >= 2,) or "
                          "(n_samples, n_outputs), one output per column")
    data = data.astype(np.float64)
    if not np.all(np.isfinite(data)):
        raise ConfigError(f"target.file = {path!r} holds NaN or infinite values")
    return data


def resample(data: np.ndarray, data_dt_ms: float, t_ms: np.ndarray) -> np.ndarray:
    """``data`` (sample j at ``j * data_dt_ms``) linearly interpolated at ``t_ms``, column by
    column: shape ``(len(t_ms), n_outputs)``; ConfigError if ``t_ms`` runs past the data."""
    end = (data.shape[0] - 1) * data_dt_ms
    if t_ms.size and t_ms[-1] > end * (1 + 1e-12):
        raise ConfigError(f"target.file covers {end:g} ms ({data.shape[0]} samples every "
                          f"target.dt_ms = {data_dt_ms:g} ms) but the protocol runs "
                          f"{t_ms[-1]:g} ms: shorten protocol.* or give a longer target")
    grid = np.arange(data.shape[0]) * data_dt_ms
    return np.stack([np.interp(t_ms, grid, col) for col in data.T], axis=1)


def vanderpol(mu: float, space_scale: float, time_scale: float, t_ms: np.ndarray) -> np.ndarray:
    """``(x, dx/dt_vdp) / space_scale`` of van der Pol at ``t_vdp = t_ms / time_scale``,
    shape ``(n_steps, 2)``, started on the limit cycle (see the module doc)."""
    from scipy.integrate import solve_ivp

    def rhs(_, y):
        return [y[1], mu * (1.0 - y[0] ** 2) * y[1] - y[0]]
    t = BURN_IN + t_ms / time_scale
    sol = solve_ivp(rhs, (0.0, float(t[-1])), [2.0, 0.0], method="LSODA", t_eval=t,
                    rtol=1e-8, atol=1e-10)
    if not sol.success:
        raise RuntimeError(f"van der Pol integration failed: {sol.message}")
    return sol.y.T / space_scale


def make_target(spec: dict, t_ms: np.ndarray, fn=None) -> np.ndarray:
    """The target of a checked ``spec`` (:func:`check_target`) at ``t_ms`` (ms), shape
    ``(n_steps, n_outputs)`` float64."""
    kind = spec["kind"]
    if kind == "sines":
        return sines(spec["components"], t_ms)
    if kind == "file":
        return resample(load_array(spec["file"], spec["dataset"]), spec["dt_ms"], t_ms)
    if kind == "vanderpol":
        return vanderpol(spec["mu"], spec["space_scale"], spec["time_scale"], t_ms)
    out = np.asarray(fn(t_ms), dtype=np.float64)
    shape = out.shape
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2 or out.shape[0] != t_ms.size or out.shape[1] < 1:
        raise ConfigError(f"target callable returned shape {shape}; must be "
                          f"({t_ms.size},) or ({t_ms.size}, n_outputs) for {t_ms.size} steps")
    if not np.all(np.isfinite(out)):
        raise ConfigError("target callable returned NaN or infinite values")
    return out


def is_periodic(spec: dict) -> bool:
    """Whether the spectral peak is reported: sums of sines only."""
    return spec["kind"] == "sines"


def peak_frequency(spec: dict) -> float:
    """The expected spectral peak of a sum of sines: its largest component's frequency (Hz)."""
    return max(spec["components"], key=lambda c: c["amplitude"])["frequency_hz"]


def describe(spec: dict) -> str:
    """A short name of the target, for titles."""
    kind = spec["kind"]
    if kind == "sines":
        if len(spec["components"]) == 1:
            return f"{spec['components'][0]['frequency_hz']:g} Hz sine"
        return "sum of " + " + ".join(f"{c['frequency_hz']:g}" for c in spec["components"]) \
            + " Hz sines"
    if kind == "file":
        return f"target from {Path(spec['file']).name}"
    if kind == "vanderpol":
        return f"van der Pol (mu {spec['mu']:g})"
    return f"target {spec['callable']}"
