"""Prompt distributions. Every task samples a batch in the one layout of DESIGN.md (see :class:`Prompts`).

- :mod:`.linear`: linear regression (Lu et al. and Mahankali et al. conventions, finite task pools)
- :mod:`.nonlinear`: rotation-invariant nonlinear teachers (Mahankali et al. Theorem 3)
- :mod:`.templates`: template tasks over a fixed dictionary (Yang et al. 2024)
"""

from iclab.tasks.base import Prompts
from iclab.tasks.linear import LinearRegression, sample_pool
from iclab.tasks.nonlinear import ReLUTeacher, RotatedFunction
from iclab.tasks.templates import Dictionary, TemplatePrompts, TemplateTask, make_dictionary

__all__ = ["Dictionary", "LinearRegression", "Prompts", "ReLUTeacher", "RotatedFunction", "TemplatePrompts",
           "TemplateTask", "make_dictionary", "sample_pool"]
