"""B3 Brian2 adapter: the what/when model (timing reservoir + three-factor readouts) in Brian2.

``python benchmarks/adapters/brian2_whatwhen.py INPUTS.npz --device runtime|cpp_standalone
[--threads K] [--build-dir DIR] [--clean] [--cache-dir DIR]``

``INPUTS.npz`` (written by ``run_b3.py``) holds neurosim's built network (float64) and the
per-step paradigm arrays of neurosim's ``WhatWhenStream`` (drive per channel, "when" target,
what labels, gate, tag window, first gated step and last step of every trial), so both
simulators run the same network on the same trials. Everything runs inside Brian2 (no
``network_operation``), so cpp_standalone runs the whole experiment without Python:

* neurons: the ``izhikevich2003`` update (two dt/2 half-steps of v with I held, then u from
  the new v) as a ``run_regularly`` in the ``groups`` slot (``brian2_common``'s approach),
  ``I = bias + sigma*randn() + sum_ch proj_ch * drive_ch(t)`` (TimedArrays; Brian2's own
  noise); threshold ``v >= 30``; ``Synapses`` ``on_pre: v_post += w`` (neurosim's dense
  weights, one synapse per nonzero entry); reset ``v = c; u += d``;
* features (neuron variables): fast trace (tau 20 ms) and slow trace (tau 200 ms, x 0.1)
  decayed in the ``groups`` slot and incremented by 1 in the reset, so after the reset they
  equal neurosim's ``f = f * decay + spiked``; centred (minus a running mean, tau 5 s) in the
  ``end`` slot; plus the constant bias feature (a weight of the readout unit);
* readouts: a 3-unit ``NeuronGroup``; ``z = sum_j W_j x_j`` through ``(summed)`` variables of
  two ``Synapses`` objects, neurons -> unit 0 ("when", which also carries the frozen
  snapshot weights W0 and |x|^2) and neurons -> units 1, 2 ("what"); the summed updaters are
  moved to the ``end`` slot, after the features;
* online rule for unit 0 every step: ``W += eta g (T - z) x`` (Synapses ``run_regularly``),
  ``eta = eta0 1e-3 / <|x|^2>`` over the gated steps of previous trials, refreshed at each
  gate opening (neurosim refreshes it per trial); W0 snapshot at each gate opening;
* tags and the offline "what" update: tag sums are neuron variables; at the last step of each
  trial a custom event (``trial_end``) triggers the update ``W_what += eta_what (Y - y) xbar``
  through an ``on_pre`` pathway of the what Synapses (so its code runs once per trial), then
  the tag sums are cleared (``run_on_event``). ``y = W_what xbar`` is taken from the summed
  what outputs over the tag window (W_what is constant within a trial, so
  ``sum_t z(t) / n = W xbar``) and ``|xbar|^2`` from one more summed variable.

Loop time: runtime mode times ``Network.run`` of the whole stream after a 10 ms compile run
and ``restore()`` (also its CPU time, ``cpu_s_loop``); cpp_standalone reports Brian2's own
timer (``device._last_run_time``) and the CPU time (user + sys) of the whole binary
(``cpu_s_binary``: the loop plus loading the arrays and writing the results).
Prints ``RESULT {json}`` with rates (E, I), the anticipatory "when" output and the offline
what predictions (for the sanity check in ``run_b3.py``).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import brian2_common as common  # noqa: E402

NEURON_EQS = """
v : 1
u : 1
a : 1 (constant)
b : 1 (constant)
c : 1 (constant)
d : 1 (constant)
bias : 1 (constant)
sigma : 1 (constant)
p0 : 1 (constant)
p1 : 1 (constant)
p2 : 1 (constant)
p3 : 1 (constant)
ffast : 1
fslow : 1
mf : 1
ms_ : 1
xf : 1
xs : 1
tagf : 1
tags : 1
"""

READOUT_EQS = """
zr : 1
z0r : 1
sq : 1
S2 : 1
wb : 1
w0b : 1
z : 1
z0 : 1
err : 1
ge : 1
eta : 1
fsum : 1
fcount : 1
ztag : 1
ntag : 1
osum : 1
ocount : 1
y : 1
dcoef : 1
online : 1 (constant)
offline : 1 (constant)
"""


def build(b2, d: dict):
    """All Brian2 objects of the B3 model; returns (objects, monitors dict)."""
    ms = b2.ms
    dt_ms = float(d["dt_ms"])
    b2.defaultclock.dt = dt_ms * ms
    T = d["gate"].shape[0]
    n = int(d["a"].shape[0])
    ta = lambda name, x: b2.TimedArray(np.asarray(x, dtype=float), dt=dt_ms * ms,  # noqa
                                       name=name)
    funcs = {
        "cue0": ta("ta_cue0", d["drive"][:, 0]), "cue1": ta("ta_cue1", d["drive"][:, 1]),
        "id0": ta("ta_id0", d["drive"][:, 2]), "id1": ta("ta_id1", d["drive"][:, 3]),
        "gate": ta("ta_gate", d["gate"]), "opening": ta("ta_opening", d["opening"]),
        "tagon": ta("ta_tagon", d["tag"]), "tend": ta("ta_tend", d["trial_end"]),
        "Twhen": ta("ta_twhen", d["target"][:, 0]), "occ": ta("ta_occ", d["occurred"]),
        "label": b2.TimedArray(np.asarray(d["target"], dtype=float), dt=dt_ms * ms,
                               name="ta_label"),
    }
    consts = dict(half=0.5 * dt_ms, dtf=dt_ms, f_decay=float(d["f_decay"]),
                  s_decay=float(d["s_decay"]), s_scale=float(d["s_scale"]),
                  c_rate=float(d["c_rate"]), eta0e3=float(d["eta0"]) * 1e-3,
                  eta_what0=float(d["eta_what0"]))
    ns = dict(funcs, **consts)

    neurons = b2.NeuronGroup(n, NEURON_EQS, threshold="v >= 30",
                             reset="v = c; u += d; ffast += 1; fslow += 1",
                             events={"trial_end": "tend(t) > 0.5"}, namespace=ns,
                             name="neurons")
    neurons.run_regularly("""
    I_step = bias + sigma*randn() + p0*cue0(t) + p1*cue1(t) + p2*id0(t) + p3*id1(t)
    v += half*(0.04*v**2 + 5*v + 140 - u + I_step)
    v += half*(0.04*v**2 + 5*v + 140 - u + I_step)
    u += dtf*a*(b*v - u)
    ffast *= f_decay
    fslow *= s_decay
    """, when="groups", order=0, name="izhikevich2003_update")
    neurons.run_regularly("""
    xf = ffast - mf
    mf += c_rate*(ffast - mf)
    xs = s_scale*fslow - ms_
    ms_ += c_rate*(s_scale*fslow - ms_)
    tagf += tagon(t)*xf
    tags += tagon(t)*xs
    """, when="end", order=0, name="features")
    neurons.run_on_event("trial_end", "tagf = 0\ntags = 0", when="end", order=6)
    for key in ("a", "b", "c", "d", "bias", "sigma"):
        setattr(neurons, key, d[key])
    for ch in range(4):
        setattr(neurons, f"p{ch}", d["proj"][ch])
    neurons.v = d["v0"]
    neurons.u = d["u0"]

    rec = b2.Synapses(neurons, neurons, "w : 1 (constant)", on_pre="v_post += w",
                      name="recurrent")
    rec.connect(i=d["pre"], j=d["post"])
    rec.w = d["w"]

    readout = b2.NeuronGroup(3, READOUT_EQS, namespace=ns, name="readout")
    readout.online = [1.0, 0.0, 0.0]
    readout.offline = [0.0, 1.0, 1.0]
    readout.run_regularly("""
    w0b = opening(t)*wb + (1 - opening(t))*w0b
    eta = opening(t)*eta0e3*fcount/(fsum + int(fsum == 0)) + (1 - opening(t))*eta
    z = zr + wb
    z0 = online*(gate(t)*(z0r + w0b) + (1 - gate(t))*z) + (1 - online)*z
    err = Twhen(t) - z
    ge = eta*gate(t)*err*online
    fsum += gate(t)*(sq + 1)
    fcount += gate(t)
    wb += ge
    ztag += tagon(t)*z
    ntag += tagon(t)
    osum += tend(t)*int(ntag > 0)*(S2 + ntag**2)/(ntag**2 + int(ntag == 0))
    ocount += tend(t)*int(ntag > 0)
    y = tend(t)*ztag/(ntag + int(ntag == 0)) + (1 - tend(t))*y
    dcoef = tend(t)*occ(t)*offline*eta_what0*ocount/(osum + int(osum == 0))*(label(t, i) - y)/(ntag + int(ntag == 0))
    wb += dcoef*ntag
    ztag *= 1 - tend(t)
    ntag *= 1 - tend(t)
    """, when="end", order=3, name="readout_rule")

    when_syn = b2.Synapses(neurons, readout[0:1], """
    wf : 1
    ws : 1
    w0f : 1
    w0s : 1
    zr_post = wf*xf_pre + ws*xs_pre : 1 (summed)
    z0r_post = w0f*xf_pre + w0s*xs_pre : 1 (summed)
    sq_post = xf_pre**2 + xs_pre**2 : 1 (summed)
    """, namespace=ns, name="when_syn")
    when_syn.connect()
    when_syn.run_regularly("""
    w0f = opening(t)*wf + (1 - opening(t))*w0f
    w0s = opening(t)*ws + (1 - opening(t))*w0s
    """, when="end", order=1, name="when_snapshot")
    when_syn.run_regularly("""
    wf += ge_post*xf_pre
    ws += ge_post*xs_pre
    """, when="end", order=4, name="when_online")

    what_syn = b2.Synapses(neurons, readout[1:3], """
    wf : 1
    ws : 1
    zr_post = wf*xf_pre + ws*xs_pre : 1 (summed)
    S2_post = tagf_pre**2 + tags_pre**2 : 1 (summed)
    """, on_pre={"offline": "wf += dcoef_post*tagf_pre\nws += dcoef_post*tags_pre"},
        on_event={"offline": "trial_end"}, namespace=ns, name="what_syn")
    what_syn.connect()
    what_syn.offline.when = "end"
    what_syn.offline.order = 5
    for syn in (when_syn, what_syn):
        for upd in syn.summed_updaters.values():
            upd.when = "end"
            upd.order = 2

    spikes = b2.SpikeMonitor(neurons, record=False, name="spike_count")
    # 'end' slot, after the readout rule: a step's own z0 and y (the default 'start' slot
    # would record the previous step's values)
    state = b2.StateMonitor(readout, ["z0", "y"], record=True, when="end", order=10,
                            name="readout_mon")
    objects = [neurons, rec, readout, when_syn, what_syn, spikes, state]
    return objects, dict(spikes=spikes, state=state, T=T, n=n)


def summarize(d: dict, mons: dict, loop_s: float) -> dict:
    """Rates (E, I) and the readout sanity numbers from the monitors."""
    counts = np.asarray(mons["spikes"].count[:], dtype=float)
    exc = d["excitatory"].astype(bool)
    dur = d["gate"].shape[0] * float(d["dt_ms"]) / 1000.0
    z0 = np.asarray(mons["state"].z0[0])
    y = np.asarray(mons["state"].y[1:3])          # (2, T)
    starts, cue_steps = d["start_step"], d["cue_step"]
    ends = starts + d["n_steps"] - 1
    window = int(d["window_steps"])
    z0_al = np.stack([z0[s + c:s + c + window] for s, c in zip(starts, cue_steps)])
    what_pred = y[:, ends].T                          # y at each trial's last step
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from neurosim_whatwhen import anticipation, what_prediction
    table = {"cue": d["cue"]}
    return dict(wall_s_loop=loop_s, simulated_s=dur, spikes=int(counts.sum()),
                mean_rate_hz=counts.sum() / counts.size / dur,
                rate_e_hz=counts[exc].sum() / exc.sum() / dur,
                rate_i_hz=counts[~exc].sum() / (~exc).sum() / dur,
                anticipation_400=anticipation(table, z0_al),
                what_pred_cue0=what_prediction(table, what_pred),
                N=int(counts.size), synapses=int(d["w"].size))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs")
    ap.add_argument("--device", default="runtime", choices=("runtime", "cpp_standalone"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--build-dir", default=None)
    ap.add_argument("--clean", action="store_true")
    ap.add_argument("--cache-dir", default=None, help="Cython cache (runtime)")
    args = ap.parse_args(argv)

    import brian2 as b2
    d = common.load_network(args.inputs)
    if args.device == "runtime":
        b2.prefs.codegen.target = "cython"
        if args.cache_dir:
            b2.prefs.codegen.runtime.cython.cache_dir = args.cache_dir
        objects, mons = build(b2, d)
        net = b2.Network(*objects)
        net.store()
        t0 = time.perf_counter()
        net.run(10 * b2.ms)          # code generation + Cython compile (or cache load)
        first_run_s = time.perf_counter() - t0
        net.restore()
        t0, c0 = time.perf_counter(), time.process_time()
        net.run(mons["T"] * float(d["dt_ms"]) * b2.ms)
        loop_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
        out = summarize(d, mons, loop_s)
        out["cpu_s_loop"] = cpu_s
        out["first_run_s"] = first_run_s
    else:
        build_dir = os.path.abspath(args.build_dir)
        os.makedirs(build_dir, exist_ok=True)
        b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
        # 1 thread: plain serial code (no OpenMP); K > 1: OpenMP with K threads
        b2.prefs.devices.cpp_standalone.openmp_threads = 0 if args.threads == 1 else args.threads
        rss_file = os.path.join(build_dir, "main_peak_rss_kb.txt")
        if os.path.exists("/usr/bin/time"):
            b2.prefs.devices.cpp_standalone.run_cmd_unix = ["/usr/bin/time", "-f", "%M %U %S", "-o",
                                                            rss_file, "./main"]
        objects, mons = build(b2, d)
        net = b2.Network(*objects)
        net.run(mons["T"] * float(d["dt_ms"]) * b2.ms)
        t0 = time.perf_counter()
        b2.device.build(directory=build_dir, compile=True, run=True, clean=args.clean,
                        with_output=False)
        out = summarize(d, mons, float(b2.device._last_run_time))
        out["build_and_run_s"] = time.perf_counter() - t0
    rss = common.self_peak_rss_mb()
    if args.device == "cpp_standalone":
        try:
            with open(rss_file) as f:
                kb, user, system = (float(x) for x in f.read().split()[-3:])
            rss = max(rss, kb / 1024.0)
            out["cpu_s_binary"] = user + system
        except (OSError, ValueError, IndexError):
            pass
    out["peak_rss_mb"] = rss
    common.emit(out)


if __name__ == "__main__":
    main()
