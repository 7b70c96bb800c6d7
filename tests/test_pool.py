"""Job pools stop cleanly on SIGINT/SIGTERM: pending jobs dropped, running ones kept."""
import os
import signal
import threading
import time

import pytest

from neurosim import interrupts
from neurosim.experiments.pool import run_jobs


def _slow_square(x):
    time.sleep(0.4)
    return x * x


def test_all_jobs_in_order():
    assert run_jobs(_slow_square, [3, 1, 2], workers=2) == [9, 1, 4]
    assert run_jobs(_slow_square, [3, 1], workers=1) == [9, 1]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_drops_pending_jobs_and_keeps_running_ones(signum):
    done = []
    timer = threading.Timer(0.6, os.kill, (os.getpid(), signum))
    with interrupts.deferred_signals():
        timer.start()
        with pytest.raises(interrupts.Interrupted) as info:
            run_jobs(_slow_square, list(range(12)), workers=2,
                     on_done=lambda k, r: done.append((k, r)))
        timer.join()
    assert info.value.exit_code == 128 + signum
    # 2 workers, 0.4 s per job, signal at 0.6 s: the jobs already handed to the workers
    # (running, or in the executor's small call queue) finish and are handed over; the
    # rest never start
    assert 2 <= len(done) <= 10, done
    assert all(r == k * k for k, r in done)


def test_a_handled_signal_does_not_stop_the_next_run():
    """A signal handled inside one deferred block (the job stopped) is not pending for a
    later run in the same process (e.g. the next cell of a notebook)."""
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    with interrupts.deferred_signals():
        timer.start()
        with pytest.raises(interrupts.Interrupted):
            run_jobs(_slow_square, list(range(6)), workers=1)
        timer.join()
    assert interrupts.requested() is None
    interrupts.check()                 # raises if the old signal were still pending
    assert run_jobs(_slow_square, [2], workers=1) == [4]
