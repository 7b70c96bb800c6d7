"""The compiled chunk kernel's RLS is the single-pass ``rls_step_lazy`` (issue 15): its
pending update is flushed at every return of the loop, so between chunks P is the true P.

The plain NumPy reference computes ``P @ x`` through BLAS, in another summation order than
any compiled kernel (``test_force.py`` compares with it to rounding). The bitwise oracle
here is the reference engine with its RLS step replaced by the compiled two-pass
``rls_step`` (the kernel's update before issue 15): every other operation of the reference
agrees with the kernel bitwise in float64 (``test_engine_equivalence.py``).
"""
import numpy as np
import pytest

from neurosim.checkpoint import Resumed
from neurosim.config import RunConfig
from neurosim.kernels import reference
from neurosim.kernels.rls import rls_step
from neurosim.learners.force import Force
from neurosim.network import build_network
from neurosim.simulator import Simulator, n_features
from neurosim.streams import Chunk

from test_force import nicola_clopath

N, DT, CHUNK, N_CHUNKS, GATE_FROM = 80, 0.25, 100, 5, 40


def _two_pass(P, W, x, err, lam=1.0):
    """The reference's RLS step, done by the compiled two-pass kernel."""
    k = np.empty(x.shape[0], P.dtype)
    rls_step(P, W, x, err, lam, k)
    return k


def _sim(backend, forgetting, seed=3, dtype="float64"):
    net = build_network(nicola_clopath(N), seed, dtype)
    enc = (2.0 * np.random.default_rng(1).random((1, N)) - 1.0) * 5000.0
    readout = Force(alpha=0.5, rls_every=2, forgetting=forgetting).init_state(
        n_features(net), 1, N, dtype, DT, encoders=enc)
    return Simulator(net, RunConfig(dt_ms=DT, dtype=dtype, backend=backend, seed=seed),
                     readout=readout)


def _chunks():
    n = CHUNK * N_CHUNKS
    target = np.sin(2.0 * np.pi * np.arange(n) * DT / 40.0)[:, None]
    gate = (np.arange(n) >= GATE_FROM).astype(float)
    return [Chunk(CHUNK, target=target[lo:lo + CHUNK], gate=gate[lo:lo + CHUNK])
            for lo in range(0, n, CHUNK)]


def _restored(sim, backend, forgetting, dtype="float64"):
    """A fresh simulator holding ``sim``'s checkpoint (the in-memory form of a file's)."""
    arrays, meta = sim.checkpoint()
    new = _sim(backend, forgetting, dtype=dtype)
    new.restore(arrays, meta)
    return new


def _kernel_vs_oracle(monkeypatch, forgetting, dtype="float64"):
    """(P, W, z) of the compiled kernel (checkpointed and restored into a fresh simulator
    between chunks) and of the oracle, after every chunk."""
    monkeypatch.setattr(reference, "rls_step_reference", _two_pass)
    kern, orac = _sim("numba", forgetting, dtype=dtype), _sim("numpy", forgetting, dtype=dtype)
    out = []
    for chunk in _chunks():
        zk = kern.run_one_chunk(chunk).z
        zo = orac.run_one_chunk(chunk).z
        out.append(((kern.readout.P.copy(), kern.readout.W.copy(), zk),
                    (orac.readout.P.copy(), orac.readout.W.copy(), zo)))
        n, work = kern.readout.P.shape[0], kern.readout.rls_work
        assert tuple(work[1, n:]) == (1.0, 0.0)   # nothing pending
        if kern.readout.P.dtype == np.float64:    # the lazy step kept its last k in row 1
            assert np.array_equal(work[1, :n], work[0, :n]) and work[0, :n].any()
        else:                                     # the two-pass step uses row 0 only
            assert not work[1, :n].any() and work[0, :n].any()
        kern = _restored(kern, "numba", forgetting, dtype)
    assert kern.readout.counters[2] == orac.readout.counters[2] == 460   # gated steps
    assert np.abs(out[-1][1][1]).max() > 0.01     # RLS learned
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_kernel_lazy_rls_equals_two_pass_oracle_bitwise_across_checkpoints(monkeypatch, dtype):
    """lam = 1: P after every chunk (checkpoint/restore in between), W and z are the oracle's
    bits: the deferred update (float64 P) does the two-pass update's operations in the same
    order; float32 P runs the two-pass update itself (``kernels.cpu._rls_update``)."""
    out = _kernel_vs_oracle(monkeypatch, 1.0, dtype)
    assert out[-1][0][0].dtype == np.dtype(dtype)
    for c, ((Pk, Wk, zk), (Po, Wo, zo)) in enumerate(out):
        assert np.array_equal(Pk, Po), f"P after chunk {c}"
        assert np.array_equal(Wk, Wo), f"W after chunk {c}"
        assert np.array_equal(zk, zo), f"z of chunk {c}"
        assert np.array_equal(Pk, Pk.T)              # P stays exactly symmetric


def test_kernel_lazy_rls_with_forgetting_matches_the_oracle_to_rounding(monkeypatch):
    """lam < 1: the lazy step scales the stored P by a = 1/lam and subtracts (c/lam) k k^T,
    the two-pass one computes (P - c k k^T) * (1/lam): an element's result differs by a
    rounding or two per update, and these add up over the updates. Measured here (230
    updates, max |P| 2.5, max |W| 1.9): max |dP| 1.5e-14, |dW| 3.6e-15, |dz| 2.9e-16 over
    all chunks (vs the plain BLAS reference: 5.8e-14 / 1.5e-14 / 2.8e-15, the same size as
    the old two-pass kernel's 5.4e-14 / 1.6e-14 / 3.0e-15). The bound, 1e-12, is 66x the
    measured P difference and 1000x below the 1e-9 at which test_force compares with the
    BLAS reference."""
    out = _kernel_vs_oracle(monkeypatch, 0.999)
    for c, ((Pk, Wk, zk), (Po, Wo, zo)) in enumerate(out):
        np.testing.assert_allclose(Pk, Po, rtol=0, atol=1e-12, err_msg=f"P, chunk {c}")
        np.testing.assert_allclose(Wk, Wo, rtol=0, atol=1e-12, err_msg=f"W, chunk {c}")
        np.testing.assert_allclose(zk, zo, rtol=0, atol=1e-12, err_msg=f"z, chunk {c}")
        assert np.array_equal(Pk, Pk.T)
    assert not np.array_equal(out[-1][0][0], out[-1][1][0])   # (it is not bitwise)


@pytest.mark.parametrize("via", ["Resumed.restore", "hdf5"])
def test_a_checkpoint_with_the_old_1d_kbuf_restores_and_continues_bitwise(tmp_path, via):
    """Checkpoints from the two-pass kernel hold ``readout.kbuf`` (n_feat,), not
    ``readout.rls_work``; it carried nothing between chunks, so it becomes fresh work."""
    chunks = _chunks()
    ref = _sim("numba", 1.0)
    for chunk in chunks:
        ref.run_one_chunk(chunk)
    first = _sim("numba", 1.0)
    for chunk in chunks[:2]:
        first.run_one_chunk(chunk)
    arrays, meta = first.checkpoint()
    nf = arrays.pop("readout.rls_work").shape[1] - 2      # the old layout
    arrays["readout.kbuf"] = np.full(nf, 7.0)             # whatever the last update left
    second = _sim("numba", 1.0)
    if via == "hdf5":
        from neurosim.results import ResultsWriter
        with ResultsWriter(tmp_path / "c.h5", "w") as w:
            run = w.create_run("r", "test", dict(seed=3, backend="numba", dtype="float64",
                                                 dt_ms=DT), {})
            run.save_checkpoint(arrays, meta)
            arrays, meta = run.load_checkpoint()
        assert "readout.kbuf" in arrays and "readout.rls_work" not in arrays
    Resumed(None, {}, arrays, meta).restore(second)
    for chunk in chunks[2:]:
        second.run_one_chunk(chunk)
    for name in ("W", "P", "z", "counters", "rls_work"):
        assert np.array_equal(getattr(ref.readout, name), getattr(second.readout, name)), name
    assert np.array_equal(ref.state.v, second.state.v)
