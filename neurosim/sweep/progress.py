"""Progress over sweep points: points done, time per point, estimated time remaining.

On a terminal a tqdm bar over points (postfix: the last point's time and the mean); without
one (logs, CI) one line per finished point. ``report=None`` prints nothing.
"""
from __future__ import annotations

import sys
import time


class PointProgress:
    """Call ``done(record)`` as each point finishes; ``close()`` at the end."""

    def __init__(self, total: int, skipped: int, report="auto", stream=None):
        self.total, self.skipped, self.report = total, skipped, report
        self.stream = stream or sys.stderr
        self.n, self.walls = 0, []
        self.start = time.perf_counter()
        self.bar = None
        if report == "auto":
            report = "tqdm" if self.stream.isatty() else "text"
        self.mode = report
        if report == "tqdm":
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total, unit="point", file=self.stream)
        if report is not None and skipped:
            self._print(f"{skipped} of {skipped + total} points already finished: skipped")

    def _print(self, text):
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        elif self.mode is not None:
            print(text, file=self.stream, flush=True)

    def eta_s(self) -> float:
        """Seconds left at the rate so far (wall time per finished point, all workers)."""
        if not self.n:
            return float("nan")
        return (time.perf_counter() - self.start) / self.n * (self.total - self.n)

    def done(self, record: dict, failed: bool = False):
        self.n += 1
        wall = record.get("wall_s")
        if wall is not None and wall == wall:   # a failed point has no time (NaN)
            self.walls.append(wall)
        mean = sum(self.walls) / len(self.walls) if self.walls else float("nan")
        if self.bar is not None:
            self.bar.set_postfix_str(f"last {wall or 0:.1f} s, mean {mean:.1f} s/point")
            self.bar.update(1)
            if failed:
                self._print(f"point {record['point_id']} FAILED")
        elif self.mode is not None:
            values = ", ".join(f"{k}={v}" for k, v in record.get("values", {}).items())
            what = "FAILED" if failed else f"{wall:.1f} s"
            self._print(f"[{self.n}/{self.total}] {record['point_id']} ({values}) {what}; "
                        f"mean {mean:.1f} s/point, ~{self.eta_s():.0f} s remaining")

    def close(self):
        if self.bar is not None:
            self.bar.close()
