"""The model's equations, each written once as a scalar function of (state, input, params).

Every backend composes these: ``kernels/cpu.py`` inside ``numba.njit`` loops,
``kernels/cuda.py`` inside one ``numba.cuda.jit`` kernel, one thread per neuron.
``register_jitable`` keeps them plain Python (the CUDA simulator calls them so) and compiles
them wherever jitted code calls them (the CUDA target as device functions); the CPU kernel
compiles the same functions with ``njit(inline="always")``, which vectorises its loops.
Each function is self-contained (no calls), so that either form inlines entirely. ``kernels/reference.py`` stays the
independent, vectorised NumPy oracle of the same arithmetic.

All arithmetic is float64 whatever the state's dtype (the callers convert on load and
round on store), in a fixed order, so every backend gives the same bits.

Integer codes (see ``kernels/records.py``): ``form`` 0 Izhikevich 2003 / 1 Izhikevich 2007,
``scheme`` 0 two dt/2 half-steps of v then u from the new v / 1 forward Euler, synapse and
feature ``kind`` 0 exponential (feature) or delta (synapse), 1 exponential, 2 double
exponential.
"""
from numba.extending import register_jitable


@register_jitable
def neuron_step(form, scheme, v, u, a, b, cur, dt, k, vr, vt, cm):
    """One integration step of (v, u) with the input current ``cur`` held; returns (v, u).

    Membrane (mV/ms): 0.04 v^2 + 5 v + 140 - u + I (form 0) or (k (v-vr)(v-vt) - u + I)/C
    (form 1); recovery (1/ms): a (b v - u) or a (b (v - vr) - u). Scheme 0 takes two dt/2
    half-steps of v, then u from the new v; scheme 1 is forward Euler.
    """
    if scheme == 0:
        half = 0.5 * dt
        if form == 0:
            v = v + half * (0.04 * v * v + 5.0 * v + 140.0 - u + cur)
            v = v + half * (0.04 * v * v + 5.0 * v + 140.0 - u + cur)
            return v, u + dt * (a * (b * v - u))
        v = v + half * ((k * (v - vr) * (v - vt) - u + cur) / cm)
        v = v + half * ((k * (v - vr) * (v - vt) - u + cur) / cm)
        return v, u + dt * (a * (b * (v - vr) - u))
    if form == 0:
        dv = 0.04 * v * v + 5.0 * v + 140.0 - u + cur
        du = a * (b * v - u)
    else:
        dv = (k * (v - vr) * (v - vt) - u + cur) / cm
        du = a * (b * (v - vr) - u)
    return v + dt * dv, u + dt * du


@register_jitable
def spike_flag(v, v_peak):
    """Threshold of the new membrane potential: 0 no spike, 1 spike, 2 ``v`` not finite.

    ``v - v`` is 0.0 for every finite ``v`` and NaN for NaN and +-inf, so one subtraction
    tells a diverged neuron (whose non-finite u or synaptic current reaches v within one
    step) from a spiking one; +inf, which is >= ``v_peak``, is a fault, not a spike.
    """
    if v - v != 0.0:
        return 2
    if v >= v_peak:
        return 1
    return 0


@register_jitable
def synapse_decay(kind, isyn, hsyn, decay, rise_decay, dt):
    """Decay of the synaptic current over one step, before this step's spikes arrive.

    kind 1: isyn *= decay; kind 2 (rise variable ``hsyn``): isyn = isyn rise_decay + hsyn dt,
    hsyn *= decay. Returns (isyn, hsyn); kind 0 (delta) has no current.
    """
    if kind == 1:
        return isyn * decay, hsyn
    if kind == 2:
        return isyn * rise_decay + hsyn * dt, hsyn * decay
    return isyn, hsyn


@register_jitable
def feature_step(kind, fast, rise, spiked, decay, rise_decay, inc, dt):
    """Filtered spike train: kind 0 jumps by 1 per spike and decays; kind 1 is a double
    exponential of unit area. ``spiked`` is 0.0 or 1.0. Returns (fast, rise)."""
    if kind == 0:
        return fast * decay + spiked, rise
    return fast * rise_decay + rise * dt, rise * decay + spiked * inc


@register_jitable
def centre(raw, mean, rate):
    """Feature minus its running mean, and the mean's update; returns (x, new mean)."""
    return raw - mean, mean + rate * (raw - mean)
