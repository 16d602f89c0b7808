"""``iclab sweep``, ``iclab results ...`` and ``iclab report``: sweeps, the results store, the report."""

from __future__ import annotations

import math
import os
import re
from collections import defaultdict
from pathlib import Path

import typer
from rich.console import Console

from iclab.cli.apps import app, results_app
from iclab.cli.options import (
    executor_option,
    parse_overrides,
    progress_option,
    scheduler_option,
    store_option,
    workers_option,
)
from iclab.cli.output import echo_wrapped, format_duration, format_number, render_table, terminal_width
from iclab.sweep.config import point_hash
from iclab.sweep.store import Store
from iclab.validation import UserInputError, check_choice, check_int


def _signature(config: dict) -> tuple:
    """What makes two points the same kind of work for a cost estimate: their keys and their string values."""
    return tuple(sorted(config)), tuple(sorted((k, v) for k, v in config.items() if isinstance(v, str)))


def dry_run_text(sw, store: Path, workers: int) -> str:
    """The ``--dry-run`` summary of a sweep spec: points x seeds, what the store already holds, the cost."""
    seeds = sorted({p.seeds for p in sw.points})
    axes = " x ".join(f"{k}[{n}]" for k, n in sw.axes.items())
    n_runs = sum(p.seeds for p in sw.points)
    head = f"{sw.name}: {len(sw.points)} points ({axes}) x {'/'.join(map(str, seeds))} seeds = {n_runs} runs"
    return "\n".join([head, *estimate_lines(sw.name, sw.points, store, workers)])


def estimate_lines(name: str, points, store: Path, workers: int, cost=None, *, stored_timings: bool = True,
                   unknown: str = "") -> list[str]:
    """What the store already holds of ``points`` (stored under ``name``) and the estimated cost of the rest.

    With ``cost`` (CPU seconds of one (config, seed), :attr:`iclab.experiments.Experiment.cost`) the estimate is
    its sum. Otherwise, if ``stored_timings``, the cost of a run is the mean stored wall time of runs of the same
    kind (same keys and string values, e.g. ``kind: gamma``), else of all stored runs of ``name``; else the
    estimate is ``unknown`` (default: "unknown" and why).
    """
    todo: dict[tuple[str, int], dict] = {(point_hash(p.config), s): p.config for p in points for s in range(p.seeds)}
    n_runs = len(todo)
    lines = []
    times: dict[tuple, list[float]] = defaultdict(list)
    if store.exists() and store.stat().st_size > 0:
        with Store(store, readonly=True) as st:
            rows = st.rows(name, status="ok")
        for r in rows:
            todo.pop((r["point_hash"], r["seed"]), None)
            if r["wall_time"] is not None and stored_timings:
                times[_signature(r["config"])].append(r["wall_time"])
        lines.append(f"  {n_runs - len(todo)} already in {store}, {len(todo)} to compute")
    else:
        lines.append(f"  store {store} does not exist yet: {len(todo)} to compute")
    every = [t for ts in times.values() for t in ts]
    if not todo:
        lines.append("  estimated cost: nothing to compute")
    elif cost is not None:
        total = sum(float(cost(c)) for c in todo.values())
        lines.append(f"  estimated cost: {format_duration(total)} of CPU time (the figure's cost model), about "
                     f"{format_duration(total / workers)} on {workers} workers")
    elif not every:
        lines.append(f"  estimated cost: {unknown or f'unknown (no timings for {name} in the store yet)'}")
    else:
        fallback = sum(every) / len(every)
        means = {k: sum(v) / len(v) for k, v in times.items()}
        total = sum(means.get(_signature(c), fallback) for c in todo.values())
        unlike = sum(_signature(c) not in means for c in todo.values())
        lines.append(f"  estimated cost: {format_duration(total)} of compute ({total / len(todo):.3g} s per run, from "
                     f"{len(every)} stored timings), about {format_duration(total / workers)} on {workers} workers")
        if unlike:
            lines.append(f"  ({unlike} runs are of a kind with no stored timing yet: estimated at the mean of the "
                         "others, so a rough guess)")
    from iclab.solvable.footprint import dry_run_lines

    return lines + dry_run_lines(todo.values())


@app.command("sweep")
def sweep(
    spec: Path = typer.Argument(..., help="sweep spec (YAML): experiment, fixed, grid, zip, seeds"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the number of runs and the estimated cost"),
    store: Path = store_option(),
    executor: str = executor_option(),
    workers: int = workers_option(),
    scheduler: str = scheduler_option(),
    progress: bool = progress_option(),
) -> None:
    """Run a sweep spec: every (point, seed) not yet in the store is computed and stored as it finishes."""
    from iclab.sweep import run
    from iclab.sweep.executors import EXECUTORS
    from iclab.sweep.spec import load_spec, resolve

    check_choice("executor", executor, EXECUTORS)
    workers = (os.cpu_count() or 1) if workers is None else check_int("workers", workers, lo=1)
    sw = resolve(load_spec(spec))
    if dry_run:
        typer.echo(dry_run_text(sw, store, workers))
        return
    df = run(sw.compute, sw.points, name=sw.name, store=store, executor=executor, workers=workers,
             scheduler=scheduler, progress=progress)
    typer.echo(f"{sw.name}: {len(df)} rows ({df.attrs['computed']} computed, {df.attrs['cached']} from the "
               f"store, {len(df.attrs['failed'])} failed) in {store}")


@results_app.command("ls")
def results_ls(store: Path = store_option()) -> None:
    """List the experiments in the store: points, ok and failed rows, compute time, last write."""
    from rich.table import Table

    with Store(store, readonly=True) as st:
        summary = st.summary()
    table = Table("points", "ok", "failed", "compute", "last write (UTC)", title=str(store))
    table.add_column("experiment", overflow="fold")
    for r in summary.itertuples():
        table.add_row(str(r.points), str(r.ok), str(r.failed), format_duration(r.compute_s or 0),
                      r.last[:19].replace("T", " "), r.experiment)
    Console().print(table)


def parse_where(items: list[str]) -> dict:
    """``["kappa=inf", "d=20"]`` -> ``{"kappa": "inf", "d": 20}`` (values read as YAML scalars)."""
    return parse_overrides(items, option="--where")


def mean_std_text(mean: float, std: float) -> str:
    """``2.7316 ± 0.0011``: the mean to 5 significant digits, the spread to 2 (just the mean for one run)."""
    if math.isnan(std) or not math.isfinite(mean):
        return format_number(mean, 5)
    return f"{format_number(mean, 5)} ± {format_number(std, 2)}"


def summary_tables(points: list[dict], metric_names: list[str], columns: list[str] | None = None
                   ) -> list[tuple[str, list[str], list[str], list[dict[str, str]]]]:
    """Cells of the summary tables: ``[(label, columns, key columns, cells)]``, one table per point ``kind``.

    Each table has the config columns its points use, ``n`` (runs), the metrics they report (mean ± std) and
    ``s/run`` (mean wall time); ``columns`` keeps only those named (in that order).
    """
    by_kind: dict[str, list[dict]] = {}
    for p in points:
        by_kind.setdefault(str(p["config"].get("kind", "")), []).append(p)
    if columns is not None:
        allowed = {k for p in points for k in p["config"]} | set(metric_names) | {"n", "s/run"}
        for c in columns:
            if c not in allowed:
                raise UserInputError(f"columns must name some of {', '.join(sorted(allowed))} (got {c!r})")
    tables = []
    for kind, pts in by_kind.items():
        config_cols = [k for k in dict.fromkeys(k for p in pts for k in p["config"]) if k != "kind"]
        metric_cols = [m for m in metric_names if any(m in p["metrics"] for p in pts)]
        cols = [*config_cols, "n", *metric_cols, "s/run"]
        if columns is not None:
            cols = [c for c in columns if c in cols]
            if not cols:
                continue
        cells = []
        for p in pts:
            row = {c: format_number(p["config"].get(c), 6) for c in config_cols}
            row["n"] = str(p["n"])
            row |= {m: mean_std_text(*p["metrics"][m]) if m in p["metrics"] else "" for m in metric_cols}
            row["s/run"] = "" if p["wall_time"] is None else format_number(p["wall_time"], 2)
            cells.append({c: row[c] for c in cols})
        keys = [c for c in cols if c in config_cols and len({r[c] for r in cells}) > 1]
        tables.append((f"kind = {kind}" if kind else "", cols, keys, cells))
    return tables


@results_app.command("show")
def results_show(
    experiment: str = typer.Argument(..., help="experiment name (see `iclab results ls`)", metavar="EXPERIMENT"),
    store: Path = store_option(),
    where: list[str] = typer.Option([], "--where", metavar="KEY=VALUE",
                                    help="keep the points whose config or metric KEY equals VALUE (repeatable), "
                                         "e.g. --where kappa=inf --where d=30"),
    columns: str = typer.Option(None, "--columns", metavar="A,B,...",
                                help="comma list of the columns to show (config keys, metrics, n, s/run)"),
    raw: bool = typer.Option(False, "--raw", help="one row per (point, seed) with every column, arrays "
                                                  "abbreviated (the full arrays: `iclab results export`)"),
    failed: bool = typer.Option(False, "--failed", help="show the failed runs and their errors instead"),
    limit: int = typer.Option(30, metavar="N", help="points of each kind (rows with --raw) to show (0: all)"),
) -> None:
    """Summarise an experiment: one row per point with mean ± std over its runs and their number n.

    Array columns (whole curves) are hidden and listed below the table; tables fit the terminal width.
    """
    limit = check_int("limit", limit, lo=0)
    from iclab.sweep.summary import summarise

    where_map = parse_where(where)
    with Store(store, readonly=True) as st:
        check_choice("experiment", experiment, st.experiments())
        rows = st.rows(experiment, status="failed" if failed else "ok")
    if failed or raw:
        _show_raw(experiment, rows, where_map, failed, limit)
        return
    cols = None if columns is None else [c.strip() for c in columns.split(",") if c.strip()]
    points, metric_names, hidden = summarise(rows, where_map)
    tables = summary_tables(points, metric_names, cols)
    echo_wrapped(f"{experiment}: {sum(p['n'] for p in points)} ok rows, {len(points)} points "
                 "(mean ± std over the n runs of each point)")
    for label, tcols, keys, cells in tables:
        render_table(cells[:limit] if limit else cells, tcols, title=label, keys=keys)
        if limit and len(cells) > limit:
            echo_wrapped(f"... {len(cells) - limit} more points of this kind (--limit 0 shows all, --where filters)")
    if hidden:
        echo_wrapped("hidden array columns (values per row): " + ", ".join(f"{k} [{n}]" for k, n in hidden.items())
                     + "; `iclab results export` writes them")


def _show_raw(experiment: str, rows: list[dict], where: dict, failed: bool, limit: int) -> None:
    """The full rows, one per (point, seed); array values abbreviated to ``[N values]``."""
    import pandas as pd

    from iclab.sweep.summary import is_array, matches

    keep = [r for r in rows if all(matches({**r["config"], **(r["metrics"] or {})}.get(k), v)
                                   for k, v in where.items())]
    records = [{**r["config"], "seed": r["seed"], **(r["metrics"] or {}), "wall_time": r["wall_time"],
                **({"error": (r["error"] or "").splitlines()[0] if r["error"] else ""} if failed else {})}
               for r in keep]
    df = pd.DataFrame.from_records(records)
    df = df.map(lambda v: f"[{len(v)} values]" if is_array(v) else v) if len(df) else df
    with pd.option_context("display.width", terminal_width(), "display.max_columns", 50,
                           "display.max_colwidth", 60):
        typer.echo(f"{experiment}: {len(df)} {'failed' if failed else 'ok'} rows")
        if len(df):
            typer.echo(df.head(limit or len(df)).to_string(index=False, line_width=terminal_width()))


@results_app.command("export")
def results_export(
    experiment: str = typer.Argument(None, help="experiment name (default: all)"),
    format: str = typer.Option("csv", "--format", help="csv | parquet"),
    out: Path = typer.Option(None, help="output file (default: EXPERIMENT.FORMAT in the current folder)"),
    store: Path = store_option(),
) -> None:
    """Export rows (all statuses; config and metric columns flattened) to CSV or Parquet."""
    check_choice("format", format, ("csv", "parquet"))
    with Store(store, readonly=True) as st:
        if experiment is not None:
            check_choice("experiment", experiment, st.experiments())
        default = re.sub(r"[^\w.-]+", "_", experiment or "iclab-results")  # module:function -> a portable name
        path = st.export(out or Path(f"{default}.{format}"), format, experiment)
    typer.echo(f"wrote {path}")


@app.command("report")
def report(
    store: Path = store_option(),
    out: Path = typer.Option(Path("iclab-report"), help="output folder: report.html and one folder per figure"),
) -> None:
    """One self-contained HTML page: every figure in the store, agreement tables, environment, wall times."""
    from iclab.sweep.report import write_report

    typer.echo(f"wrote {write_report(store, out)}")
