"""The solvable linear-attention model of Lu et al. 2024 (the reduced model ŷ = <Γ, H_Z>), in numpy float64.

- :mod:`.sampler`: the fast exact O(d) sampler of (h, x_q, y_q) and the naive one, H_Z features (task pools and
  raw contexts are the data model of :mod:`iclab.tasks.lu2024`);
- :mod:`.solve`: Gamma* by the dual, primal or preconditioned-CG method, chosen by regime;
- :mod:`.error`: the exact finite-d test error of any Gamma (ICL: fresh task; IDG: a given pool);
- :mod:`.simulate`: :func:`simulate_errors`, one finite-d simulation of the figures, and the ratios it realises
  (:func:`realised_ratios`); the sweeps' ``(config, seed)`` adapter is in :mod:`iclab.experiments.solvable_points`;
- :mod:`.finite_size`: extrapolation of simulated errors in 1/d to d = inf (:func:`extrapolate`).
"""

from iclab.solvable.error import test_error
from iclab.solvable.sampler import context_stats, features, pretraining_tasks, sample_stats, sample_stats_naive
from iclab.solvable.simulate import realised_ratios, simulate_errors
from iclab.solvable.solve import SingularSolveWarning, predict, solve_gamma, solve_gamma_prompts

__all__ = ["SingularSolveWarning", "context_stats", "features", "predict", "pretraining_tasks", "realised_ratios",
           "sample_stats", "sample_stats_naive", "simulate_errors", "solve_gamma", "solve_gamma_prompts", "test_error"]
