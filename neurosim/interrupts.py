"""Clean interrupts: SIGINT and SIGTERM stop a run at the next chunk boundary.

Inside :func:`deferred_signals` (the CLI wraps every command in it) the first SIGINT or
SIGTERM only sets a flag. The simulation loops call :func:`check` at each chunk boundary,
after the chunk is recorded; a :class:`~neurosim.checkpoint.Checkpointer` first saves a
checkpoint there. :func:`check` then raises :class:`Interrupted`, which the CLI reports with
the resume command and exit code 130 (SIGINT) or 143 (SIGTERM). A second signal raises
``KeyboardInterrupt`` at once, for a run that must stop now.

Outside :func:`deferred_signals` (e.g. in a notebook), nothing changes: Ctrl-C raises
``KeyboardInterrupt`` wherever Python is.
"""
from __future__ import annotations

import contextlib
import signal
import threading

_pending: list[int] = []      # signal numbers received, first one decides the exit code
_active = [False]


class Interrupted(Exception):
    """The run stopped at a chunk boundary because of SIGINT or SIGTERM."""

    def __init__(self, signum: int, step: int | None = None):
        self.signum = int(signum)
        self.step = step
        at = f" at step {step}" if step is not None else ""
        super().__init__(f"interrupted by {signal.Signals(self.signum).name}{at}")

    @property
    def exit_code(self) -> int:
        """128 + signal number: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum

    def __reduce__(self):   # picklable across process pools
        return (Interrupted, (self.signum, self.step))


def requested() -> int | None:
    """The signal that asked the run to stop (None: none)."""
    return _pending[0] if _pending else None


def check(step: int | None = None) -> None:
    """Raise :class:`Interrupted` if a stop was requested (call at chunk boundaries)."""
    if _pending:
        raise Interrupted(_pending[0], step)


def _handler(signum, frame):
    _pending.append(signum)
    if len(_pending) > 1:
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred_signals():
    """Defer SIGINT/SIGTERM to the next chunk boundary while the block runs (main thread
    only; elsewhere the block runs unchanged)."""
    if threading.current_thread() is not threading.main_thread() or _active[0]:
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    _pending.clear()
    _active[0] = True
    for s in previous:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _active[0] = False
        # the block's owner has seen them (Interrupted, or requested() at its end): a run
        # started later in this process must not stop at its first chunk boundary
        _pending.clear()
