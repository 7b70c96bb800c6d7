"""HDF5 results of neurosim runs: write chunk by chunk, load, inspect (layout: FORMAT.md).

>>> from neurosim.results import ResultsWriter, load
>>> results = load("results.h5"); run = results.latest
>>> run.spikes().t, run.series("z0"), run.trials(), run.metrics
"""
from .inspect import damaged_datasets, describe, info
from .reader import Results, Run, SpikeData, Trace, WeightSnapshots, load
from .schema import FORMAT_NAME, FORMAT_VERSION, ResultsError, ResultsKeyError
from .writer import ResultsWriter, RunWriter

__all__ = ["ResultsWriter", "RunWriter", "load", "Results", "Run", "SpikeData", "Trace",
           "WeightSnapshots", "damaged_datasets", "describe", "info", "ResultsError", "ResultsKeyError",
           "FORMAT_NAME", "FORMAT_VERSION"]
