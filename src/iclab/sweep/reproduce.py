"""Run one registered experiment through the results store: settings, points, sweep, plot, claims."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from iclab.claims import CLAIMS_FILE, write_claims
from iclab.experiments import get_experiment
from iclab.sweep.engine import first_failure, run
from iclab.validation import UserInputError, check_choice


def run_experiment(exp_id: str, *, scale: str | None = None, theory_only: bool = False,
                   overrides: Mapping[str, Any] | None = None, out_dir: Path | str = "iclab-out", subdir: str = "",
                   before_plot: Callable[[], None] | None = None, **sweep_options) -> list[Path]:
    """Run (or re-plot from the store) one figure into ``out_dir/ID/subdir``; returns the files written.

    ``sweep_options`` go to :func:`iclab.sweep.run` (store path, executor, workers, progress). ``before_plot`` is
    called after the last result and before plotting: the CLI uses it to join its plotting warm-up thread.
    """
    exp = get_experiment(exp_id)
    scale = check_choice("scale", scale or exp.default_scale, exp.scales)
    if theory_only and not exp.supports_theory_only:
        raise UserInputError(f"--theory-only is not available for {exp_id} (it has no closed-form-only variant)")
    points = exp.plan(scale, theory_only, overrides)
    df = run(exp.compute, points, name=exp.id, **sweep_options)
    if before_plot is not None:
        before_plot()
    out = Path(out_dir) / exp.id / subdir
    out.mkdir(parents=True, exist_ok=True)
    try:
        files = exp.plot(df, out)
        if exp.claims is not None:
            files.append(write_claims(out / CLAIMS_FILE, exp.id, scale, exp.claims(df, scale)))
    except Exception as e:
        # a figure made from partial data may fail in a way that hides the cause (a KeyError on a missing
        # column): when runs failed, the first failure's stored traceback is the error to read. The finished
        # runs stay in the store.
        failed = df.attrs.get("failed")
        if not failed:
            raise
        raise RuntimeError(f"{exp.id}: {len(failed)} runs failed, and the figure could not be made from the "
                           f"rest; the first failure, {first_failure(failed)}") from e
    return files
