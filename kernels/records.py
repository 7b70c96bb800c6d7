"""Plain records (namedtuples of arrays and scalars) passed to every backend's ``run_chunk``.

Norse-style separation: ``Params`` never change during a run; ``State`` and ``Readout`` are
updated in place; ``ChunkIO`` holds one chunk's per-step inputs; ``Recording`` receives
bulk records; ``Noise`` says which counter-based draws the chunk takes (``kernels/rng.py``). Numba compiles namedtuples natively, so the compiled and the reference kernels
read the same records. Every array is always present (size 0 when a feature is off), so a
configuration change never changes the compiled signature, only the dtype does.

Integer codes
-------------
form:      0 Izhikevich 2003 quadratic, 1 Izhikevich 2007 (C, k, vr, vt)
scheme:    0 ``izhikevich2003`` (v in two dt/2 half-steps, u from the new v), 1 ``euler``
syn_kind:  0 delta (v_post += w), 1 exponential, 2 double exponential (unit-area kernels)
feat_kind: 0 exponential (jump 1 per spike), 1 double exponential (unit area)
rule:      0 frozen, 3 RLS (FORCE: the P matrix, not local; built into every kernel),
           >= 4 a local rule, plugged in (``kernels/plugins.py``: its update, per synapse):
           among them the three-factor ``"online"`` (``learners/three_factor.py``) and
           ``"accumulate"`` (``learners/continual.py``), which were codes 1 and 2 before
           (``Simulator.restore`` maps a checkpoint's old codes); 1 and 2 are unused
"""
from collections import namedtuple

Params = namedtuple("Params", [
    # neurons, (N,) arrays
    "a", "b", "c", "d", "bias", "sigma",
    # model constants
    "form", "scheme", "dt", "C", "k", "vr", "vt", "v_peak", "has_noise",
    # connectivity: dense [pre, post] (N, N) or (0, 0); CSR by presynaptic row
    "dense", "w_dense", "indptr", "indices", "w_data",
    # synapses
    "syn_kind", "syn_decay", "syn_rise_decay", "syn_scale",
    # external input projection (n_channels, N)
    "proj",
    # features
    "feat_kind", "f_decay", "f_rise_decay", "f_inc", "has_slow", "s_decay", "s_scale",
    "center", "c_rate", "bias_feature",
])

State = namedtuple("State", [
    "v", "u",            # (N,) membrane potential (mV) and recovery variable
    "isyn", "hsyn",      # (N,) synaptic current and its rise variable
    "fb",                # (N,) feedback current from the readouts, applied next step
    "ffast", "frise",    # (N,) fast feature trace and its rise variable
    "fslow",             # (N,) slow feature trace (size 0 when off)
    "fmean",             # (n_feat,) running mean of features (centring)
    "x",                 # (n_feat,) current (centred) features, work array
])

Readout = namedtuple("Readout", [
    "W",         # (n_out, n_feat) readout weights
    "W0",        # (n_out, n_feat) snapshot taken when the gate opens
    "elig",      # (n_feat,) eligibility trace
    "U",         # (n_out, n_feat) a local rule's per-synapse state (``s``): for rule
                 # "accumulate" the update signal summed over a trial
    "P",         # (n_feat, n_feat) RLS inverse correlation (or (0, 0))
    "rls_work",  # (2, n_feat + 2) RLS work array of kernels.rls.rls_step_lazy (its pending
                 # rank-1 update of P); between chunks nothing is pending (the CPU kernel
                 # flushes it), so P is the true P there
    "err",       # (n_out,) work buffer
    "z", "z0",   # (n_out,) outputs with current and frozen (snapshot) weights
    "tag_sum",   # (n_feat,) sum of features over tagged steps
    "enc",       # (n_out, N) feedback encoders, or (0, N) without feedback
    "online",    # (n_out,) 1.0 where the output learns online
    "counters",  # int64 (3,): gate_prev, tag_count, gated step count (RLS schedule)
    "fsums",     # float64 (4,): sum over gated steps of |x|^2, number of gated steps;
                 # [2:] belong to the learner (kernels do not touch them)
    "hyper",     # float64 (4,): a local rule's hyper-parameters, as its update reads them;
                 # new_readout puts the rate eta in [0] and dt_ms in [1] (read by "online"
                 # and "accumulate" respectively)
    "rule",      # code, see CODES["rule"] and kernels/plugins.py
    "e_decay",   # eligibility decay per step (0: elig = x)
    "lam", "rls_every",   # RLS forgetting factor and step interval
    "dt_ms",     # the time step (the learners read it; the kernels do not)
])

ChunkIO = namedtuple("ChunkIO", [
    "drive",   # (n_steps, n_channels) input drive per channel
    "target",  # (n_steps, n_out) targets
    "gate",    # (n_steps,) attention gate g(t) in [0, 1]
    "tag",     # (n_steps,) uint8, 1 where features are summed into the tag
])

Recording = namedtuple("Recording", [
    "record_spikes",
    "spk_step", "spk_id",  # int32 (capacity,) spike buffer: step within chunk, neuron id
    "n_spk",               # int64 (1,) number of spikes in the buffer
    "rate",                # int32 (n_steps,) spikes per step
    "trace_ids",           # int64 (n_traces,) neurons whose v is recorded
    "traces",              # (n_steps, n_traces) v after the step (mV)
    "z", "z0",             # (n_steps, n_out) readout outputs
    "fault",               # int64 (3,): [step within the chunk or -1, kind, index], see below
])
"""``fault``: set by the kernel when the run diverges, which then returns that step before
recording anything of it. kind 0: the membrane potential of neuron ``index`` is not finite
after the state update (the lowest such neuron; NaN or inf in u or the synaptic current
reaches v within one step); kind 1: readout output ``index`` is not finite (its weights
diverged on an earlier step). The CUDA kernel has one row per replicate, (B, 3)."""

Noise = namedtuple("Noise", [
    "k0", "k1",   # np.uint64 key words (32-bit values) of the run's noise stream
    "step0",      # int64 global step of the chunk's step 0: step t draws counter step0 + t
])

CODES = {
    "scheme": {"izhikevich2003": 0, "euler": 1},
    "syn_kind": {"delta": 0, "exponential": 1, "double_exponential": 2},
    "feat_kind": {"exponential": 0, "double_exponential": 1},
    "rule": {"frozen": 0, "rls": 3},     # the built-in rules; local rules: kernels/plugins.py
}
