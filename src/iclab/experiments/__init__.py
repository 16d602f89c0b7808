"""Named, reproducible experiments: one module per paper figure, each defining ``EXPERIMENT``
(:class:`iclab.experiment.Experiment`, which describes the pieces an experiment declares).

The sweep engine (:mod:`iclab.sweep`) runs the points, caches each finished one, and hands the table to ``plot``.
The registry below maps figure ids to the module that defines ``EXPERIMENT``; modules are imported lazily so that
``iclab --help`` stays fast and a figure's heavy dependencies (JAX) load only when it runs.
"""

from __future__ import annotations

import importlib
import importlib.util

from iclab.experiment import Experiment, Point
from iclab.validation import UserInputError

__all__ = ["REGISTRY", "Experiment", "Point", "available", "get_experiment"]

REGISTRY: dict[str, str] = {
    "letey2025-fig1": "iclab.experiments.letey2025_fig1",
    "letey2025-spike": "iclab.experiments.letey2025_spike",
    "letey2025-alignment": "iclab.experiments.letey2025_alignment",
    "letey2025-test-scaling": "iclab.experiments.letey2025_test_scaling",
    "lu2024-fig1": "iclab.experiments.lu2024_fig1",
    "lu2024-fig2": "iclab.experiments.lu2024_fig2",
    "lu2024-fig3": "iclab.experiments.lu2024_fig3",
    "lu2024-fig4": "iclab.experiments.lu2024_fig4",
    "lu2024-fig4-demo": "iclab.experiments.lu2024_fig4_demo",
    "lu2024-fig5": "iclab.experiments.lu2024_fig5",
    "lu2024-fig6": "iclab.experiments.lu2024_fig6",
    "lu2024-finite-size": "iclab.experiments.lu2024_finite_size",
    "mahankali2023-isotropic": "iclab.experiments.mahankali2023_isotropic",
    "mahankali2023-preconditioned": "iclab.experiments.mahankali2023_preconditioned",
    "mahankali2023-nonlinear": "iclab.experiments.mahankali2023_nonlinear",
    "yang2024-fig2": "iclab.experiments.yang2024_fig2",
    "yang2024-fig3": "iclab.experiments.yang2024_fig3",
    "yang2024-fig4": "iclab.experiments.yang2024_fig4",
    "yang2024-fig5": "iclab.experiments.yang2024_fig5",
}


def available() -> list[str]:
    """Ids of all registered experiments whose module exists."""
    return [k for k, mod in REGISTRY.items() if importlib.util.find_spec(mod) is not None]


def get_experiment(exp_id: str) -> Experiment:
    """Import and return the experiment ``exp_id``; ``UserInputError`` for an unknown id."""
    ids = available()
    if exp_id not in ids:
        raise UserInputError(f"experiment must be one of {', '.join(ids)} (got {exp_id!r})")
    return importlib.import_module(REGISTRY[exp_id]).EXPERIMENT
