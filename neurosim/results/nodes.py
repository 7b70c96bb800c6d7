"""The node table of a network: which neurons are excitatory, and their parameters.

Stored per run as ``nodes/<population>`` (FORMAT.md) and exported as a SONATA nodes file.
"""
from __future__ import annotations

import numpy as np

from .schema import NODE_COLUMNS


def node_table(network) -> dict:
    """Per-neuron columns of a built :class:`neurosim.network.Network`.

    Returns ``{column: array (N,)}``: ``excitatory`` (bool), Izhikevich ``a, b, c, d``
    (``c`` the reset potential in mV), ``bias`` (tonic input current) and ``noise_sigma``
    (std of the per-step Gaussian noise current), all float64 except ``excitatory``.
    """
    out = {"excitatory": np.asarray(network.excitatory, dtype=bool)}
    for k in NODE_COLUMNS[1:]:
        out[k] = np.asarray(getattr(network, k), dtype=np.float64)
    return out


def node_attrs(network) -> dict:
    """Group attributes of the node table: the neuron model and its form (FORMAT.md)."""
    return {"model": str(network.config.neuron_model), "form": int(network.form),
            "constants": np.asarray(network.constants, dtype=np.float64)}
