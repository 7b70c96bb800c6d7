"""Named experiments run by ``neurosim run NAME``.

Each module exposes ``DEFAULT_CONFIG`` (a nested dict, the built-in default) and
``run(config: dict, out: Path, figure: Path | None, report, full: bool) -> dict`` (a summary).
"""
from importlib import import_module

from ..config import ConfigError

EXPERIMENTS = {
    "izhikevich2003": "neurosim.experiments.izhikevich2003",
    "whatwhen": "neurosim.experiments.whatwhen",
    "whatwhen_robustness": "neurosim.experiments.whatwhen_robustness",
    "force": "neurosim.experiments.force",
    "force_sinusoid": "neurosim.experiments.force",  # alias of force (its default target)
    "continual": "neurosim.experiments.continual",
}


def get_experiment(name: str):
    """Import the experiment module called ``name`` (error lists the valid names)."""
    if name not in EXPERIMENTS:
        raise ConfigError(f"experiment {name!r} is unknown; valid names: {', '.join(EXPERIMENTS)}")
    return import_module(EXPERIMENTS[name])
