"""Prompt distributions. Every task samples a batch in the one layout of DESIGN.md (see :class:`Prompts`).

- :mod:`.linear`: linear regression (Lu et al. and Mahankali et al. conventions, finite task pools)
"""

from iclab.tasks.base import Prompts
from iclab.tasks.linear import LinearRegression, sample_pool

__all__ = ["LinearRegression", "Prompts", "sample_pool"]
