"""Input streams: iterables of chunks that the simulator consumes one compiled call at a time.

A chunk is any object with ``n_steps`` and, optionally, per-step arrays ``drive``
(n_steps, n_channels), ``target`` (n_steps, n_outputs), ``gate`` (n_steps,) and ``tag``
(n_steps,) bool; the paradigms' trial chunks have this shape. Missing arrays mean zeros.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ConfigError


@dataclass
class Chunk:
    """A block of steps with optional per-step inputs (see the module docstring)."""
    n_steps: int
    drive: np.ndarray | None = None
    target: np.ndarray | None = None
    gate: np.ndarray | None = None
    tag: np.ndarray | None = None
    trial: dict | None = None


class DurationStream:
    """``duration_ms`` of simulation in chunks of ``chunk_ms``, with no external drive."""

    def __init__(self, duration_ms: float, chunk_ms: float, dt_ms: float):
        self.total_steps = int(round(duration_ms / dt_ms))
        self.chunk_steps = max(1, int(round(chunk_ms / dt_ms)))

    def __len__(self):
        return -(-self.total_steps // self.chunk_steps)

    def __iter__(self):
        done = 0
        while done < self.total_steps:
            n = min(self.chunk_steps, self.total_steps - done)
            yield Chunk(n)
            done += n


class ArrayStream:
    """Per-step drive given as one array, cut into chunks.

    Parameters
    ----------
    drive : ndarray (n_steps, n_channels)
        Drive of each input channel at each step (multiplied by the channel's amplitude).
    chunk_steps : int
        Steps per compiled call.
    """

    def __init__(self, drive: np.ndarray, chunk_steps: int = 1000, gate=None, target=None):
        drive = np.asarray(drive)
        if drive.ndim != 2:
            raise ConfigError(f"drive must have shape (n_steps, n_channels); got {drive.shape}")
        self.drive, self.gate, self.target = drive, gate, target
        self.chunk_steps = int(chunk_steps)

    def __len__(self):
        return -(-self.drive.shape[0] // self.chunk_steps)

    def __iter__(self):
        for lo in range(0, self.drive.shape[0], self.chunk_steps):
            hi = min(lo + self.chunk_steps, self.drive.shape[0])
            yield Chunk(hi - lo, drive=self.drive[lo:hi],
                        gate=None if self.gate is None else self.gate[lo:hi],
                        target=None if self.target is None else self.target[lo:hi])


def chunk_arrays(chunk, n_channels: int, n_outputs: int, dtype):
    """Return (drive, target, gate, tag) of ``chunk`` as contiguous arrays, zeros if absent."""
    n = int(chunk.n_steps)

    def get(name, shape, dt):
        value = getattr(chunk, name, None)
        if value is None:
            return np.zeros(shape, dtype=dt)
        value = np.ascontiguousarray(value, dtype=dt)
        if value.shape != shape:
            raise ConfigError(f"chunk.{name} has shape {value.shape}; expected {shape}")
        return value

    return (get("drive", (n, n_channels), dtype), get("target", (n, n_outputs), dtype),
            get("gate", (n,), dtype), get("tag", (n,), np.uint8))
