"""The solvable linear-attention model of Lu et al. 2024 (``papers/lu2024.md`` §2.3–3.4), in numpy float64.

- :mod:`.sampler`: task pools, the fast exact O(d) sampler of (h, x_q, y_q) and the naive one, H_Z features;
- :mod:`.solve`: Gamma* by the dual, primal or preconditioned-CG method, chosen by regime;
- :mod:`.error`: the exact finite-d test error of any Gamma (ICL: fresh task; IDG: a given pool);
- :mod:`.simulate`: :func:`simulate_point`, one (config, seed) of the figures' simulations, and the ratios it
  realises (:func:`realised_ratios`);
- :mod:`.finite_size`: extrapolation of simulated errors in 1/d to d = inf (:func:`extrapolate`).
"""

from iclab.solvable.error import test_error
from iclab.solvable.sampler import context_stats, features, pretraining_tasks, sample_stats, sample_stats_naive
from iclab.solvable.simulate import realised_ratios, simulate_point
from iclab.solvable.solve import SingularSolveWarning, predict, solve_gamma, solve_gamma_prompts

__all__ = ["SingularSolveWarning", "context_stats", "features", "predict", "pretraining_tasks", "realised_ratios",
           "sample_stats", "sample_stats_naive", "simulate_point", "solve_gamma", "solve_gamma_prompts", "test_error"]
