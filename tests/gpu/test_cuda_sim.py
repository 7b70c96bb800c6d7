"""The cuda backend equals the NumPy reference (same counter-based noise) under the CUDA simulator.

Sizes are tiny (N <= 64, <= 60 steps): the simulator runs every GPU thread as a Python
thread. Run in its own process: ``NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/gpu -q``.
"""
import os
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest
from numba import cuda  # a module global, so the simulator can swap it inside kernels

from neurosim.backends import get_backend
from neurosim.config import ChannelConfig, FeaturesConfig, NetworkConfig, RunConfig, SynapseConfig
from neurosim.monitors import Recorder
from neurosim.network import build_network
from neurosim.simulator import Simulator, n_features, new_readout
from neurosim.streams import ArrayStream

from .readouts import rls_readout

pytestmark = pytest.mark.cudasim
THREADS = 4
TOL = 1e-9


def run_pair(cfg, steps=50, chunk_steps=25, dt=1.0, readout=None, stream=None, capacity=None,
             seed=2, **options):
    """Run ``cfg`` on the numpy reference and on cuda (same noise keys); returns both results."""
    out = {}
    for name in ("numpy", "cuda"):
        net = build_network(cfg, seed=seed, dtype="float64")
        run = RunConfig(backend="numpy", dtype="float64", dt_ms=dt, duration_ms=steps * dt,
                        chunk_ms=chunk_steps * dt, seed=seed, record_traces=(0, 3))
        sim = Simulator(net, run, readout=readout(net) if readout else None)
        if name == "cuda":
            sim.backend = get_backend("cuda", threads=THREADS, **options)
        if capacity:
            sim._spike_capacity = capacity
        rec = sim.run(stream=stream, recorder=Recorder(net.n_neurons, dt))
        out[name] = (sim, rec)
    return out["numpy"], out["cuda"]


def assert_same(ref, dev, min_spikes=1):
    (sa, ra), (sb, rb) = ref, dev
    assert ra.spikes.num_spikes >= min_spikes, "the case must spike"
    np.testing.assert_array_equal(ra.spikes.i, rb.spikes.i)
    np.testing.assert_array_equal(ra.spikes.t, rb.spikes.t)
    for f in ("v", "u", "isyn", "hsyn", "ffast", "frise", "fslow", "fmean", "x", "fb"):
        np.testing.assert_allclose(getattr(sb.state, f), getattr(sa.state, f), rtol=0,
                                   atol=TOL, err_msg=f)
    np.testing.assert_allclose(rb.traces, ra.traces, rtol=0, atol=TOL)
    np.testing.assert_array_equal(ra.rate, rb.rate)


def test_device_noise_is_the_cpu_noise():
    """The kernel's draws, thread by thread, are bitwise the NumPy oracle's (and so the CPU's)."""
    from neurosim.kernels.rng import normal, normals_host

    @cuda.jit
    def draw(out, keys, step0):
        i = cuda.threadIdx.x
        for t in range(out.shape[0]):
            out[t, i] = normal(keys[0], keys[1], step0 + t, i)

    keys = np.array([12345, 678], np.uint64)
    out = np.zeros((40, 8))
    draw[1, 8](out, keys, np.int64(2**32 - 5))          # crosses the counter's 32-bit word
    np.testing.assert_array_equal(out, normals_host(keys, 2**32 - 5, 40, 8))


def test_dense_izhikevich2003_matches_reference():
    ref, dev = run_pair(NetworkConfig(n_neurons=48), steps=50)
    assert_same(ref, dev, min_spikes=5)


def test_csr_exponential_euler_with_buffer_refill():
    cfg = NetworkConfig(n_neurons=64, integration="euler", connectivity="sparse",
                        connection_probability=0.2, scale_weights_with_n=True,
                        synapse=SynapseConfig(model="exponential", tau_decay_ms=5.0),
                        allow_self_connections=False)
    # capacity N + 3: the kernel must stop mid-chunk and the simulator refill the buffer
    ref, dev = run_pair(cfg, steps=50, capacity=64 + 3)
    assert_same(ref, dev, min_spikes=10)


def test_csr_double_exponential_2007_matches_reference():
    cfg = NetworkConfig(
        n_neurons=32, neuron_model="nicola_clopath2017", integration="euler",
        connectivity="sparse", weight_distribution="gaussian", connection_probability=0.3,
        noise_excitatory=0.0, noise_inhibitory=0.0, gaussian_gain=2000.0,
        synapse=SynapseConfig(model="double_exponential", tau_rise_ms=2.0, tau_decay_ms=20.0),
        features=FeaturesConfig(kernel="double_exponential", tau_rise_ms=2.0, tau_fast_ms=20.0))
    ref, dev = run_pair(cfg, steps=60, chunk_steps=30, dt=0.1)
    assert_same(ref, dev, min_spikes=1)


def _readout_cfg():
    return NetworkConfig(n_neurons=40, bias_excitatory=(3.5, 5.5), bias_inhibitory=(1, 3),
                         noise_excitatory=2.0, noise_inhibitory=1.0, scale_weights_with_n=True,
                         features=FeaturesConfig(tau_slow_ms=20.0, centering=True, bias=True),
                         inputs=(ChannelConfig("cue", 30.0, 0.5),))


def _stream(steps, n_out):
    drive = np.zeros((steps, 1))
    drive[5:15] = 1.0
    gate = np.zeros(steps)
    gate[8:40] = 1.0
    target = np.zeros((steps, n_out))
    target[12:30, 0] = 1.0
    return ArrayStream(drive, 25, gate=gate, target=target)


@pytest.mark.parametrize("rule", ["online", "accumulate"])
def test_three_factor_readout_matches_reference(rule):
    def readout(net):
        enc = 0.2 * np.random.default_rng(0).standard_normal((2, net.n_neurons))
        return new_readout(2, n_features(net), net.n_neurons, net.a.dtype, rule=rule, eta=1e-3,
                           e_decay=0.5, online=[1.0, 0.0], encoders=enc)

    ref, dev = run_pair(_readout_cfg(), steps=50, readout=readout, stream=_stream(50, 2))
    assert_same(ref, dev, min_spikes=5)
    (sa, ra), (sb, rb) = ref, dev
    for f in ("W", "W0", "U", "elig", "tag_sum", "fsums", "z", "z0"):
        np.testing.assert_allclose(getattr(sb.readout, f), getattr(sa.readout, f), rtol=0,
                                   atol=TOL, err_msg=f)
    np.testing.assert_array_equal(sa.readout.counters, sb.readout.counters)
    np.testing.assert_allclose(rb.z, ra.z, rtol=0, atol=TOL)
    np.testing.assert_allclose(rb.z0, ra.z0, rtol=0, atol=TOL)
    learned = sb.readout.W if rule == "online" else sb.readout.U
    assert np.abs(learned[0]).sum() > 0 and np.all(learned[1] == 0)


def test_plug_in_rule_oja_matches_reference():
    """A plug-in rule (``neurosim/learners/oja.py``) through the kernel compiled with its
    update: same weights and outputs as the NumPy reference."""
    from neurosim.learners import make_learner

    def readout(net):
        r = make_learner("oja", init_seed=1).init_state(n_features(net), 2, net.n_neurons,
                                                         net.a.dtype, 1.0)
        r.hyper[0] = 1e-3
        return r

    ref, dev = run_pair(_readout_cfg(), steps=50, readout=readout, stream=_stream(50, 2))
    assert_same(ref, dev, min_spikes=5)
    (sa, ra), (sb, rb) = ref, dev
    start = readout(build_network(_readout_cfg(), seed=2, dtype="float64")).W
    assert np.abs(sb.readout.W - start).max() > 1e-6, "the rule must have learned"
    np.testing.assert_allclose(sb.readout.W, sa.readout.W, rtol=0, atol=TOL)
    np.testing.assert_allclose(rb.z, ra.z, rtol=0, atol=TOL)


@pytest.mark.parametrize("rls", ["fused", "split"])
@pytest.mark.parametrize("lam, every", [(0.999, 3), (1.0, 1)])
def testrls_readout_matches_reference(rls, lam, every):
    """RLS inside the chunk kernel (``fused``) and between split launches with the array
    module (``split``): the same run as the NumPy reference; fused needs no extra launch."""
    ref, dev = run_pair(_readout_cfg(), steps=50, rls=rls, stream=_stream(50, 1),
                        readout=lambda net: rls_readout(net, lam, every),
                        capacity=40 * 50)                  # no launch stops on a full buffer
    assert_same(ref, dev, min_spikes=5)
    (sa, ra), (sb, rb) = ref, dev
    for f in ("W", "P", "z", "err"):
        np.testing.assert_allclose(getattr(sb.readout, f), getattr(sa.readout, f), rtol=0,
                                   atol=TOL, err_msg=f)
    np.testing.assert_array_equal(sb.readout.P, sb.readout.P.T)   # symmetric bit for bit
    np.testing.assert_array_equal(sa.readout.counters, sb.readout.counters)
    np.testing.assert_allclose(rb.z, ra.z, rtol=0, atol=TOL)
    assert np.abs(sb.readout.W).sum() > 0
    runner = sb.backend.resident
    assert runner._batch.fused == (rls == "fused")
    n_due = -(-int(sb.readout.counters[2]) // every)       # updates made (gate > 0 steps)
    launches = runner._batch.launches
    assert n_due >= 5
    if rls == "fused":
        assert launches == 2                               # one per chunk
    else:                                                  # one per update (+ chunk tails)
        assert n_due <= launches <= n_due + 2


def test_rls_mode_is_checked_and_auto_fuses_when_replicates_fill_the_device():
    """(The size rule runs without a device: ``tests/test_config_and_api.py``.)"""
    from neurosim.config import ConfigError
    from neurosim.gpu import FUSED_RLS_MAX_BYTES, rls_fused
    with pytest.raises(ConfigError, match="rls = 'cublas'.*auto, fused, split"):
        get_backend("cuda", rls="cublas")
    side = int(np.sqrt(FUSED_RLS_MAX_BYTES / 8))
    # past the size, auto fuses only when the replicates fill the device (1 SM simulated)
    assert rls_fused("auto", 1, 2 * side, 8)


def test_batched_rls_update_matches_reference():
    from neurosim.kernels.cuda import rls_update
    from neurosim.kernels.rls import rls_init, rls_step_reference
    rng = np.random.default_rng(4)
    B, nf, n_out = 3, 7, 2
    P = np.stack([rls_init(nf, 0.5) for _ in range(B)])
    W = rng.standard_normal((B, n_out, nf))
    P_ref, W_ref = P.copy(), W.copy()
    for _ in range(4):
        x, err = rng.standard_normal((B, nf)), rng.standard_normal((B, n_out))
        rls_update(np, P, W, x, err, 0.98)
        for b in range(B):
            rls_step_reference(P_ref[b], W_ref[b], x[b], err[b], 0.98)
    np.testing.assert_allclose(P, P_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(W, W_ref, rtol=1e-12, atol=1e-12)


def test_replicates_cuda_equal_cpu_loop():
    from neurosim.replicates import run_replicates
    cfg = NetworkConfig(n_neurons=32, scale_weights_with_n=True)
    run = RunConfig(dtype="float64", duration_ms=40.0, chunk_ms=20.0)

    def readout(net):
        return new_readout(1, n_features(net), net.n_neurons, net.a.dtype, rule="online",
                           eta=1e-2)

    steps = 40
    stream = ArrayStream(np.zeros((steps, 0)), 20, gate=np.ones(steps),
                         target=np.sin(np.arange(steps) / 5.0)[:, None])
    cpu = run_replicates(cfg, run, [1, 2, 3], backend="numba", stream=stream, readout=readout)
    dev = run_replicates(cfg, run, [1, 2, 3], backend="cuda", stream=stream, readout=readout,
                         threads=THREADS)
    for a, b in zip(cpu.spikes, dev.spikes):
        assert a.num_spikes > 3
        np.testing.assert_array_equal(a.i, b.i)
        np.testing.assert_array_equal(a.t, b.t)
    for ra, rb in zip(cpu.readouts, dev.readouts):
        np.testing.assert_allclose(rb.W, ra.W, rtol=0, atol=TOL)
    for sa, sb in zip(cpu.states, dev.states):
        np.testing.assert_allclose(sb.v, sa.v, rtol=0, atol=TOL)
    assert not np.array_equal(cpu.spikes[0].i, cpu.spikes[1].i), "replicates must differ"


@pytest.mark.parametrize("dtype, tol", [("float64", TOL), ("float32", 2e-4)])
def test_replicates_rls_fused_equals_split_and_cpu(dtype, tol):
    """B = 2 FORCE readouts, each block updating its own P inside the launch: the same
    weights as the split launches and as the numba loop (float32: P stored in float32, the
    fused update computed in float64, hence the tolerance)."""
    from neurosim.replicates import run_replicates
    cfg = replace(_readout_cfg(), n_neurons=16)
    run = RunConfig(dtype=dtype, duration_ms=24.0, chunk_ms=12.0)
    steps = 24
    stream = ArrayStream(np.zeros((steps, 1)), 12, gate=np.ones(steps),
                         target=np.sin(np.arange(steps) / 5.0)[:, None])
    res = {"numba": run_replicates(cfg, run, [1, 2], backend="numba", stream=stream,
                                   readout=rls_readout)}
    for mode in ("fused", "split"):
        res[mode] = run_replicates(cfg, run, [1, 2], backend="cuda", stream=stream,
                                   readout=rls_readout, threads=THREADS, rls=mode)
    for mode in ("fused", "split"):
        for a, b in zip(res["numba"].spikes, res[mode].spikes):
            np.testing.assert_array_equal(a.t, b.t)
        for ra, rb in zip(res["numba"].readouts, res[mode].readouts):
            assert np.abs(ra.W).max() > 1e-3, "RLS must have learned"
            np.testing.assert_allclose(rb.W, ra.W, rtol=0, atol=tol * np.abs(ra.W).max())
            np.testing.assert_allclose(rb.P, ra.P, rtol=0, atol=tol * np.abs(ra.P).max())


def test_backend_registry_and_device_rng():
    from neurosim.backends import available_backends, get_backend
    from neurosim.replicates import run_replicates
    assert "cuda" in available_backends()
    assert get_backend("cuda").name == "cuda"
    assert get_backend("auto").name == "numba"
    cfg = NetworkConfig(n_neurons=48)
    run = RunConfig(backend="cuda", dtype="float64", duration_ms=40.0, chunk_ms=20.0)
    res = run_replicates(cfg, run, [5, 5, 6], backend="cuda", threads=THREADS)
    a, b, c = res.spikes
    assert a.num_spikes > 3
    np.testing.assert_array_equal(a.i, b.i)          # same seed, same device noise
    assert not np.array_equal(a.i, c.i)
    net = build_network(cfg, seed=5, dtype="float64")
    sim = Simulator(net, run)                         # through the registry, device RNG
    assert sim.backend.name == "cuda"
    rec = sim.run(duration_ms=20.0, recorder=Recorder(48, 1.0))
    assert rec.spikes.num_spikes > 3 and np.all(np.isfinite(sim.state.v))


_PTX_SCRIPT = textwrap.dedent("""
    import types
    import numba, numpy as np
    from numba import cuda
    import numba.cuda.dispatcher as disp
    # device functions ask the (absent) device for its compute capability: pretend sm_90
    disp.get_current_device = lambda: types.SimpleNamespace(compute_capability=(9, 0))
    import neurosim.gpu as gpu
    import neurosim.replicates as replicates
    from neurosim.config import NetworkConfig, RunConfig, FeaturesConfig
    from neurosim.kernels import cuda as kc
    captured = []
    class Grab:
        def __getitem__(self, cfg):
            def launch(*args):
                captured.append(args)
                args[-4][:] = args[-3]                # tpos = t_end: as if the chunk ran
            return launch
    kc.chunk_kernel, real = Grab(), kc.chunk_kernel
    gpu.simulator_enabled = lambda: True          # NumPy arrays stand in, nothing launches
    for dtype, conn in (("float32", "sparse"), ("float64", "dense")):
        cfg = NetworkConfig(n_neurons=16, connectivity=conn,
                            features=FeaturesConfig(tau_slow_ms=20.0, bias=True))
        run = RunConfig(dtype=dtype, duration_ms=2.0, chunk_ms=2.0)
        replicates.run_replicates(cfg, run, [0], backend="cuda", threads=4)
    kc.chunk_kernel = real
    from neurosim.learners import oja, three_factor   # plug-in rules' kernels compile too
    from neurosim.kernels.plugins import rule_code
    for args in captured[:1] + captured[-1:]:
        sig = tuple(numba.typeof(a) for a in args)
        for kernel in (real, kc.kernel_for(rule_code("oja")), kc.kernel_for(rule_code("online"))):
            ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=(9, 0))
            assert ".entry" in ptx
    print("PTX OK", len(captured))
""")


def test_kernel_compiles_to_ptx_for_a_real_gpu():
    """Types the kernel as numba-cuda would on a GPU (the simulator does not type-check)."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    probe = subprocess.run([sys.executable, "-c", "from numba.cuda.cudadrv import nvvm; "
                            "nvvm.NVVM()"], env=env, capture_output=True, text=True)
    if probe.returncode != 0:
        if os.environ.get("NEUROSIM_REQUIRE_PTX") == "1":   # CI: the test extra brings NVVM
            pytest.fail("NVVM is missing, but NEUROSIM_REQUIRE_PTX=1: install "
                        "numba-cuda[cu12] (the test extra has it)\n" + probe.stderr[-2000:])
        pytest.skip("NVVM (CUDA toolkit) not available to compile PTX")
    res = subprocess.run([sys.executable, "-c", _PTX_SCRIPT], env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0 and "PTX OK" in res.stdout, res.stderr[-3000:]


@pytest.mark.gpu
@pytest.mark.parametrize("conn", ["dense", "sparse"])
def test_real_gpu_matches_numba_n1000(conn):
    """On a real GPU: N = 1000, 200 steps, the same noise; spikes identical to numba."""
    cfg = NetworkConfig(n_neurons=1000, connectivity=conn, connection_probability=0.1,
                        scale_weights_with_n=True)
    out = {}
    for name in ("numba", "cuda"):
        net = build_network(cfg, seed=7, dtype="float64")
        sim = Simulator(net, RunConfig(backend="numba", dtype="float64", duration_ms=200.0,
                                       chunk_ms=100.0, seed=7))
        if name == "cuda":
            sim.backend = get_backend("cuda")
        out[name] = (sim, sim.run(recorder=Recorder(1000, 1.0)))
    (sa, ra), (sb, rb) = out["numba"], out["cuda"]
    assert ra.spikes.num_spikes > 100
    np.testing.assert_array_equal(ra.spikes.i, rb.spikes.i)
    np.testing.assert_allclose(sb.state.v, sa.state.v, rtol=0, atol=1e-6)
