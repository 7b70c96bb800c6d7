"""neurosim: heterogeneous Izhikevich spiking reservoirs with plastic readouts."""
__version__ = "0.1.0"
