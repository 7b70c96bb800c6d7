"""Reading a results file while a run is writing it.

HDF5's SWMR mode would let readers follow a writer, but it forbids creating datasets,
groups or attributes once switched on, and a neurosim run creates them as it goes (new
phases, the trial table's columns from the first trials, ``duration_ms`` at every flush).
So the writer instead marks the file it holds open: the root attribute ``writer`` =
``"<host>:<pid>"``, removed when it closes. A reader that hits an inconsistent moment (the
writer was between flushes: a half-written chunk index, datasets of different lengths)
and sees a live writer mark waits briefly and reads again; it reports damage only for a
file that nobody is writing.
"""
from __future__ import annotations

import functools
import os
import socket
import time

import h5py

from .schema import ResultsError, ResultsKeyError

WRITER_ATTR = "writer"
RETRIES = 12           # attempts in all; waits 0.05, 0.1, ... s (3.3 s in all)


def writer_mark() -> str:
    """This process's mark, stored while it holds a file open for writing."""
    return f"{socket.gethostname()}:{os.getpid()}"


def live_writer(path) -> str | None:
    """The mark of the process writing ``path`` now, or None (no mark, or a dead process on
    this host: a killed run leaves its mark behind)."""
    try:
        with h5py.File(path, "r", locking=False) as f:
            mark = f.attrs.get(WRITER_ATTR)
    except (OSError, RuntimeError):
        return None
    if mark is None:
        return None
    mark = mark.decode() if isinstance(mark, bytes) else str(mark)
    host, _, pid = mark.rpartition(":")
    if host == socket.gethostname():
        try:
            os.kill(int(pid), 0)
        except (ProcessLookupError, ValueError):
            return None
        except PermissionError:     # alive, owned by another user
            pass
    return mark


def retry_while_written(read):
    """Decorator for reader methods: retry a failed read while a live writer holds the file,
    then report it as being written rather than damaged. The first argument is the path or
    has ``path``; missing names (ResultsKeyError) are never retried."""
    @functools.wraps(read)
    def wrapper(first, *args, **kwargs):
        path = getattr(first, "path", first)
        for attempt in range(RETRIES):
            try:
                return read(first, *args, **kwargs)
            except ResultsKeyError:
                raise
            # h5py raises KeyError too when an object's address lies past the end of what
            # the writer had flushed ("addr overflow"): a race, retried like the others
            except (ResultsError, OSError, RuntimeError, IndexError, ValueError,
                    KeyError) as err:
                if isinstance(err, FileNotFoundError):
                    raise
                mark = live_writer(path)
                if mark is None:
                    raise
                if attempt == RETRIES - 1:
                    raise ResultsError(
                        f"{path} is being written by process {mark} and was in the middle "
                        f"of a flush on {RETRIES} reads in a row; try again ({err})") from None
                time.sleep(0.05 * (attempt + 1))
    return wrapper
