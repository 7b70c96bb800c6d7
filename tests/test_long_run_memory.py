"""A long run recording to HDF5 (``keep_in_memory=False``) does not grow in memory with
duration: tracemalloc peak of an 80 s run ~ that of a 20 s run (N = 100, numba)."""
import tracemalloc

import pytest

from neurosim.experiments import izhikevich2003
from neurosim.monitors import Recorder


def config(duration_ms):
    return {"network": {"n_neurons": 100},
            "run": {"backend": "numba", "duration_ms": duration_ms, "chunk_ms": 1000.0,
                    "checkpoint_every_chunks": 10}}


def peak_bytes(path, duration_ms) -> int:
    tracemalloc.start()
    try:
        izhikevich2003.run(config(duration_ms), path, figure=None, report=None)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def growth_is_bounded(tmp_path) -> tuple[bool, int, int]:
    izhikevich2003.run(config(5000.0), tmp_path / "warm.h5", figure=None, report=None)
    short = peak_bytes(tmp_path / "short.h5", 20_000.0)
    long = peak_bytes(tmp_path / "long.h5", 80_000.0)
    # 80 s at N = 100 is ~36 000 spikes (~0.4 MB as int64 + int32) and 80 000 rate values
    # (0.3 MB): keeping them would break this bound (checked below).
    return long < 1.15 * short + 128 * 1024, short, long


def test_peak_memory_does_not_grow_with_duration(tmp_path):
    bounded, short, long = growth_is_bounded(tmp_path)
    assert bounded, f"peak {long / 1e6:.2f} MB for 80 s vs {short / 1e6:.2f} MB for 20 s"


def test_the_bound_detects_a_recorder_that_keeps_everything(tmp_path, monkeypatch):
    monkeypatch.setattr(izhikevich2003, "_recorder", lambda net, run_cfg, rw: Recorder(
        net.n_neurons, run_cfg.dt_ms, writer=rw, keep_in_memory=True))
    bounded, short, long = growth_is_bounded(tmp_path)
    assert not bounded, f"peak {long / 1e6:.2f} MB for 80 s vs {short / 1e6:.2f} MB for 20 s"
