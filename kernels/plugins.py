"""Local readout rules as plug-ins of the compiled chunk loop.

A *local* rule changes each readout weight from what that synapse sees: its weight ``w``
and its own state ``s`` (one value per synapse: the readout's ``U`` array), the feature
``x`` and eligibility ``elig`` of its input, the output ``z`` of its readout, that readout's
scalar error ``e = target - z``, the attention gate ``g`` and the rule's hyper-parameters
``h`` (the readout's float64 ``hyper`` array). It is one scalar function

    update(w, s, x, elig, z, e, g, h) -> (w, s)

in float64, decorated with ``numba.extending.register_jitable`` (plain Python, compiled
wherever jitted code calls it), applied at every gated step (g > 0) to every synapse of
every online output. :func:`register_rule` gives it a readout ``rule`` code; each backend
then builds its chunk loop once per rule with that function where a weight is updated:
the CPU kernel compiles renamed copies of its loop (cached on disk, the rule's source file
in the cache stamp), the CUDA kernel a renamed copy of ``chunk_kernel``, and the NumPy
reference calls the same function on whole rows. Written with arithmetic only (+ - * /),
a rule gives the same bits on every backend. RLS (FORCE's P matrix) is not local and stays
built into the kernels.
"""
from __future__ import annotations

import os
import types
import zlib
from collections import namedtuple

from numba.extending import register_jitable

from . import EXTRA_SOURCES

FIRST_CODE = 4          # codes below are the built-in rules (records.CODES["rule"])
N_HYPER = 4             # length of the readout's ``hyper`` array

Rule = namedtuple("Rule", "name code update source")


@register_jitable
def no_update(w, s, x, elig, z, e, g, h):
    """The stand-in in every kernel's generic loop (frozen and RLS readouts, which make no
    per-synapse update); a rule's kernels are compiled with its own function in its place."""
    return w, s

RULES: dict[int, Rule] = {}


def rule_code(name: str) -> int:
    """The readout ``rule`` code of a plug-in rule: the same in every process (from its name)."""
    return FIRST_CODE + zlib.crc32(name.encode()) % (1 << 20)


def register_rule(name: str, update, source: str) -> int:
    """Register ``update`` (see the module docstring) as rule ``name``, defined in the file
    ``source`` (its contents enter the compiled kernels' cache stamp); returns its code."""
    if not name.isidentifier():
        raise ValueError(f"rule name {name!r} must be a Python identifier")
    code = rule_code(name)
    known = RULES.get(code)
    if known is not None and known.name != name:
        raise ValueError(f"rule {name!r} has the code of rule {known.name!r}; rename one")
    RULES[code] = Rule(name, code, update, os.path.abspath(source))
    return code


def rule(code: int) -> Rule:
    """The plug-in rule with readout code ``code``."""
    try:
        return RULES[int(code)]
    except KeyError:
        names = ", ".join(r.name for r in RULES.values()) or "none"
        raise KeyError(f"no plug-in rule with code {code} is registered (registered: "
                       f"{names}); import the module that defines it") from None


def specialise(fn, qualname: str, injected: dict, source: str | None = None):
    """A copy of the plain function ``fn`` named ``qualname`` whose globals are ``fn``'s with
    ``injected`` over them. Numba caches a function under its qualified name: each rule's
    copy gets its own cache entry, stamped with ``source`` too (the rule's file)."""
    glb = dict(fn.__globals__)
    glb.update(injected)
    copy = types.FunctionType(fn.__code__, glb, qualname, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = qualname
    copy.__doc__ = fn.__doc__
    if source is not None:
        EXTRA_SOURCES[qualname] = (source,)
    return copy
