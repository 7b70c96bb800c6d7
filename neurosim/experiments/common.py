"""What every experiment does the same way: resolve configs, open the results file."""
from __future__ import annotations

from pathlib import Path

from ..config import NetworkConfig, RunConfig, from_dict, merge, to_dict
from ..results import ResultsWriter


def resolve(default: dict, user: dict | None) -> dict:
    """The default config with the user's sections merged over it."""
    return merge(default, user or {})


def network_and_run(config: dict) -> tuple[NetworkConfig, RunConfig]:
    """Validated network and run records of a resolved config."""
    return (from_dict(NetworkConfig, config.get("network", {}), "network"),
            from_dict(RunConfig, config.get("run", {}), "run"))


def open_run(out: Path, kind: str, config: dict, run_cfg: RunConfig, extra_attrs: dict,
             run_id: str | None = None):
    """Create a new run group in ``out`` (appending to an existing results file)."""
    writer = ResultsWriter(out, mode="a")
    run_id = run_id or f"{kind}_{len(writer.run_ids):03d}"
    attrs = dict(seed=run_cfg.seed, backend=run_cfg.backend, dtype=run_cfg.dtype,
                 dt_ms=run_cfg.dt_ms, **extra_attrs)
    return writer, writer.create_run(run_id, kind, attrs, config)


def full_config(network: NetworkConfig, run: RunConfig, **sections) -> dict:
    """The fully resolved config as a plain dict (stored with the results)."""
    out = {"network": to_dict(network), "run": to_dict(run)}
    out.update(sections)
    return out
