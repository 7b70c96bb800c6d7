"""Names, version and error type of the neurosim HDF5 results format (see FORMAT.md).

Everything that both the writer and the reader must agree on lives here, so that a
change of layout is a change of this file plus a bump of :data:`FORMAT_VERSION`.
"""
from __future__ import annotations

FORMAT_NAME = "neurosim-results"
#: Bump when a reader of the previous version could misread a new file.
FORMAT_VERSION = 1

RUNS = "runs"
SPIKES = "spikes"
TRACES = "traces"
SERIES = "series"
TRIALS = "trials"
WEIGHTS = "weights"
METRICS = "metrics"
CHECKPOINT = "checkpoint"
CHECKPOINT_TMP = "checkpoint_tmp"
SUMMARY_JSON = "summary_json"

#: Attributes every run group carries (set by ``ResultsWriter.create_run``).
RUN_ATTRS = ("config_json", "seed", "entropy", "backend", "dtype", "dt_ms", "duration_ms",
             "wall_time_s", "complete", "created", "kind")
#: Attributes the caller of ``create_run`` must supply (the rest have defaults).
REQUIRED_RUN_ATTRS = ("seed", "backend", "dtype", "dt_ms")

#: Compression of every appendable dataset: gzip is readable by every HDF5 tool
#: (lzf is h5py-only); level 4 with byte shuffle is a good speed/size balance.
COMPRESSION = dict(compression="gzip", compression_opts=4, shuffle=True)
#: Target size of one HDF5 chunk of an appendable dataset.
CHUNK_BYTES = 256 * 1024


class ResultsError(ValueError):
    """A results file is unreadable, foreign, corrupt, too new, or lacks what was asked."""

    def __str__(self) -> str:  # a KeyError mix-in would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class ResultsKeyError(ResultsError, KeyError):
    """A run, population or dataset name that the file does not hold."""
