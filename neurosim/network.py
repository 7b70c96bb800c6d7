"""Build a :class:`Network` (plain arrays) from a :class:`~neurosim.config.NetworkConfig`.

Random streams come from one ``numpy.random.SeedSequence`` spawned into named children (see
:func:`seed_streams`), so connectivity, heterogeneity, inputs, initial state, noise and the
paradigm are independent and each reproducible from the run seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ConfigError, NetworkConfig

STREAM_NAMES = ("heterogeneity", "connectivity", "inputs", "initial_state", "noise", "paradigm")

# Izhikevich (2003) single-neuron types: (a, b, c, d).
NEURON_TYPES = {
    "regular_spiking": (0.02, 0.2, -65.0, 8.0),
    "intrinsically_bursting": (0.02, 0.2, -55.0, 4.0),
    "chattering": (0.02, 0.2, -50.0, 2.0),
    "fast_spiking": (0.1, 0.2, -65.0, 2.0),
    "low_threshold_spiking": (0.02, 0.25, -65.0, 2.0),
    "thalamo_cortical": (0.02, 0.25, -65.0, 0.05),
    "resonator": (0.1, 0.26, -65.0, 2.0),
}

# Model forms: 0 = Izhikevich 2003, dv/dt = 0.04 v^2 + 5 v + 140 - u + I, du/dt = a (b v - u);
#              1 = Izhikevich 2007, C dv/dt = k (v - vr)(v - vt) - u + I, du/dt = a (b (v - vr) - u).
FORM_2003, FORM_2007 = 0, 1
# Nicola & Clopath (2017) parameters of the 2007 form (ModelDB 190565 values, MODEL.md).
NICOLA_CLOPATH = dict(C=250.0, k=2.5, vr=-60.0, b=-2.0, a=0.01, d=200.0, v_peak=30.0,
                      v_reset=-65.0, bias=1000.0)


def seed_streams(seed: int) -> dict[str, np.random.SeedSequence]:
    """Independent child seed sequences, one per component named in ``STREAM_NAMES``."""
    children = np.random.SeedSequence(seed).spawn(len(STREAM_NAMES))
    return dict(zip(STREAM_NAMES, children))


@dataclass
class Network:
    """A built network: per-neuron parameters, connectivity and input projections.

    Attributes
    ----------
    a, b, c, d : ndarray (N,)
        Izhikevich parameters per neuron (c is the reset potential in mV).
    bias : ndarray (N,)
        Tonic input current per neuron.
    noise_sigma : ndarray (N,)
        Std of the Gaussian noise current per neuron, drawn anew every step.
    excitatory : ndarray (N,) bool
    form : int
        ``FORM_2003`` or ``FORM_2007``; ``constants`` holds (C, k, vr, vt, v_peak) for the
        2007 form and (1, 0.04, 0, 0, v_peak) for 2003 (only v_peak is used there).
    weights : ndarray (N, N) or None
        Dense weights indexed ``[pre, post]`` (a row per presynaptic neuron), or None if sparse.
    csr : tuple (indptr (N+1,), indices (nnz,), data (nnz,)) or None
        Sparse weights, a row per presynaptic neuron holding postsynaptic ids.
    input_projection : ndarray (n_channels, N)
        Current per unit drive of each channel onto each neuron.
    v0, u0 : ndarray (N,)
        Initial state.
    """
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    bias: np.ndarray
    noise_sigma: np.ndarray
    excitatory: np.ndarray
    form: int
    constants: np.ndarray
    weights: np.ndarray | None
    csr: tuple | None
    input_projection: np.ndarray
    v0: np.ndarray
    u0: np.ndarray
    config: NetworkConfig

    @property
    def n_neurons(self) -> int:
        return self.a.shape[0]

    @property
    def n_synapses(self) -> int:
        if self.csr is not None:
            return int(self.csr[0][-1])
        return int(np.count_nonzero(self.weights))


def _neuron_parameters(cfg: NetworkConfig, rng: np.random.Generator):
    n, ne = cfg.n_neurons, cfg.n_excitatory
    excitatory = np.arange(n) < ne
    if cfg.neuron_model == "izhikevich2003":
        r = rng.random(n)
        a = np.where(excitatory, 0.02, 0.02 + 0.08 * r)
        b = np.where(excitatory, 0.2, 0.25 - 0.05 * r)
        c = np.where(excitatory, -65.0 + 15.0 * r**2, -65.0)
        d = np.where(excitatory, 8.0 - 6.0 * r**2, 2.0)
        return a, b, c, d, excitatory, FORM_2003, np.array([1.0, 0.04, 0.0, 0.0, 30.0])
    if cfg.neuron_model == "nicola_clopath2017":
        p = NICOLA_CLOPATH
        vt = p["vr"] + 40.0 - p["b"] / p["k"]
        full = lambda x: np.full(n, x)  # noqa: E731
        consts = np.array([p["C"], p["k"], p["vr"], vt, p["v_peak"]])
        return full(p["a"]), full(p["b"]), full(p["v_reset"]), full(p["d"]), excitatory, \
            FORM_2007, consts
    a, b, c, d = NEURON_TYPES[cfg.neuron_model]
    return (np.full(n, a), np.full(n, b), np.full(n, c), np.full(n, d), excitatory,
            FORM_2003, np.array([1.0, 0.04, 0.0, 0.0, 30.0]))


def build_bytes(cfg: NetworkConfig) -> int:
    """Peak memory (bytes) that :func:`build_network` needs for the weights of ``cfg``.

    Dense: the float64 magnitude draw, the weight matrix and one temporary, 3 x 8 N^2 (plus
    8 N^2 for the connection mask when p < 1). Sparse: about 28 bytes per expected synapse
    (int32 index, float64 weight, magnitude draw and presynaptic id).
    """
    n, p = cfg.n_neurons, cfg.connection_probability
    if cfg.connectivity == "dense":
        return int(8 * n * n * (3 + (p < 1.0)))
    return int(28 * n * n * p + 16 * n)


FORCE_ENV = "NEUROSIM_FORCE"    # "1": build networks past the memory guard (--force)


def check_fits_memory(cfg: NetworkConfig, total_bytes: int | None = None) -> None:
    """Refuse (ConfigError naming ``network.n_neurons``) a network whose weights alone would
    need more than 80 % of this machine's physical memory (``total_bytes``), unless the
    environment variable ``NEUROSIM_FORCE`` is ``1`` (``neurosim run --force``): then only
    warn on stderr and go on."""
    import os
    import sys
    if total_bytes is None:
        try:
            total_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):   # not POSIX: no guard
            return
    need = build_bytes(cfg)
    if need > 0.8 * total_bytes:
        gib = 2.0 ** 30
        hint = ("; connectivity = 'sparse' with connection_probability < 1 needs "
                f"{28 * cfg.n_neurons ** 2 * 0.1 / gib:.3g} GiB at p = 0.1"
                if cfg.connectivity == "dense" else "")
        text = (f"network.n_neurons = {cfg.n_neurons} ({cfg.connectivity}, connection_probability "
                f"{cfg.connection_probability}) needs about {need / gib:.3g} GiB to build its "
                f"weights, more than 80 % of this machine's {total_bytes / gib:.1f} GiB")
        if os.environ.get(FORCE_ENV) == "1":
            print(f"neurosim: warning: {text}; building it anyway (--force)", file=sys.stderr)
            return
        raise ConfigError(f"{text}{hint}; --force (NEUROSIM_FORCE=1) builds it anyway")


def _weights(cfg: NetworkConfig, excitatory: np.ndarray, rng: np.random.Generator):
    """Weights indexed [pre, post]; dense array or CSR by presynaptic row."""
    n, p = cfg.n_neurons, cfg.connection_probability
    scale = 1000.0 / n if cfg.scale_weights_with_n else 1.0
    if cfg.connectivity == "dense":
        if cfg.weight_distribution == "uniform":
            mag = rng.random((n, n))
            w = np.where(excitatory[:, None], cfg.weight_excitatory * mag,
                         -cfg.weight_inhibitory * mag)
        else:
            w = cfg.gaussian_gain * rng.standard_normal((n, n)) / (max(p, 1e-12) * np.sqrt(n))
        if p < 1.0:
            w = w * (rng.random((n, n)) < p)
        if not cfg.allow_self_connections:
            np.fill_diagonal(w, 0.0)
        return w * scale, None
    # Sparse: a binomial number of targets per presynaptic neuron, drawn without replacement.
    candidates = n if cfg.allow_self_connections else n - 1
    counts = rng.binomial(candidates, p, size=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(indptr[-1], dtype=np.int32)
    for pre in range(n):
        targets = np.sort(rng.choice(candidates, size=counts[pre], replace=False))
        if not cfg.allow_self_connections:
            targets[targets >= pre] += 1  # skip the neuron itself
        indices[indptr[pre]:indptr[pre + 1]] = targets
    nnz = indptr[-1]
    pre_of = np.repeat(np.arange(n), np.diff(indptr))
    if cfg.weight_distribution == "uniform":
        mag = rng.random(nnz)
        data = np.where(excitatory[pre_of], cfg.weight_excitatory * mag, -cfg.weight_inhibitory * mag)
    else:
        data = cfg.gaussian_gain * rng.standard_normal(nnz) / (max(p, 1e-12) * np.sqrt(n))
    return None, (indptr, indices, data * scale)


def _input_projection(cfg: NetworkConfig, excitatory: np.ndarray, rng: np.random.Generator):
    n = cfg.n_neurons
    proj = np.zeros((len(cfg.inputs), n))
    taken = np.zeros(n, dtype=bool)
    for ch_index, ch in enumerate(cfg.inputs):
        pool = {"excitatory": excitatory, "inhibitory": ~excitatory,
                "all": np.ones(n, dtype=bool)}[ch.population]
        size = int(round(ch.fraction * pool.sum()))
        if ch.exclusive:
            pool = pool & ~taken
            if size > pool.sum():
                raise ConfigError(
                    f"inputs[{ch.name}].fraction = {ch.fraction}: only {int(pool.sum())} neurons "
                    f"remain for exclusive channels, {size} requested")
        chosen = rng.choice(np.flatnonzero(pool), size=size, replace=False)
        if ch.exclusive:
            taken[chosen] = True
        proj[ch_index, chosen] = ch.amplitude
    return proj


def build_network(cfg: NetworkConfig, seed: int, dtype="float32", params: dict | None = None,
                  weights: np.ndarray | None = None) -> Network:
    """Build the network arrays for ``cfg`` from ``seed``.

    Parameters
    ----------
    params : dict, optional
        User-given per-neuron arrays (keys among a, b, c, d, bias, noise_sigma), each (N,),
        replacing the generated ones.
    weights : ndarray (N, N), optional
        User-given dense weights indexed [pre, post] (connectivity must be 'dense').
    """
    dtype = np.dtype(dtype)
    streams = seed_streams(seed)
    rng_h = np.random.default_rng(streams["heterogeneity"])
    a, b, c, d, excitatory, form, consts = _neuron_parameters(cfg, rng_h)
    n = cfg.n_neurons
    lo_e, hi_e = cfg.bias_excitatory
    lo_i, hi_i = cfg.bias_inhibitory
    bias_draw = rng_h.random(n)
    bias = np.where(excitatory, lo_e + (hi_e - lo_e) * bias_draw, lo_i + (hi_i - lo_i) * bias_draw)
    if cfg.neuron_model == "nicola_clopath2017":
        bias = bias + NICOLA_CLOPATH["bias"]
    sigma = np.where(excitatory, cfg.noise_excitatory, cfg.noise_inhibitory)
    arrays = dict(a=a, b=b, c=c, d=d, bias=bias, noise_sigma=sigma)
    for key, value in (params or {}).items():
        if key not in arrays:
            raise ConfigError(f"params: unknown key {key!r}; valid keys: {', '.join(arrays)}")
        value = np.asarray(value, dtype=float)
        if value.shape != (n,):
            raise ConfigError(f"params[{key!r}] has shape {value.shape}; expected ({n},)")
        arrays[key] = value
    w_dense, csr = _weights(cfg, excitatory, np.random.default_rng(streams["connectivity"]))
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        if weights.shape != (n, n) or cfg.connectivity != "dense":
            raise ConfigError(f"weights must be a dense ({n}, {n}) array indexed [pre, post] "
                              f"with connectivity='dense'; got {weights.shape}")
        w_dense = weights
    proj = _input_projection(cfg, excitatory, np.random.default_rng(streams["inputs"]))
    rng_init = np.random.default_rng(streams["initial_state"])
    if form == FORM_2007:
        vr, v_peak = consts[2], consts[4]
        v0 = vr + (v_peak - vr) * rng_init.random(n)
        u0 = np.zeros(n)
    else:
        v0 = np.full(n, -65.0)
        u0 = arrays["b"] * v0
    cast = lambda x: np.ascontiguousarray(x, dtype=dtype)  # noqa: E731
    if csr is not None:
        csr = (csr[0], csr[1], cast(csr[2]))
    return Network(a=cast(arrays["a"]), b=cast(arrays["b"]), c=cast(arrays["c"]),
                   d=cast(arrays["d"]), bias=cast(arrays["bias"]),
                   noise_sigma=cast(arrays["noise_sigma"]), excitatory=excitatory, form=form,
                   constants=consts.astype(np.float64),
                   weights=None if w_dense is None else cast(w_dense), csr=csr,
                   input_projection=cast(proj), v0=cast(v0), u0=cast(u0), config=cfg)
