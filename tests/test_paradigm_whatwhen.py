"""The what/when stimulus stream (paradigms/whatwhen.py)."""
import math

import numpy as np
import pytest

from neurosim.paradigms.whatwhen import (CUE_VARIANTS, Block, TrialChunk, WhatWhenSpec,
                                         WhatWhenStream, default_spec, switch_blocks)

COLUMNS = {"trial", "block", "cue", "identity", "occurred", "latency_ms", "iti_ms", "cue_step",
           "stim_step", "start_step", "n_steps", "p_stimulus"}


def _spec(blocked=True, n=(2000, 2000), p=(0.2, 0.8), **kw):
    blocks = switch_blocks(list(n), list(p), (300.0, 700.0), CUE_VARIANTS)
    return WhatWhenSpec(n_identities=2, n_cues=2, blocks=blocks,
                        blocked_randomisation=blocked, **kw)


def _binomial_ok(k, n, p, z=4.0):
    return abs(k - n * p) <= z * math.sqrt(n * p * (1 - p)) + 1e-9


# ---------------------------------------------------------------- trial statistics
def test_iid_stimulus_frequency_within_binomial_bounds():
    tb = WhatWhenStream(_spec(blocked=False), seed=1).trial_table()
    for b, p in enumerate((0.2, 0.8)):
        occ = tb["occurred"][tb["block"] == b]
        assert _binomial_ok(occ.sum(), occ.size, p)
    np.testing.assert_array_equal(tb["p_stimulus"], np.repeat([0.2, 0.8], 2000))


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_blocked_randomisation_exact_per_run(p):
    spec = _spec(n=(95,), p=(p,), randomisation_block=10)     # last run has 5 trials
    occ = WhatWhenStream(spec, seed=3).trial_table()["occurred"]
    for s in range(0, 95, 10):
        run = occ[s:s + 10]
        if float(run.size * p).is_integer():      # exactly round(len * p) ...
            assert run.sum() == round(run.size * p)
        else:                                     # ... else floor or ceil (last run, p = 0.5)
            assert run.sum() in (math.floor(run.size * p), math.ceil(run.size * p))
    # positions are shuffled, not a fixed pattern
    if 0 < p < 1:
        assert len({tuple(occ[s:s + 10]) for s in range(0, 90, 10)}) > 1


def test_blocked_randomisation_fractional_runs_are_unbiased():
    occ = WhatWhenStream(_spec(n=(400,), p=(0.25,)), seed=2).trial_table()["occurred"]
    runs = occ.reshape(40, 10).sum(axis=1)
    assert set(runs) == {2, 3}                     # floor or ceil of 2.5 ...
    assert occ.sum() == 100                        # ... and the block's rate exact


@pytest.mark.parametrize("blocked", [False, True])
def test_identity_frequency_per_cue(blocked):
    tb = WhatWhenStream(_spec(blocked=blocked), seed=4).trial_table()
    for c in range(2):
        sel = tb["occurred"] & (tb["cue"] == c)
        ids = tb["identity"][sel]
        for k in range(2):
            assert _binomial_ok((ids == k).sum(), ids.size, CUE_VARIANTS[c][k])
    assert np.all(tb["identity"][~tb["occurred"]] == -1)
    assert _binomial_ok((tb["cue"] == 0).sum(), tb["cue"].size, 0.5)


def test_blocked_identity_balance_within_one_trial():
    tb = WhatWhenStream(_spec(), seed=5).trial_table()
    for b in range(2):
        blk = np.flatnonzero(tb["block"] == b)
        for end in range(10, blk.size + 1, 10):           # at the end of every run
            sel = blk[:end]
            for c in range(2):
                ids = tb["identity"][sel][tb["occurred"][sel] & (tb["cue"][sel] == c)]
                for k in range(2):
                    assert abs((ids == k).sum() - ids.size * CUE_VARIANTS[c][k]) < 1 - 1e-9


def test_zero_probability_identity_never_occurs():
    blk = Block(300, 1.0, ((1.0, 0.0, 0.0),), (100.0, 200.0, 300.0))
    for blocked in (True, False):
        spec = WhatWhenSpec(n_identities=3, blocks=(blk,), blocked_randomisation=blocked)
        assert np.all(WhatWhenStream(spec, 0).trial_table()["identity"] == 0)


# ---------------------------------------------------------------- per-step layout
@pytest.mark.parametrize("dt", [1.0, 0.5, 0.3])
def test_chunk_layout_exact(dt):
    spec = _spec(n=(30, 30), dt_ms=dt)
    stream = WhatWhenStream(spec, seed=6)
    cue_steps, stim_steps = round(50 / dt), round(50 / dt)
    n_seen = {True: 0, False: 0}
    for ch in stream:
        tr = ch.trial
        n, cs, ss = ch.n_steps, ch.cue_step, ch.stim_step
        assert isinstance(ch, TrialChunk)
        assert n == tr["n_steps"] == cs + round(1000 / dt)
        assert cs == tr["cue_step"] == round(tr["iti_ms"] / dt)
        assert round(500 / dt) <= cs <= round(1000 / dt)
        assert ch.drive.shape == (n, 4) and ch.drive.dtype == np.float32
        assert ch.target.shape == (n, 3) and ch.target.dtype == np.float32
        assert ch.gate.dtype == np.float32 and ch.phase.dtype == np.int8 and ch.tag.dtype == bool
        cue = np.zeros(n)
        cue[cs:cs + cue_steps] = 1
        np.testing.assert_array_equal(ch.drive[:, tr["cue"]], cue)
        np.testing.assert_array_equal(ch.drive[:, 1 - tr["cue"]], 0)
        inside = np.arange(n) >= cs
        np.testing.assert_array_equal(ch.gate, inside)
        np.testing.assert_array_equal(ch.phase, inside)
        tag = np.zeros(n, bool)
        tag[cs:cs + round(300 / dt)] = True          # shortest latency, whatever the identity
        np.testing.assert_array_equal(ch.tag, tag)
        n_seen[tr["occurred"]] += 1
        if tr["occurred"]:
            k = tr["identity"]
            assert ss == tr["stim_step"] == cs + round(tr["latency_ms"] / dt)
            assert tr["latency_ms"] == (300.0, 700.0)[k]
            stim = np.zeros(n)
            stim[ss:ss + stim_steps] = 1
            np.testing.assert_array_equal(ch.drive[:, 2 + k], stim)
            np.testing.assert_array_equal(ch.drive[:, 3 - k], 0)
            assert ch.drive[:, 2 + k].sum() * dt == pytest.approx(50.0, abs=dt)
            assert int(np.argmax(ch.target[:, 0])) == ss and ch.target[ss, 0] == 1.0
            t = (np.arange(n) - ss) * dt
            np.testing.assert_allclose(ch.target[:, 0], np.exp(-t**2 / (2 * 25.0**2)), atol=1e-7)
            labels = np.zeros(2)
            labels[k] = 1
            np.testing.assert_array_equal(ch.target[:, 1:], np.tile(labels, (n, 1)))
        else:
            assert ss == -1 and tr["identity"] == -1 and math.isnan(tr["latency_ms"])
            np.testing.assert_array_equal(ch.drive[:, 2:], 0)
            np.testing.assert_array_equal(ch.target, 0)     # no when-bump, no what-label
    assert n_seen[True] > 0 and n_seen[False] > 0


def test_trial_table_columns_and_steps():
    stream = WhatWhenStream(default_spec(), seed=7)
    tb = stream.trial_table()
    assert set(tb) == COLUMNS
    assert all(v.shape == (len(stream),) for v in tb.values())
    np.testing.assert_array_equal(tb["trial"], np.arange(len(stream)))
    np.testing.assert_array_equal(tb["start_step"][1:], np.cumsum(tb["n_steps"])[:-1])
    assert tb["start_step"][0] == 0 and stream.total_steps == tb["n_steps"].sum()
    assert np.all((tb["iti_ms"] >= 500) & (tb["iti_ms"] <= 1000))
    assert tb["iti_ms"].std() > 100                         # jittered
    tb["cue"][:] = 99                                       # a copy: the stream is unaffected
    assert stream.trial_table()["cue"].max() <= 1


# ---------------------------------------------------------------- determinism
def _same_chunk(a, b):
    assert a.n_steps == b.n_steps and a.cue_step == b.cue_step and a.stim_step == b.stim_step
    for f in ("drive", "target", "gate", "phase", "tag"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert a.trial.keys() == b.trial.keys()
    for k in a.trial:
        assert a.trial[k] == b.trial[k] or (math.isnan(a.trial[k]) and math.isnan(b.trial[k]))


def _tables_equal(a, b):
    return all(np.array_equal(a[k], b[k], equal_nan=k == "latency_ms") for k in a)


def test_same_seed_same_stream_different_seed_differs():
    spec = _spec(n=(40, 40))
    a, b = WhatWhenStream(spec, 8), WhatWhenStream(spec, 8)
    assert _tables_equal(a.trial_table(), b.trial_table())
    for ca, cb in zip(a, b):
        _same_chunk(ca, cb)
    ss = np.random.SeedSequence(8)
    assert _tables_equal(WhatWhenStream(spec, ss).trial_table(),
                         WhatWhenStream(spec, np.random.SeedSequence(8)).trial_table())
    assert not _tables_equal(a.trial_table(), WhatWhenStream(spec, 9).trial_table())


def test_random_access_matches_iteration():
    stream = WhatWhenStream(_spec(n=(25, 25)), seed=10)
    chunks = list(stream)
    assert len(chunks) == len(stream) == 50
    for i in (0, 17, 49, 3):
        _same_chunk(stream.chunk(i), chunks[i])
    _same_chunk(stream.chunk(-1), chunks[-1])
    with pytest.raises(IndexError):
        stream.chunk(50)


# ---------------------------------------------------------------- builders
def test_default_spec():
    spec = default_spec()
    assert spec.n_cues == 2 and spec.n_identities == 2 and spec.n_channels == 4
    assert 400 <= spec.n_trials <= 600
    ps = [b.p_stimulus for b in spec.blocks]
    lats = [b.latencies_ms for b in spec.blocks]
    assert (0.8, 0.2) in zip(ps, ps[1:])                              # probability switch
    assert any(a[0] != b[0] for a, b in zip(lats, lats[1:]))          # timing switch of A
    assert spec.blocks[0].n_trials >= 200                             # n1 >= 200 (R6)
    assert spec.blocks[0].identity_probs == ((0.8, 0.2), (0.2, 0.8))
    assert default_spec(dt_ms=0.5).dt_ms == 0.5


def test_switch_blocks_broadcasts():
    blocks = switch_blocks(100, [0.8, 0.2], [(400, 800), (600, 800)], ((0.5, 0.5),))
    assert [b.n_trials for b in blocks] == [100, 100]
    assert [b.latencies_ms for b in blocks] == [(400.0, 800.0), (600.0, 800.0)]
    with pytest.raises(ValueError, match="different numbers of blocks"):
        switch_blocks([1, 2, 3], [0.8, 0.2], (400.0,), ((1.0,),))


# ---------------------------------------------------------------- validation
def _blk(**kw):
    args = dict(n_trials=10, p_stimulus=0.5, identity_probs=((0.5, 0.5),),
                latencies_ms=(400.0, 800.0))
    args.update(kw)
    return Block(**args)


def _ws(**kw):
    args = dict(n_identities=2, n_cues=1, blocks=(_blk(),))
    args.update(kw)
    return WhatWhenSpec(**args)


BAD = [
    (lambda: _blk(p_stimulus=1.3), r"Block\.p_stimulus = 1\.3 is outside \[0, 1\]"),
    (lambda: _blk(n_trials=0), r"Block\.n_trials = 0 is outside \[1, inf\)"),
    (lambda: _blk(n_trials=2.5), r"Block\.n_trials = 2\.5 is not an integer"),
    (lambda: _blk(identity_probs=((0.5, 0.4),)), r"Block\.identity_probs\[0\] .*sums to 0\.9"),
    (lambda: _blk(identity_probs=((1.2, -0.2),)), r"Block\.identity_probs\[0\]\[0\] = 1\.2"),
    (lambda: _blk(identity_probs=((0.5, 0.5), (1.0,))), r"Block\.identity_probs\[1\] .*length 1"),
    (lambda: _blk(latencies_ms=(-100.0, 800.0)), r"Block\.latencies_ms\[0\] = -100\.0 is outside \(0, inf\)"),
    (lambda: _blk(latencies_ms=(400.0,)), r"Block\.latencies_ms .*length 1, expected 2"),
    (lambda: _ws(blocks=(_blk(latencies_ms=(400.0, 980.0)),)),
     r"blocks\[0\]\.latencies_ms\[1\] = 980\.0 \+ stim_ms 50 exceeds window_ms = 1000"),
    (lambda: _ws(blocks=(_blk(latencies_ms=(400.0, 1500.0)),)), r"latencies_ms\[1\] = 1500\.0"),
    (lambda: _ws(n_cues=2), r"blocks\[0\]\.identity_probs .*1 rows but n_cues = 2"),
    (lambda: _ws(n_identities=3), r"blocks\[0\]\.identity_probs .*2 columns but n_identities = 3"),
    (lambda: _ws(blocks=()), r"WhatWhenSpec\.blocks = \(\) is empty"),
    (lambda: _ws(blocks=(_blk(), "x")), r"WhatWhenSpec\.blocks\[1\] = 'x' is not a Block"),
    (lambda: _ws(dt_ms=0.0), r"WhatWhenSpec\.dt_ms = 0\.0 is outside \(0, inf\)"),
    (lambda: _ws(dt_ms=-1.0), r"WhatWhenSpec\.dt_ms = -1\.0"),
    (lambda: _ws(iti_ms=(1000.0, 500.0)), r"WhatWhenSpec\.iti_ms .*min 1000 > max 500"),
    (lambda: _ws(iti_ms=(0.0, 500.0)), r"WhatWhenSpec\.iti_ms\[0\] = 0\.0 is outside \[1, inf\)"),
    (lambda: _ws(iti_ms=(500.0,)), r"WhatWhenSpec\.iti_ms .*length 1, expected 2"),
    (lambda: _ws(cue_ms=0.0), r"WhatWhenSpec\.cue_ms = 0\.0"),
    (lambda: _ws(cue_ms=0.2), r"WhatWhenSpec\.cue_ms = 0\.2 is shorter than one step"),
    (lambda: _ws(cue_ms=1200.0), r"WhatWhenSpec\.cue_ms = 1200\.0 exceeds window_ms"),
    (lambda: _ws(stim_ms=-5.0), r"WhatWhenSpec\.stim_ms = -5\.0"),
    (lambda: _ws(window_ms=float("inf")), r"WhatWhenSpec\.window_ms = inf is not finite"),
    (lambda: _ws(target_sigma_ms=0.0), r"WhatWhenSpec\.target_sigma_ms = 0\.0"),
    (lambda: _ws(randomisation_block=0), r"WhatWhenSpec\.randomisation_block = 0"),
    (lambda: _ws(blocked_randomisation="yes"), r"WhatWhenSpec\.blocked_randomisation = 'yes' is not a bool"),
    (lambda: _ws(n_cues=0), r"WhatWhenSpec\.n_cues = 0 is outside \[1, inf\)"),
    (lambda: WhatWhenStream(_ws(), seed=None), r"WhatWhenStream\.seed = None"),
    (lambda: WhatWhenStream(_ws(), seed=-1), r"WhatWhenStream\.seed = -1 is outside"),
    (lambda: WhatWhenStream("spec", seed=0), r"WhatWhenStream\.spec = 'spec' is not a WhatWhenSpec"),
]


@pytest.mark.parametrize("make,match", BAD, ids=[m for _, m in BAD])
def test_invalid_spec_rejected(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("event_gate", ["open", "stimulus", "expected"])
def test_event_gate(event_gate):
    """The gate around stimuli: "stimulus" closes it while the stimulus is on; "expected"
    also closes it, on every trial, at the latencies seen after the same cue within the
    last ``gate_memory_trials`` trials (so an omission trial is gated like a stimulus one)."""
    spec = WhatWhenSpec(n_identities=2, n_cues=2, event_gate=event_gate, gate_memory_trials=5,
                        blocks=switch_blocks([40, 40], 0.5, [(300.0, 700.0), (500.0, 700.0)],
                                             ((1.0, 0.0), (0.0, 1.0))))
    stream = WhatWhenStream(spec, 3)
    t = stream.trial_table()
    stim = spec.stim_steps
    for i in range(len(stream)):
        c = stream.chunk(i)
        closed = set(np.flatnonzero(c.gate[c.cue_step:] == 0))
        own = set(range(c.stim_step - c.cue_step, c.stim_step - c.cue_step + stim)) \
            if c.trial["occurred"] else set()
        lo = max(0, i - 5)
        seen = {int(t["latency_ms"][j]) for j in range(lo, i)
                if t["occurred"][j] and t["cue"][j] == t["cue"][i]}
        expected = {"open": set(), "stimulus": own,
                    "expected": own.union(*[set(range(L, L + stim)) for L in seen])}
        assert closed == expected[event_gate], (i, sorted(closed)[:3], seen)
        assert np.all(c.gate[:c.cue_step] == 0)
    if event_gate == "expected":   # after the switch, 300 ms is forgotten within 5 trials
        late = [stream.chunk(i) for i in range(50, 80) if t["cue"][i] == 0]
        assert all(np.all(c.gate[c.cue_step + 300:c.cue_step + 350] == 1) for c in late)


def test_event_gate_rejects_unknown():
    with pytest.raises(ValueError, match="event_gate = 'sometimes' is not one of open"):
        WhatWhenSpec(event_gate="sometimes", blocks=default_spec().blocks)
