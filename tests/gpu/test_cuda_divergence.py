"""The cuda kernel stops at the step and neuron (or readout output) where the NumPy
reference first sees a non-finite value, as the CPU kernels do (``tests/test_divergence.py``
has the oracles). Under the CUDA simulator with 4 threads per block, so that each thread
owns several neurons and the block-wide minimum picks the lowest diverged one."""
import warnings

import numpy as np
import pytest
from numba import cuda  # noqa: F401  (the simulator swaps it inside kernels)

from neurosim.backends import get_backend
from neurosim.config import RunConfig
from neurosim.simulator import DivergenceError
from test_divergence import (CHUNK_STEPS, HUGE, READOUT_NET, READOUT_STEPS, SEED,
                             _diverging_readout, _stream, oracle_first_bad_output,
                             oracle_first_bad_v, run_until_error)

pytestmark = [pytest.mark.cudasim,
              pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")]
THREADS = 4


@pytest.mark.parametrize("case", ["delta", "exponential"])
def test_huge_weights_stop_at_the_reference_step_and_neuron(case):
    (step, neuron), _ = oracle_first_bad_v(HUGE[case], "float64")
    err, sim, rec, _ = run_until_error(HUGE[case], get_backend("cuda", threads=THREADS),
                                       "float64", steps=40)
    assert err.step == step and sim.step == step
    assert f"non-finite membrane potential of neuron {neuron} at step {step} " in str(err)
    assert rec.rate.shape == (step,) and rec.traces.shape == (step, 6)
    assert np.isfinite(rec.traces).all() and rec.spikes.t.max() < step


def test_a_diverging_readout_stops_at_the_reference_step():
    step, out = oracle_first_bad_output()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        err, sim, rec, _ = run_until_error(READOUT_NET, get_backend("cuda", threads=THREADS),
                                           "float64", readout=_diverging_readout,
                                           stream=_stream(), steps=READOUT_STEPS)
    assert err.step == step and sim.step == step
    assert f"readout output {out} diverged at step {step} " in str(err)
    assert f"(output {out}), its output is non-finite from step {step}" in str(err)
    assert rec.z.shape == (step, 3) and np.isfinite(rec.z).all()


def test_replicates_name_the_seed_that_diverged_first():
    from neurosim.replicates import run_replicates
    (step, neuron), _ = oracle_first_bad_v(HUGE["delta"], "float64", seed=SEED)
    (later, _), _ = oracle_first_bad_v(HUGE["delta"], "float64", seed=SEED + 1)
    assert later // CHUNK_STEPS > step // CHUNK_STEPS, "the other seed must diverge later"
    run = RunConfig(dtype="float64", chunk_ms=float(CHUNK_STEPS), duration_ms=40.0)
    with pytest.raises(DivergenceError, match=rf"^replicate seed {SEED}: non-finite membrane "
                                              rf"potential of neuron {neuron} at step {step} "):
        run_replicates(HUGE["delta"], run, [SEED + 1, SEED], backend="cuda", threads=THREADS)
