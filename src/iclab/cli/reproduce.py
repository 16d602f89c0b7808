"""``iclab reproduce ID``: run one paper figure through the sweep engine and write PNG + CSV."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from iclab.claims import CLAIMS_FILE
from iclab.cli.apps import app
from iclab.validation import UserInputError


def parse_overrides(items: list[str]) -> dict:
    """``["N=40", "basis=fourier"]`` -> ``{"N": 40, "basis": "fourier"}`` (values read as YAML scalars)."""
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserInputError(f"--set must look like KEY=VALUE (got {item!r})")
        out[key.strip()] = yaml.safe_load(value)
    return out


@app.command("reproduce")
def reproduce(
    figure: str = typer.Argument(..., help="figure id, e.g. lu2024-fig1 (see `iclab reproduce list`)"),
    scale: str = typer.Option(None, help="quick (default, 2-core laptop) or paper; lu2024-fig4-demo: demo"),
    theory_only: bool = typer.Option(False, "--theory-only", help="closed-form curves only, no simulation"),
    set_: list[str] = typer.Option([], "--set", help="override a figure parameter: --set KEY=VALUE (repeatable)"),
    out: Path = typer.Option(Path("iclab-out"), help="output folder; files go to OUT/FIGURE/"),
    store: Path = typer.Option(Path("iclab-results.sqlite"), help="results store (SQLite)"),
    executor: str = typer.Option("local", help="local | process | dask | dask-local"),
    workers: int = typer.Option(None, help="worker processes (default: all cores)"),
    scheduler: str = typer.Option(None, help="Dask scheduler address tcp://HOST:PORT"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Reproduce a figure: `iclab reproduce list` lists the ids."""
    from iclab.experiments import available, run_experiment

    console = Console()
    if figure == "list":
        for exp_id in available():
            console.print(exp_id)
        return
    files = run_experiment(figure, scale=scale, theory_only=theory_only, overrides=parse_overrides(set_),
                           out_dir=out, store=store, executor=executor, workers=workers, scheduler=scheduler,
                           progress=progress)
    for f in files:
        console.print(f"wrote {f}")
    for f in files:
        if Path(f).name == CLAIMS_FILE:
            print_claims(f, console)


def print_claims(path: Path, console: Console) -> None:
    """The claims of one ``claims.json`` as a table, with the count that hold as its title."""
    from rich.table import Table

    from iclab.claims import format_value, read_claims, summary, verdict

    figure, scale, claims = read_claims(path)
    table = Table(title=f"{figure} ({scale}): {summary(claims)}", show_lines=False)
    for col, kw in (("claim", {}), ("measured", {"justify": "right"}), ("target", {}), ("verdict", {})):
        table.add_column(col, overflow="fold", **kw)
    style = {True: "green", False: "bold red", None: "yellow"}
    for c in claims:
        table.add_row(f"{c.id}: {c.statement}", format_value(c.value, c.uncertainty), c.target,
                      f"[{style[c.holds]}]{verdict(c.holds)}[/]")
    console.print(table)
