"""Sweep specifications: read a SWEEP.toml (or a dict) and expand its grid into points.

A spec names an experiment, a base config and the fields to vary::

    experiment = "izhikevich2003"        # a `neurosim run` name, or "package.module:function"
    out = "seeds.h5"                     # optional: the index file, relative to the current
                                         # directory (default <spec stem>.h5)
    seeds = 4                            # shorthand: run.seed = s0 .. s0 + 3 (s0: base run.seed)
    seed_field = "run.seed"              # optional: the field `seeds` varies

    [base]                               # what every point shares, like `neurosim run --config`
    network = {n_neurons = 1000}

    [product]                            # every combination of these fields' values
    "network.n_neurons" = [500, 1000]

    [zip]                                # these fields vary together (lists of equal length)
    "paradigm.latencies_ms" = [[300.0, 700.0], [400.0, 800.0]]
    "paradigm.switched_latency_ms" = [500.0, 600.0]

    [random]                             # seeded random samples
    samples = 8
    seed = 0
    "learner.eta0" = {uniform = [60.0, 160.0]}   # or loguniform, randint (inclusive), choice

    [cluster]                            # options of the dask-jobqueue cluster (--cluster slurm)
    cores = 8
    memory = "16GB"
    jobs = 4

The points are the product of the ``product`` fields, times the rows of ``zip``, times the
``random`` samples, times the seeds (innermost), in that order. Field names are dotted config
paths (``section.key``). Checking each point against the experiment's own config rules is
:mod:`neurosim.sweep.validate`'s job; this module checks the shape of the spec itself.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import itertools
import json
import math
from pathlib import Path

import numpy as np

from ..config import ConfigError, load_file

SPEC_KEYS = ("experiment", "out", "seeds", "seed_field", "base", "product", "zip", "random",
             "cluster", "workers")
DISTRIBUTIONS = ("uniform", "loguniform", "randint", "choice")


class SweepError(ConfigError):
    """A sweep spec that cannot run: the message names the spec key or grid field."""


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """A checked sweep spec.

    ``experiment``: a ``neurosim run`` name or ``"module:function"`` (or the callable itself
    through the Python API); ``base``: nested config dict shared by every point; ``product``
    and ``zip``: {field: [values]}; ``random``: {"samples": n, "seed": s, field: {dist: args}};
    ``seeds``: number of seeds (0: none); ``seed_field``: dotted field the seeds vary;
    ``out``: index file or None; ``cluster``: dask-jobqueue options; ``workers``: local worker
    processes (None: one per core); ``source``: the spec file, if any.
    """
    experiment: object
    base: dict
    product: dict
    zip: dict
    random: dict
    seeds: int = 0
    seed_field: str = "run.seed"
    out: Path | None = None
    cluster: dict = dataclasses.field(default_factory=dict)
    workers: int | None = None
    source: Path | None = None

    @property
    def experiment_name(self) -> str:
        """The experiment's name as written in files: the run name or ``module:function``."""
        if isinstance(self.experiment, str):
            return self.experiment
        return f"{self.experiment.__module__}:{self.experiment.__qualname__}"

    def as_dict(self) -> dict:
        """JSON-able form (stored in the index file)."""
        return {"experiment": self.experiment_name, "base": self.base, "product": self.product,
                "zip": self.zip, "random": self.random, "seeds": self.seeds,
                "seed_field": self.seed_field, "cluster": self.cluster, "workers": self.workers}


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _unknown_key(key, valid, where) -> SweepError:
    near = difflib.get_close_matches(str(key), valid, n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return SweepError(f"sweep: unknown {where} {key!r}{hint}; valid: {', '.join(valid)}")


def _field_name(field, where: str) -> str:
    if not isinstance(field, str) or not field or not all(field.split(".")):
        raise SweepError(f"sweep: {where} field {field!r} must be a dotted config path like "
                         "'network.n_neurons'")
    return field


def _values(field: str, values, where: str) -> list:
    if not isinstance(values, list):
        raise SweepError(f"sweep: {where} field {field!r} = {values!r} must be a list of values")
    if not values:
        raise SweepError(f"sweep: empty grid: {where} field {field!r} has no values")
    return list(values)


def _check_random(table: dict) -> dict:
    table = dict(table)
    samples = table.pop("samples", None)
    seed = table.pop("seed", 0)
    if not _is_int(samples) or samples <= 0:
        raise SweepError(f"sweep: random.samples = {samples!r} is invalid: must be an integer "
                         ">= 1")
    if not _is_int(seed) or seed < 0:
        raise SweepError(f"sweep: random.seed = {seed!r} is invalid: must be an integer >= 0")
    if not table:
        raise SweepError("sweep: empty grid: [random] names no field to sample")
    out = {"samples": int(samples), "seed": int(seed)}
    for field, dist in table.items():
        _field_name(field, "random")
        if not isinstance(dist, dict) or len(dist) != 1:
            raise SweepError(f"sweep: random field {field!r} = {dist!r} must be one "
                             f"distribution, e.g. {{uniform = [0.0, 1.0]}}; choices: "
                             f"{', '.join(DISTRIBUTIONS)}")
        (name, args), = dist.items()
        if name not in DISTRIBUTIONS:
            raise _unknown_key(name, DISTRIBUTIONS, f"distribution of random field {field!r}:")
        if name == "choice":
            _values(field, args, "random choice")
        else:
            ok = (isinstance(args, list) and len(args) == 2
                  and all(isinstance(a, (int, float)) and not isinstance(a, bool)
                          and math.isfinite(a) for a in args) and args[0] <= args[1])
            if ok and name == "randint":
                ok = all(_is_int(a) for a in args)
            if ok and name == "loguniform":
                ok = args[0] > 0
            if not ok:
                need = {"uniform": "[low, high] finite numbers",
                        "loguniform": "[low, high] with 0 < low <= high",
                        "randint": "[low, high] integers (inclusive)"}[name]
                raise SweepError(f"sweep: random field {field!r}: {name} = {args!r} is "
                                 f"invalid: must be {need}")
        out[field] = {name: list(args)}
    return out


def load_spec(spec, out=None) -> SweepSpec:
    """A :class:`SweepSpec` from a path (TOML/JSON), a dict or a SweepSpec; ``out`` overrides
    the spec's index file. Raises :class:`SweepError` naming the bad key or field."""
    source = None
    if isinstance(spec, SweepSpec):
        return dataclasses.replace(spec, out=Path(out)) if out is not None else spec
    if isinstance(spec, (str, Path)):
        source = Path(spec)
        spec = load_file(source)
    if not isinstance(spec, dict):
        raise SweepError(f"sweep: a spec is a table (dict), not {type(spec).__name__}")
    for key in spec:
        if key not in SPEC_KEYS:
            raise _unknown_key(key, SPEC_KEYS, "spec key")
    experiment = spec.get("experiment")
    if not (isinstance(experiment, str) and experiment) and not callable(experiment):
        raise SweepError("sweep: 'experiment' is missing: name a `neurosim run` experiment "
                         "(e.g. \"izhikevich2003\") or a callable as \"module:function\"")
    tables = {}
    for key in ("base", "product", "zip", "random", "cluster"):
        value = spec.get(key, {})
        if not isinstance(value, dict):
            raise SweepError(f"sweep: [{key}] must be a table, not {value!r}")
        tables[key] = copy.deepcopy(value)
    product = {_field_name(f, "product"): _values(f, v, "product")
               for f, v in tables["product"].items()}
    zipped = {_field_name(f, "zip"): _values(f, v, "zip") for f, v in tables["zip"].items()}
    if len({len(v) for v in zipped.values()}) > 1:
        lengths = ", ".join(f"{f}: {len(v)}" for f, v in zipped.items())
        raise SweepError(f"sweep: zip fields must have lists of equal length ({lengths})")
    random = _check_random(tables["random"]) if tables["random"] else {}
    seeds = spec.get("seeds", 0)
    if "seeds" in spec and (not _is_int(seeds) or seeds <= 0):
        raise SweepError(f"sweep: seeds = {seeds!r} is invalid: must be an integer >= 1 (the "
                         "number of seeds)")
    seed_field = _field_name(spec.get("seed_field", "run.seed"), "seed_field")
    workers = spec.get("workers")
    if workers is not None and (not _is_int(workers) or workers < 1):
        raise SweepError(f"sweep: workers = {workers!r} is invalid: must be an integer >= 1")
    fields = list(product) + list(zipped) + [f for f in random if f not in ("samples", "seed")]
    if seeds:
        fields.append(seed_field)
    if not fields:
        raise SweepError("sweep: empty grid: the spec varies nothing; give [product], [zip], "
                         "[random] or seeds = N")
    dup = sorted({f for f in fields if fields.count(f) > 1})
    if dup:
        raise SweepError(f"sweep: field {dup[0]!r} is varied twice (in more than one of "
                         "product, zip, random, seeds)")
    out_path = out if out is not None else spec.get("out")
    if out_path is not None and not isinstance(out_path, (str, Path)):
        raise SweepError(f"sweep: out = {out_path!r} must be a file name")
    return SweepSpec(experiment=experiment, base=tables["base"], product=product, zip=zipped,
                     random=random, seeds=int(seeds), seed_field=seed_field,
                     out=Path(out_path) if out_path is not None else None,
                     cluster=tables["cluster"], workers=workers, source=source)


def _sample(rng: np.random.Generator, dist: dict):
    (name, args), = dist.items()
    if name == "uniform":
        return float(rng.uniform(args[0], args[1]))
    if name == "loguniform":
        return float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
    if name == "randint":
        return int(rng.integers(args[0], args[1], endpoint=True))
    return copy.deepcopy(args[int(rng.integers(len(args)))])


def grid_fields(spec: SweepSpec) -> list[str]:
    """The varied fields, in column order (product, zip, random, seed)."""
    fields = list(spec.product) + list(spec.zip)
    fields += [f for f in spec.random if f not in ("samples", "seed")]
    if spec.seeds:
        fields.append(spec.seed_field)
    return fields


def base_seed(spec: SweepSpec) -> int:
    """The first seed of ``seeds = N``: the base config's value of the seed field (0 if unset)."""
    node = spec.base
    for part in spec.seed_field.split("."):
        if not isinstance(node, dict) or part not in node:
            return 0
        node = node[part]
    if not _is_int(node):
        raise SweepError(f"sweep: base {spec.seed_field} = {node!r} must be an integer to "
                         "count seeds from")
    return int(node)


def expand(spec: SweepSpec) -> list[dict]:
    """Every point's grid values, ``[{field: value}]``, in grid order (seeds innermost)."""
    prod = [dict(zip(spec.product, combo))
            for combo in itertools.product(*spec.product.values())] or [{}]
    n_zip = len(next(iter(spec.zip.values()))) if spec.zip else 0
    zipped = [{f: v[k] for f, v in spec.zip.items()} for k in range(n_zip)] or [{}]
    samples = [{}]
    if spec.random:
        rng = np.random.default_rng(spec.random["seed"])
        dists = {f: d for f, d in spec.random.items() if f not in ("samples", "seed")}
        samples = [{f: _sample(rng, d) for f, d in dists.items()}
                   for _ in range(spec.random["samples"])]
    s0 = base_seed(spec) if spec.seeds else 0
    seeds = [{spec.seed_field: s0 + k} for k in range(spec.seeds)] or [{}]
    return [{**a, **b, **c, **d} for a in prod for b in zipped for c in samples for d in seeds]


def point_config(base: dict, values: dict) -> dict:
    """``base`` with each dotted field of ``values`` set (a new nested dict)."""
    config = json.loads(json.dumps(base))
    for field, value in values.items():
        node = config
        parts = field.split(".")
        for k, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SweepError(f"sweep: field {field!r}: {'.'.join(parts[:k + 1])!r} is not "
                                 "a section of the config")
        node[parts[-1]] = copy.deepcopy(value)
    return config
