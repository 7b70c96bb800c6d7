"""neurosim: heterogeneous Izhikevich spiking reservoirs with plastic readouts.

>>> import neurosim
>>> net = neurosim.build_network(neurosim.NetworkConfig(n_neurons=1000), seed=1)
>>> rec = neurosim.Simulator(net, neurosim.RunConfig(duration_ms=1000)).run()
>>> results = neurosim.load("whatwhen.h5")
"""
__version__ = "0.1.0"

from .config import ConfigError, NetworkConfig, RunConfig  # noqa: E402
from .learners import make_learner  # noqa: E402
from .network import build_network  # noqa: E402
from .results import load  # noqa: E402
from .simulator import Simulator  # noqa: E402

__all__ = ["ConfigError", "NetworkConfig", "RunConfig", "Simulator", "build_network",
           "make_learner", "load", "__version__"]
