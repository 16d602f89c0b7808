"""Prompt distributions. Every task samples a batch in the one layout of DESIGN.md (see :class:`Prompts`).

- :mod:`.linear`: linear regression (Lu et al. and Mahankali et al. conventions, finite task pools)
- :mod:`.nonlinear`: rotation-invariant nonlinear teachers (Mahankali et al. Theorem 3)
- :mod:`.templates`: template tasks over a fixed dictionary (Yang et al. 2024)
- :mod:`.lu2024`: the Lu et al. 2024 data model in numpy (integer sizes, task pools, raw contexts)

Names load on first use, so that importing :mod:`.lu2024` (numpy only; what a simulation worker needs) never
imports JAX (measured: 3.3 s of a worker's start-up).
"""

import importlib as _importlib

_WHERE = {"Prompts": "base", "LinearRegression": "linear", "sample_pool": "linear", "ReLUTeacher": "nonlinear",
          "RotatedFunction": "nonlinear", "Dictionary": "templates", "TemplatePrompts": "templates",
          "TemplateTask": "templates", "make_dictionary": "templates"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'iclab.tasks' has no attribute {name!r}")
    value = globals()[name] = getattr(_importlib.import_module(f"iclab.tasks.{_WHERE[name]}"), name)
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
