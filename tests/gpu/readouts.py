"""Readout records shared by the GPU tests."""
import numpy as np

from neurosim.kernels.rls import rls_init
from neurosim.simulator import n_features, new_readout


def rls_readout(net, lam=0.999, every=3):
    """One RLS (FORCE) output on ``net``'s features: P(0) = I, an update every ``every``
    gated steps, forgetting factor ``lam``, fixed random feedback encoders."""
    nf = n_features(net)
    enc = 0.5 * np.random.default_rng(1).standard_normal((1, net.n_neurons))
    return new_readout(1, nf, net.n_neurons, net.a.dtype, rule="rls", lam=lam,
                       rls_every=every, P=rls_init(nf, 1.0, net.a.dtype), encoders=enc)
