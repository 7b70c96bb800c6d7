"""Reading a results file while another process writes it: every read succeeds (the reader
retries across the writer's flushes), and a file nobody writes is never waited on."""
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest

from neurosim.results import ResultsError, ResultsWriter, describe, load
from neurosim.results.live import WRITER_ATTR, live_writer, writer_mark

WRITER = """
import numpy as np, sys, time
from neurosim.results import ResultsWriter
rng = np.random.default_rng(0)
with ResultsWriter(sys.argv[1], "w") as w:
    print("open", flush=True)
    t_end = time.time() + float(sys.argv[2])
    k = 0
    while time.time() < t_end:
        run = w.create_run(f"r{k}", "test", dict(seed=k, backend="numpy", dtype="float32",
                                                dt_ms=1.0), {"k": k})
        for c in range(40):
            run.append_spikes("p", np.sort(rng.uniform(c * 100, (c + 1) * 100, 300)),
                              rng.integers(0, 50, 300))
            run.append_series("z", rng.normal(size=(100, 3)).astype(np.float32))
            run.append_trials({"trial": np.array([c]), "label": np.array(["a"])})
            run.set_attrs(duration_ms=float((c + 1) * 100))
            run.flush()
        run.finish(1.0, 4000.0)
        k += 1
"""


def test_reads_while_another_process_writes_all_succeed(tmp_path):
    path = tmp_path / "live.h5"
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), str(path), "6"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "open\n"
        seen, t_end = set(), time.time() + 5
        while time.time() < t_end:
            res = load(path)                            # never raises while written
            for run in res:
                spikes, z, trials = run.spikes(), run.series("z") if "z" in \
                    run.series_names else np.zeros((0, 3)), run.trials()
                assert spikes.t.size == spikes.i.size
                assert np.all(np.diff(spikes.t) >= 0)
                seen.add(z.shape[0])
            describe(path)
        assert len(seen) > 5                           # the reads followed a growing file
        assert live_writer(path) is not None
    finally:
        child.wait(timeout=60)
    assert child.returncode == 0
    with h5py.File(path, "r") as f:                    # the mark goes when the writer closes
        assert WRITER_ATTR not in f.attrs


def test_a_stale_mark_of_a_dead_process_is_not_waited_on(tmp_path):
    path = tmp_path / "stale.h5"
    with ResultsWriter(path, "w") as w:
        run = w.create_run("r", "test", dict(seed=0, backend="numpy", dtype="float32",
                                             dt_ms=1.0), {})
        run.append_series("z", np.ones((5000, 3), np.float32))
        run.finish(1.0, 5000.0)
    with h5py.File(path, "a") as f:
        assert WRITER_ATTR not in f.attrs
        f.attrs[WRITER_ATTR] = writer_mark().rsplit(":", 1)[0] + ":999999999"  # no such pid
        info = f["runs/r/series/z"].id.get_chunk_info(0)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 2)
        fh.write(b"\x5a" * 8)
    assert live_writer(path) is None
    t0 = time.perf_counter()
    with pytest.raises(ResultsError, match="cannot be read back"):
        load(path)["r"].series("z")
    assert time.perf_counter() - t0 < 0.5             # reported at once, no retries
