"""Training-free in-context predictors, batched over prompts, with predictions at every prefix length in one pass.

- :mod:`.linear`: ridge, Bayes ridge, least squares, one step of (preconditioned) GD and its optimal step;
- :mod:`.dmmse_jax`: ``dmmse``, the posterior mean over a finite task pool (chunked log-sum-exp), in JAX;
- :mod:`.dmmse_mc`: ``dmmse_errors``, the dMMSE Monte-Carlo protocol of the figures, in numpy;
- :mod:`.posterior`: the log-sum-exp pieces both share.

The solvable model's Gamma* lives in :mod:`iclab.solvable`. Names load on first use, so that a sweep worker that
needs only ``dmmse_errors`` never imports JAX.
"""

import importlib as _importlib

_WHERE = {"bayes_ridge": "linear", "gd_one_step": "linear", "gd_optimal_step": "linear", "least_squares": "linear",
          "ridge": "linear", "dmmse": "dmmse_jax", "dmmse_errors": "dmmse_mc"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'iclab.estimators' has no attribute {name!r}")
    value = globals()[name] = getattr(_importlib.import_module(f"iclab.estimators.{_WHERE[name]}"), name)
    return value


def __dir__() -> list[str]:
    # the lazily loaded names too, so that dir() and tab completion show them before first use
    return sorted(set(globals()) | set(_WHERE))
