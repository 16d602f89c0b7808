"""What an experiment declares: its points, settings, compute, plot and claims. It depends only on the leaf
module :mod:`iclab.settings`, so that every layer (the sweep engine, the experiments, the CLI) can name these
types without importing each other.

An experiment (one paper figure) is a set of pure pieces (see :class:`Experiment`):

- ``settings``: ``{scale: settings object}``, the figure's typed parameters (a frozen dataclass, see
  :mod:`iclab.settings`) at each scale; ``--set KEY=VALUE`` goes through :func:`iclab.settings.apply_overrides`;
- ``points(settings, theory_only)`` lists the sweep points: JSON-serialisable configs, each run ``seeds`` times;
- ``compute(config, seed)`` computes one (point, seed) and returns a dict of JSON-serialisable metrics; it is a
  module-level function so that process pools and Dask workers can import it;
- ``plot(df, out_dir)`` turns the results table (one row per point and seed) into PNG and CSV files;
- ``claims(df, scale)`` returns the paper's claims this run checks (:class:`iclab.claims.Claim`), written to
  ``claims.json`` beside the PNG and CSV;
- optionally ``agreement(df)``, a DataFrame comparing simulation with its reference for ``iclab report``.

Running an experiment through the results store is :func:`iclab.sweep.reproduce.run_experiment`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iclab.settings import apply_overrides


@dataclass(frozen=True)
class Point:
    """One sweep point: a config (everything ``compute`` needs, JSON-serialisable: it is hashed and stored) run
    for seeds ``0 .. seeds-1``."""

    config: dict[str, Any]
    seeds: int = 1


@dataclass(frozen=True)
class Experiment:
    id: str
    title: str
    points: Callable[..., list[Point]]
    compute: Callable[[dict[str, Any], int], dict[str, Any]]
    plot: Callable[[Any, Path], list[Path]]
    # {scale: settings dataclass instance}: its keys are the scales
    settings: Mapping[str, Any]
    scales: tuple[str, ...] = field(init=False)
    default_scale: str = "quick"
    supports_theory_only: bool = False
    agreement: Callable[[Any], Any] | None = None
    claims: Callable[[Any, str], list[Any]] | None = None
    # What `iclab reproduce list` and `--dry-run` show: the kind of computation (theory | simulation | training),
    # a one-line description, and the estimated CPU seconds of one (config, seed) on one core (None: unknown).
    kind: str = "theory"
    description: str = ""
    cost: Callable[[dict[str, Any]], float] | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "scales", tuple(self.settings))

    def resolve(self, scale: str, overrides: Mapping[str, Any] | None = None):
        """The typed settings of ``scale`` with the user's overrides applied (``UserInputError`` if invalid)."""
        return apply_overrides(self.settings[scale], overrides)

    def plan(self, scale: str, theory_only: bool = False, overrides: Mapping[str, Any] | None = None) -> list[Point]:
        """The points of one run at ``scale`` with ``overrides`` (``--set``) applied."""
        return self.points(self.resolve(scale, overrides), theory_only)
