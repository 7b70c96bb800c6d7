"""Readout learners: one small contract, chosen by name from a registry.

>>> from neurosim.learners import make_learner
>>> learner = make_learner("three_factor", eta0=40.0)
"""
from .base import LEARNERS, Learner, make_learner, register

# Importing the modules registers their learners.
from . import three_factor  # noqa: F401,E402
from . import force  # noqa: F401,E402
from . import continual  # noqa: F401,E402
from . import kappatune  # noqa: F401,E402
from . import oja  # noqa: F401,E402

__all__ = ["LEARNERS", "Learner", "make_learner", "register"]
