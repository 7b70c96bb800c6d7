"""Names, version, error types and JSON encoding of the neurosim HDF5 results format (FORMAT.md).

Everything that both the writer and the reader must agree on lives here, so that a
change of layout is a change of this file plus a bump of :data:`FORMAT_VERSION`.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

FORMAT_NAME = "neurosim-results"
#: Bump when a reader of the previous version could misread a new file.
#: 2: ``series/rate`` in Hz (was spike counts per step), ``nodes/<population>`` (the node
#: table), ``n_nodes`` on every spike population, ``units``/``columns`` attributes.
FORMAT_VERSION = 2

RUNS = "runs"
SPIKES = "spikes"
TRACES = "traces"
SERIES = "series"
TRIALS = "trials"
WEIGHTS = "weights"
METRICS = "metrics"
NODES = "nodes"
CHECKPOINT = "checkpoint"
CHECKPOINT_TMP = "checkpoint_tmp"
SUMMARY_JSON = "summary_json"
#: Population name of a single-population network (the Recorder's default).
DEFAULT_POPULATION = "reservoir"
#: Columns of the node table ``nodes/<population>``: E/I flag and the neuron parameters.
NODE_COLUMNS = ("excitatory", "a", "b", "c", "d", "bias", "noise_sigma")
#: Unit of the population-rate series ``series/rate`` (format version >= 2).
RATE_UNITS = "Hz"

#: Attributes every run group carries (set by ``ResultsWriter.create_run``).
RUN_ATTRS = ("config_json", "seed", "entropy", "backend", "dtype", "dt_ms", "duration_ms",
             "wall_time_s", "complete", "created", "kind")
#: Attributes the caller of ``create_run`` must supply (the rest have defaults).
REQUIRED_RUN_ATTRS = ("seed", "backend", "dtype", "dt_ms")

#: Compression of every appendable dataset: gzip is readable by every HDF5 tool
#: (lzf is h5py-only); level 4 with byte shuffle is a good speed/size balance.
#: fletcher32 stores a checksum with every chunk: reading a damaged chunk fails (inspect --verify).
COMPRESSION = dict(compression="gzip", compression_opts=4, shuffle=True, fletcher32=True)
#: Target size of one HDF5 chunk of an appendable dataset.
CHUNK_BYTES = 256 * 1024


class ResultsError(ValueError):
    """A results file is unreadable, foreign, corrupt, too new, or lacks what was asked."""

    def __str__(self) -> str:  # a KeyError mix-in would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class ResultsKeyError(ResultsError, KeyError):
    """A run, population or dataset name that the file does not hold."""


# JSON/attribute encoding shared by everything that writes the format (never pickle).
def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, os.PathLike)):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    raise TypeError(f"cannot store {type(obj).__name__} {obj!r} as JSON in a results file")


def to_json(obj) -> str:
    """Serialise ``obj`` (dict, dataclass, numpy scalars/arrays allowed) to a JSON string."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    return json.dumps(obj, default=_json_default)


def _attr_value(key, value):
    """Convert a Python value to something HDF5 stores as an attribute."""
    if isinstance(value, (bool, np.bool_, str, float, np.floating, np.integer)):
        return value
    if isinstance(value, int):  # Python ints may exceed int64 (e.g. SeedSequence entropy)
        return value if -2**63 <= value < 2**63 else str(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value
    try:  # dicts, lists, None: stored as JSON text so that nothing is pickled
        return to_json(value)
    except TypeError as err:
        raise TypeError(f"attribute {key!r}: {err}") from None
