"""The benchmark network in Brian2, built from a network file written by ``run_b1_b2.py``.

The network file (``.npz``) holds neurosim's built network: per-neuron ``a, b, c, d, bias,
sigma, v0, u0`` and the synapses as ``pre, post, w`` (one entry per nonzero weight, sorted by
pre then post), so Brian2 simulates exactly neurosim's network. Noise is Brian2's own
``randn()`` (a Gaussian current of std ``sigma`` drawn anew every step, like neurosim's), so
the two simulators agree in statistics (rates), not spike by spike; ``tests/test_brian2.py``
checks spike-by-spike identity with shared noise.

Integration schemes (the same update as neurosim's ``NetworkConfig.integration``):

* ``izhikevich2003``: v advanced in two dt/2 half-steps with I held, then u from the new v.
  Brian2 has no built-in method for this, so v and u are plain variables advanced by a
  ``run_regularly`` operation in the ``groups`` slot (where state updaters run), i.e. the
  same schedule: update, threshold, synapses, reset.
* ``euler``: Brian2's ``method='euler'`` with ``I = bias + sigma*randn() : 1 (constant over dt)``.

Also used as a helper module by the two Brian2 adapters (imported from their own folder).
"""
from __future__ import annotations

import json
import resource
import sys

import numpy as np

SCHEMES = ("izhikevich2003", "euler")


def load_network(path: str) -> dict:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def build(b2, data: dict, scheme: str, dt_ms: float):
    """Create the group, synapses and spike monitor; return (objects, spike monitor)."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme {scheme!r} is unknown; valid names: {', '.join(SCHEMES)}")
    ms = b2.ms
    b2.defaultclock.dt = dt_ms * ms
    n = int(data["a"].shape[0])
    params = """
    a : 1 (constant)
    b : 1 (constant)
    c : 1 (constant)
    d : 1 (constant)
    bias : 1 (constant)
    sigma : 1 (constant)
    """
    if scheme == "euler":
        eqs = """
        dv/dt = (0.04*v**2 + 5*v + 140 - u + I)/ms : 1
        du/dt = a*(b*v - u)/ms : 1
        I = bias + sigma*randn() : 1 (constant over dt)
        """ + params
        group = b2.NeuronGroup(n, eqs, threshold="v >= 30", reset="v = c; u += d",
                               method="euler", name="neurons")
    else:
        eqs = """
        v : 1
        u : 1
        """ + params
        group = b2.NeuronGroup(n, eqs, threshold="v >= 30", reset="v = c; u += d",
                               name="neurons")
        group.run_regularly("""
        I_step = bias + sigma*randn()
        v += 0.5*dt/ms*(0.04*v**2 + 5*v + 140 - u + I_step)
        v += 0.5*dt/ms*(0.04*v**2 + 5*v + 140 - u + I_step)
        u += dt/ms*a*(b*v - u)
        """, when="groups", name="izhikevich2003_update")
    for key in ("a", "b", "c", "d", "bias", "sigma"):
        setattr(group, key, data[key])
    group.v = data["v0"]
    group.u = data["u0"]
    syn = b2.Synapses(group, group, "w : 1 (constant)", on_pre="v_post += w", name="synapses")
    syn.connect(i=data["pre"], j=data["post"])
    syn.w = data["w"]
    mon = b2.SpikeMonitor(group, name="spikes")
    return [group, syn, mon], mon


def self_peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def emit(result: dict) -> None:
    """Print the adapter's result as the last stdout line (read by ``run_b1_b2.py``)."""
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()
