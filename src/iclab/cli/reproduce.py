"""``iclab reproduce ID``: run one paper figure through the sweep engine and write PNG + CSV (+ claims.json).

``reproduce list`` shows every figure's kind, cost and one-line description; ``--dry-run`` counts points and runs
without computing. The files of a run with ``--set``, a non-default ``--scale`` or ``--theory-only`` go to a folder
named after those settings (:func:`output_subfolder`), so no run overwrites another's figure.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from pathlib import Path

import typer
from rich.console import Console

from iclab.claims import CLAIMS_FILE, format_value, read_claims, summary, verdict
from iclab.cli.apps import app
from iclab.cli.options import (
    executor_option,
    parse_overrides,
    progress_option,
    scheduler_option,
    store_option,
    workers_option,
)
from iclab.cli.output import format_duration, terminal_width
from iclab.cli.sweep import estimate_lines
from iclab.validation import UserInputError, check_choice, check_int

# What `reproduce list` shows for a figure whose Experiment leaves description (and so kind) unset: kind, one line.
# quick_cpu_s: CPU seconds (user + sys) of `iclab reproduce ID --executor local` at the default scale, end to end
# (start-up, imports and plot included), measured once on the 2-core development machine under heavy load
# (2026-12-02); None where not measured. An Experiment.cost model, when a figure defines one, takes precedence.
FIGURES: dict[str, tuple[str, str, float | None]] = {
    "lu2024-fig1": ("simulation", "double descent in τ: e_ICL, e_IDG of Γ* (ridgeless and ridge), theory + Γ* runs",
                    3.6),
    "lu2024-fig2": ("simulation", "error against context length α with the optimum α*, theory + Γ* runs", 3.3),
    "lu2024-fig3": ("theory", "maps over (κ, ρ) of where the error is non-monotone in α (closed forms only)", 7.6),
    "lu2024-fig4": ("simulation", "memorisation → ICL transition in task diversity κ: g_task, Γ* runs, dMMSE", 3.3),
    "lu2024-fig4-demo": ("simulation", "the authors' quick CPU figure: g_task against κ at d = 32, Γ* and dMMSE",
                         7.4),
    "lu2024-fig5": ("training", "double descent in τ for trained attention models; threshold n* against d", None),
    "lu2024-fig6": ("training", "task-diversity transition of a trained 2-block softmax + MLP model", None),
    "mahankali2023-isotropic": ("training", "1-layer LSA learns one GD step with η* = n/(n+d+1+σ²) (Thm 1)", None),
    "mahankali2023-preconditioned": ("training", "1-layer LSA learns preconditioned GD under x ~ N(0, Σ) (Thm 2)",
                                     None),
    "mahankali2023-nonlinear": ("training", "1-layer LSA on ReLU teachers still learns one GD step (Thm 3)", None),
    "yang2024-fig2": ("training", "1-layer multi-head softmax and 4-layer transformer: losses against iterations",
                      None),
    "yang2024-fig3": ("theory", "gap between the trained model's ridge limit and the best ridge, against N", None),
    "yang2024-fig4": ("training", "1-layer model's training loss for several numbers of heads H", None),
    "yang2024-fig5": ("training", "4-layer transformer: losses against heads H at equal wall-clock", None),
}


def figure_info(exp) -> tuple[str, str]:
    """(kind, description) of a figure: the Experiment's own when it sets a description, else the table's."""
    if exp.description:
        return exp.kind, exp.description
    kind, description, _ = FIGURES.get(exp.id, (exp.kind, exp.title, None))
    return kind, description


def quick_cost_text(exp) -> str:
    """The estimated CPU time of a figure at its default scale: Experiment.cost summed over its runs, else the
    table's measurement, else "unknown"."""
    if exp.cost is not None:
        total = sum(float(exp.cost(p.config)) * p.seeds for p in exp.plan(exp.default_scale, False, {}))
        return f"~{format_duration(total)}"
    measured = FIGURES.get(exp.id, (None, None, None))[2]
    return "unknown" if measured is None else f"~{format_duration(measured)} (measured)"


def list_figures() -> None:
    """`iclab reproduce list`: id, kind, estimated CPU time at the default scale, and a one-line description."""
    from rich.table import Table

    from iclab.experiments import available, get_experiment

    table = Table("figure", "kind", "CPU at default scale", title="iclab reproduce FIGURE", title_justify="left")
    table.add_column("what it shows", overflow="fold")
    for exp_id in available():
        exp = get_experiment(exp_id)
        kind, description = figure_info(exp)
        table.add_row(exp_id, kind, quick_cost_text(exp), description)
    Console(width=terminal_width(), highlight=False).print(table)


def output_subfolder(exp, scale: str, theory_only: bool, overrides: dict) -> str:
    """The folder under OUT/FIGURE/ for a run that differs from the default one, named after what differs:
    ``""`` for the default scale without overrides, else e.g. ``paper``, ``theory-only``, ``d=24,runs=2``.

    So ``--set``, ``--scale`` and ``--theory-only`` runs never overwrite the default figure or each other.
    """
    parts = [] if scale == exp.default_scale else [scale]
    parts += ["theory-only"] if theory_only else []
    parts += [f"{k}={v}" for k, v in sorted(overrides.items())]
    return re.sub(r"[^\w.=,+-]+", "_", ",".join(parts))


@app.command("reproduce")
def reproduce(
    figure: str = typer.Argument(..., help="figure id, e.g. lu2024-fig1, or list (see `iclab reproduce list`)"),
    scale: str = typer.Option(None, help="quick (default, 2-core laptop) or paper; lu2024-fig4-demo: demo"),
    theory_only: bool = typer.Option(False, "--theory-only", help="closed-form curves only, no simulation"),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                   help="override a figure parameter (repeatable); the files then go to "
                                        "OUT/FIGURE/KEY=VALUE,.../"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print points, runs and the estimated cost; compute "
                                                          "nothing"),
    out: Path = typer.Option(Path("iclab-out"), metavar="DIR",
                             help="output folder; files go to OUT/FIGURE/, or to OUT/FIGURE/SETTINGS/ for a "
                                  "non-default --scale, --theory-only or --set"),
    store: Path = store_option(),
    executor: str = executor_option(),
    workers: int = workers_option(),
    scheduler: str = scheduler_option(),
    progress: bool = progress_option(),
) -> None:
    """Reproduce a figure: `iclab reproduce list` lists the ids with what they compute and cost."""
    from iclab.experiments import get_experiment
    from iclab.sweep.reproduce import run_experiment

    console = Console(width=terminal_width())  # 120 columns when piped, like every other table
    if figure == "list":
        list_figures()
        return
    overrides = parse_overrides(set_)
    exp = get_experiment(figure)
    chosen = check_choice("scale", scale or exp.default_scale, exp.scales)
    subfolder = output_subfolder(exp, chosen, theory_only, overrides)
    if dry_run:
        typer.echo(dry_run_text(exp, chosen, theory_only, overrides, store, workers, out / exp.id / subfolder))
        return
    warm_up = start_plot_warm_up() if executor != "local" else None
    files = run_experiment(figure, scale=scale, theory_only=theory_only, overrides=overrides, out_dir=out,
                           subdir=subfolder, store=store, executor=executor, workers=workers, scheduler=scheduler,
                           progress=progress, before_plot=warm_up)
    for f in files:
        console.print(f"wrote {f}", highlight=False, soft_wrap=True)
    for f in files:
        if Path(f).name == CLAIMS_FILE:
            print_claims(f, console)


WARM_UP_DELAY = 0.5  # seconds: worker processes start in about this time, and need the cores meanwhile


def start_plot_warm_up():
    """Import pandas and matplotlib (Agg) and draw a throwaway log-scale figure in a background thread while
    worker processes compute: about 1.5 s of imports, font loading and mathtext set-up that the table and the
    plot would otherwise pay after the last result (the main thread only waits on results meanwhile). A process-
    level warm-up, so it lives here at the entry point, not in the library. Starts after WARM_UP_DELAY. Returns
    the function that cancels or joins it: call it before plotting (matplotlib is not thread-safe). A failure
    in the thread is ignored: it happens again, with its message, where the import is needed."""
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

    thread = threading.Timer(WARM_UP_DELAY, load)
    thread.name, thread.daemon = "iclab-warm-up", True
    thread.start()

    def stop() -> None:
        thread.cancel()  # not started yet (a sweep shorter than the delay): the plot imports what it needs
        thread.join()

    return stop


def dry_run_text(exp, scale: str, theory_only: bool, overrides: dict, store: Path, workers: int | None,
                 folder: Path) -> str:
    """`reproduce FIGURE --dry-run`: the points by kind, runs, what the store holds, the estimated cost."""
    if theory_only and not exp.supports_theory_only:
        raise UserInputError(f"--theory-only is not available for {exp.id} (it has no closed-form-only variant)")
    workers = (os.cpu_count() or 1) if workers is None else check_int("workers", workers, lo=1)
    points = exp.plan(scale, theory_only, dict(overrides))
    kinds = Counter(str(p.config.get("kind", "run")) for p in points)
    runs = sum(p.seeds for p in points)
    by_kind = ", ".join(f"{n} {k}" for k, n in kinds.items())
    lines = [f"{exp.id} at scale {scale}{' (theory only)' if theory_only else ''}: {len(points)} points "
             f"({by_kind}), {runs} runs (point x seed); files would go to {folder}/"]
    measured = FIGURES.get(exp.id, (None, None, None))[2]
    default_run = scale == exp.default_scale and not theory_only and not overrides
    why = (f"about {format_duration(measured)} of CPU time for the whole figure, start-up included (measured once; "
           "no cost model)" if default_run and measured is not None
           else f"unknown ({exp.id} has no cost model; `iclab results ls` shows the compute time of past runs)")
    lines += estimate_lines(exp.id, points, store, workers, exp.cost, stored_timings=False, unknown=why)
    return "\n".join(lines)


def print_claims(path: Path, console: Console) -> None:
    """The claims of one ``claims.json`` as a table, with the count that hold as its title."""
    from rich.table import Table

    figure, scale, claims = read_claims(path)
    table = Table(title=f"{figure} ({scale}): {summary(claims)}", show_lines=False)
    for col, kw in (("claim", {}), ("measured", {"justify": "right"}), ("target", {}), ("verdict", {})):
        table.add_column(col, overflow="fold", **kw)
    style = {True: "green", False: "bold red", None: "yellow"}
    for c in claims:
        table.add_row(f"{c.id}: {c.statement}", format_value(c.value, c.uncertainty), c.target,
                      f"[{style[c.holds]}]{verdict(c.holds)}[/]")
    console.print(table)
