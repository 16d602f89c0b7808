"""Training-free in-context predictors, batched over prompts, with predictions at every prefix length in one pass.

- :mod:`.linear`: ridge, Bayes ridge, least squares, one step of (preconditioned) GD and its optimal step;
- :mod:`.dmmse`: the posterior mean over a finite task pool (chunked log-sum-exp) and ``dmmse_point``.

The solvable model's Gamma* lives in :mod:`iclab.solvable`.
"""

from iclab.estimators.dmmse import dmmse, dmmse_point
from iclab.estimators.linear import bayes_ridge, gd_one_step, gd_optimal_step, least_squares, ridge

__all__ = ["bayes_ridge", "dmmse", "dmmse_point", "gd_one_step", "gd_optimal_step", "least_squares", "ridge"]
