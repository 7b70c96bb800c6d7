"""The writer streams to disk: appending many chunks does not accumulate them in RAM."""
import tracemalloc

import numpy as np

from neurosim.results import ResultsWriter, load

N_CHUNKS, SPIKES_PER_CHUNK, STEPS_PER_CHUNK = 200, 5_000, 500


def test_appending_200_chunks_keeps_memory_bounded(tmp_path):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 1000, SPIKES_PER_CHUNK)
    z = rng.normal(size=(STEPS_PER_CHUNK, 4)).astype(np.float32)
    offsets = np.sort(rng.uniform(0, STEPS_PER_CHUNK, SPIKES_PER_CHUNK))
    chunk_bytes = ids.size * (8 + 4) + z.nbytes

    with ResultsWriter(tmp_path / "big.h5", "w") as writer:
        run = writer.create_run("r", "izhikevich2003",
                                dict(seed=0, backend="numba", dtype="float32", dt_ms=1.0), {})

        def chunk(k):
            run.append_spikes("reservoir", k * STEPS_PER_CHUNK + offsets, ids, n_nodes=1000)
            run.append_series("z", z)
            run.append_trials({"trial": np.array([k])})
            run.flush()

        for k in range(10):  # warm-up: dataset creation, h5py caches
            chunk(k)
        tracemalloc.start()
        try:
            after_warmup, _ = tracemalloc.get_traced_memory()
            for k in range(10, N_CHUNKS):
                chunk(k)
            current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    total_bytes = (N_CHUNKS - 10) * chunk_bytes  # ~ 12 MB appended while tracing
    assert current - after_warmup < 0.03 * total_bytes, (current - after_warmup, total_bytes)
    assert peak - after_warmup < 10 * chunk_bytes, (peak - after_warmup, chunk_bytes)
    run = load(tmp_path / "big.h5")["r"]
    assert len(run.spikes()) == N_CHUNKS * SPIKES_PER_CHUNK
    assert run.series("z").shape == (N_CHUNKS * STEPS_PER_CHUNK, 4)
