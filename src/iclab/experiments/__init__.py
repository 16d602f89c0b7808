"""Named, reproducible experiments: one module per paper figure.

An experiment is three pure pieces (see :class:`Experiment`):

- ``points(scale, theory_only, overrides)`` lists the sweep points: JSON-serialisable configs, each with a seed
  count. ``overrides`` holds the user's ``--set KEY=VALUE`` changes to the figure's parameters (an unknown key
  raises ``ValueError``);
- ``compute(config, seed)`` computes one (point, seed) and returns a dict of JSON-serialisable metrics;
  it is a module-level function so that process pools and Dask workers can import it;
- ``plot(df, out_dir)`` turns the results table (one row per point and seed) into PNG and CSV files;
- optionally ``agreement(df)`` returns a DataFrame comparing simulation with theory, one row per compared
  quantity, columns ``quantity, sim_mean, sim_sem, theory, z`` (for ``iclab report``);
- optionally ``claims(df, scale)`` returns the paper's claims this run checks (:class:`iclab.claims.Claim`);
  ``run_experiment`` writes them to ``claims.json`` beside the PNG and CSV.

The sweep engine (:mod:`iclab.sweep`) runs the points, caches each finished one, and hands the table to ``plot``.
The registry below maps figure ids to the module that defines ``EXPERIMENT``; modules are imported lazily so that
``iclab --help`` stays fast and a figure's heavy dependencies (JAX) load only when it runs.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iclab.claims import CLAIMS_FILE, Claim, write_claims
from iclab.validation import UserInputError

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


@dataclass(frozen=True)
class Point:
    """One sweep point: a config (everything ``compute`` needs) run for seeds ``0 .. seeds-1``."""

    config: dict[str, Any]
    seeds: int = 1


@dataclass(frozen=True)
class Experiment:
    id: str
    title: str
    points: Callable[[str, bool, dict[str, Any]], list[Point]]
    compute: Callable[[dict[str, Any], int], dict[str, Any]]
    plot: Callable[[Any, Path], list[Path]]
    scales: tuple[str, ...] = ("quick", "paper")
    default_scale: str = "quick"
    supports_theory_only: bool = False
    agreement: Callable[[Any], Any] | None = None
    claims: Callable[[Any, str], list[Claim]] | None = None
    # What `iclab reproduce list` and `--dry-run` show: the kind of computation (theory | simulation | training),
    # a one-line description, and the estimated CPU seconds of one (config, seed) on one core (None: unknown).
    kind: str = "theory"
    description: str = ""
    cost: Callable[[dict[str, Any]], float] | None = None
    notes: dict[str, str] = field(default_factory=dict)


def available() -> list[str]:
    """Ids of all registered experiments whose module exists."""
    return [k for k, mod in REGISTRY.items() if importlib.util.find_spec(mod) is not None]


def get_experiment(exp_id: str) -> Experiment:
    """Import and return the experiment ``exp_id``; ``UserInputError`` for an unknown id."""
    ids = available()
    if exp_id not in ids:
        raise UserInputError(f"experiment must be one of {', '.join(ids)} (got {exp_id!r})")
    return importlib.import_module(REGISTRY[exp_id]).EXPERIMENT


PREFETCH_DELAY = 0.5  # seconds: worker processes start in about this time, and need the cores meanwhile


def _prefetch_plotting():
    """Import pandas and matplotlib (Agg) and draw a throwaway log-scale figure in a background thread while
    worker processes compute: about 1.5 s of imports, font loading and mathtext set-up that the table and the
    plot would otherwise pay after the last result (the main thread only waits on results meanwhile). Starts
    after PREFETCH_DELAY. Returns the timer thread: cancel and join it before plotting (matplotlib is not
    thread-safe). A failure here is ignored: it happens again, with its message, where the import is needed."""
    import threading

    def load():
        try:
            import pandas  # noqa: F401

            from iclab.experiments.figures import pyplot

            fig, ax = pyplot().subplots(figsize=(2, 2))
            ax.loglog([1, 10], [1, 10], label="α")
            ax.legend()
            fig.tight_layout()
            fig.canvas.draw()
            pyplot().close(fig)
        except Exception:
            pass

    thread = threading.Timer(PREFETCH_DELAY, load)
    thread.name, thread.daemon = "iclab-prefetch", True
    thread.start()
    return thread


def run_experiment(exp_id: str, *, scale: str | None = None, theory_only: bool = False,
                   overrides: dict[str, Any] | None = None, out_dir: Path | str = "iclab-out", subdir: str = "",
                   **sweep_options) -> list[Path]:
    """Run (or re-plot from the store) one figure into ``out_dir/ID/subdir``; returns the files written.

    ``sweep_options`` go to :func:`iclab.sweep.run` (store path, executor, workers, progress).
    """
    from iclab import sweep
    from iclab.validation import check_choice

    exp = get_experiment(exp_id)
    scale = check_choice("scale", scale or exp.default_scale, exp.scales)
    if theory_only and not exp.supports_theory_only:
        raise UserInputError(f"--theory-only is not available for {exp_id} (it has no closed-form-only variant)")
    points = exp.points(scale, theory_only, dict(overrides or {}))
    prefetch = _prefetch_plotting() if sweep_options.get("executor", "local") != "local" else None
    df = sweep.run(exp.compute, points, name=exp.id, **sweep_options)
    if prefetch is not None:
        prefetch.cancel()  # not started yet (a sweep shorter than the delay): the plot imports what it needs
        prefetch.join()
    out = Path(out_dir) / exp.id / subdir
    out.mkdir(parents=True, exist_ok=True)
    files = exp.plot(df, out)
    if exp.claims is not None:
        files.append(write_claims(out / CLAIMS_FILE, exp.id, scale, exp.claims(df, scale)))
    return files
