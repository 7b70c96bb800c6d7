"""Progress reporting at chunk boundaries: ``report=None | 'text' | 'tqdm' | callable``."""
from __future__ import annotations

import sys
import time

from .config import ConfigError


class _Text:
    def __init__(self, total_ms: float, stream=sys.stdout, every: float = 0.1):
        self.total_ms, self.stream, self.every = total_ms, stream, every
        self.next_fraction = every
        self.start = time.perf_counter()

    def __call__(self, done_ms: float, total_ms: float):
        fraction = done_ms / total_ms if total_ms > 0 else 1.0
        if fraction + 1e-12 >= self.next_fraction or fraction >= 1.0:
            elapsed = time.perf_counter() - self.start
            remaining = elapsed / fraction * (1.0 - fraction) if fraction > 0 else float("nan")
            print(f"{done_ms / 1000:.1f} s of {total_ms / 1000:.1f} s simulated "
                  f"({100 * fraction:.0f}%) in {elapsed:.1f} s, ~{remaining:.0f} s remaining",
                  file=self.stream, flush=True)
            while self.next_fraction <= fraction:
                self.next_fraction += self.every

    def close(self):
        pass


class _Tqdm:
    def __init__(self, total_ms: float):
        from tqdm.auto import tqdm
        self.bar = tqdm(total=round(total_ms / 1000, 3), unit="s sim", leave=False)
        self.last = 0.0

    def __call__(self, done_ms: float, total_ms: float):
        # absolute position, rounded: summing float increments drifted (0.7999999999999999)
        self.bar.n = min(round(done_ms / 1000, 3), self.bar.total)
        self.bar.refresh()
        self.last = done_ms

    def close(self):
        self.bar.close()


class _Callable:
    def __init__(self, fn):
        self.fn = fn

    def __call__(self, done_ms, total_ms):
        self.fn(done_ms, total_ms)

    def close(self):
        pass


class _Silent:
    def __call__(self, done_ms, total_ms):
        pass

    def close(self):
        pass


def make_reporter(report, total_ms: float):
    """Build a reporter called as ``reporter(done_ms, total_ms)`` after each chunk."""
    if report is None:
        return _Silent()
    if report == "text":
        return _Text(total_ms)
    if report == "tqdm":   # a bar on a terminal; in logs (no TTY) a line every 10 %
        return _Tqdm(total_ms) if sys.stderr.isatty() else _Text(total_ms)
    if callable(report):
        return _Callable(report)
    raise ConfigError(f"report = {report!r} is invalid: use None, 'text', 'tqdm' or a callable "
                      "report(done_ms, total_ms)")
