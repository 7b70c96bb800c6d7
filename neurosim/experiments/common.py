"""What every experiment does the same way: resolve configs, open the results file."""
from __future__ import annotations

from pathlib import Path

from ..config import NetworkConfig, RunConfig, from_dict, merge, to_dict
from ..config_check import check_config
from ..results import ResultsWriter


def resolve(default: dict, user: dict | None, open_paths=(), bounds=None) -> dict:
    """The default config with the user's sections merged over it, checked first.

    Unknown sections and keys, and values of the wrong kind, are ConfigErrors naming the key
    (:func:`neurosim.config_check.check_config`). A ``learner`` section is open there and
    checked here instead, by building the learner it names (its hyper-parameters depend on
    the learner chosen; naming another learner than the default's drops the default's
    hyper-parameters, which are not that learner's). ``open_paths``: further sections the experiment validates itself;
    ``bounds``: allowed intervals of numeric settings (``neurosim.config_check``).
    """
    opened = tuple(open_paths) + (("learner",) if "learner" in default else ())
    checked = check_config(default, user or {}, opened, bounds)
    config = merge(default, checked)
    chosen = (checked.get("learner") or {}).get("name") if isinstance(checked, dict) else None
    if "learner" in default and chosen not in (None, default["learner"].get("name")):
        # another learner: the default learner's hyper-parameters are not its own
        config["learner"] = dict(checked["learner"])
    if "learner" in default:
        from ..learners import make_learner
        hyper = dict(config["learner"])
        make_learner(hyper.pop("name", None), **hyper)
    return config


def resolve_experiment(module, user: dict | None) -> dict:
    """``module``'s resolved config for the user's: its own ``resolve_config`` where it has
    one (e.g. presets chosen by a setting, as ``force``'s target kinds), else
    :func:`resolve` over its ``DEFAULT_CONFIG``, ``OPEN_PATHS`` and ``BOUNDS``."""
    own = getattr(module, "resolve_config", None)
    if own is not None:
        out = own(user)
        return out[0] if isinstance(out, tuple) else out
    return resolve(module.DEFAULT_CONFIG, user, getattr(module, "OPEN_PATHS", ()),
                   getattr(module, "BOUNDS", None))


def network_and_run(config: dict) -> tuple[NetworkConfig, RunConfig]:
    """Validated network and run records of a resolved config (a network whose weights would
    not fit in memory is refused here, before anything is built or written)."""
    from ..network import check_fits_memory
    net = from_dict(NetworkConfig, config.get("network", {}), "network")
    check_fits_memory(net)
    return net, from_dict(RunConfig, config.get("run", {}), "run")


def open_run(out: Path, kind: str, config: dict, run_cfg: RunConfig, extra_attrs: dict,
             run_id: str | None = None, network=None):
    """Create a new run group in ``out`` (appending to an existing results file).

    With ``network`` (a built :class:`~neurosim.network.Network`), its node table (E/I and
    neuron parameters) and size are stored for the Recorder's population (FORMAT.md).
    """
    writer = ResultsWriter(out, mode="a")
    run_id = run_id or f"{kind}_{len(writer.run_ids):03d}"
    attrs = dict(seed=run_cfg.seed, backend=run_cfg.backend, dtype=run_cfg.dtype,
                 dt_ms=run_cfg.dt_ms, **extra_attrs)
    run_writer = writer.create_run(run_id, kind, attrs, config)
    if network is not None:
        from ..results.nodes import node_attrs, node_table
        from ..results.schema import DEFAULT_POPULATION
        run_writer.write_nodes(DEFAULT_POPULATION, node_table(network), **node_attrs(network))
    return writer, run_writer


def full_config(network: NetworkConfig, run: RunConfig, **sections) -> dict:
    """The fully resolved config as a plain dict (stored with the results)."""
    out = {"network": to_dict(network), "run": to_dict(run)}
    out.update(sections)
    return out


def move_aside(out: Path) -> Path | None:
    """Rename an existing results file ``out`` to ``<stem>.prev-N<suffix>`` (the first free N)
    so that a new run never overwrites earlier results; returns the new name (None: no file)."""
    out = Path(out)
    if not out.exists():
        return None
    n = 1
    while (kept := out.with_name(f"{out.stem}.prev-{n}{out.suffix}")).exists():
        n += 1
    out.rename(kept)
    print(f"{out} exists: moved it to {kept}")
    return kept
