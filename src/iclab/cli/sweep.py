"""``iclab sweep``, ``iclab results ...`` and ``iclab report``: sweeps, the results store, the report."""

from __future__ import annotations

from pathlib import Path

import typer

from iclab.cli.apps import app, results_app

_STORE_HELP = "results store (SQLite)"


def _duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.3g} s"
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _signature(config: dict) -> tuple:
    """What makes two points the same kind of work for a cost estimate: their keys and their string values."""
    return tuple(sorted(config)), tuple(sorted((k, v) for k, v in config.items() if isinstance(v, str)))


def dry_run_text(sw, store: Path, workers: int) -> str:
    """The ``--dry-run`` summary: points x seeds, what the store already holds, and an estimated cost.

    The cost of a run is the mean stored wall time of runs of the same kind (same keys and string values, e.g.
    ``kind: gamma``), else of all stored runs of the experiment.
    """
    from collections import defaultdict

    from iclab.sweep.config import point_hash
    from iclab.sweep.store import Store

    seeds = sorted({p.seeds for p in sw.points})
    axes = " x ".join(f"{k}[{n}]" for k, n in sw.axes.items())
    todo: dict[tuple[str, int], dict] = {(point_hash(p.config), s): p.config for p in sw.points for s in range(p.seeds)}
    n_runs = len(todo)
    lines = [f"{sw.name}: {len(sw.points)} points ({axes}) x {'/'.join(map(str, seeds))} seeds = {n_runs} runs"]
    times: dict[tuple, list[float]] = defaultdict(list)
    if store.exists() and store.stat().st_size > 0:
        with Store(store, readonly=True) as st:
            rows = st.rows(sw.name, status="ok")
        for r in rows:
            todo.pop((r["point_hash"], r["seed"]), None)
            if r["wall_time"] is not None:
                times[_signature(r["config"])].append(r["wall_time"])
        lines.append(f"  {n_runs - len(todo)} already in {store}, {len(todo)} to compute")
    else:
        lines.append(f"  store {store} does not exist yet: {len(todo)} to compute")
    every = [t for ts in times.values() for t in ts]
    if not todo:
        lines.append("  estimated cost: nothing to compute")
    elif not every:
        lines.append(f"  estimated cost: unknown (no timings for {sw.name} in the store yet)")
    else:
        fallback = sum(every) / len(every)
        means = {k: sum(v) / len(v) for k, v in times.items()}
        total = sum(means.get(_signature(c), fallback) for c in todo.values())
        unlike = sum(_signature(c) not in means for c in todo.values())
        lines.append(f"  estimated cost: {_duration(total)} of compute ({total / len(todo):.3g} s per run, from "
                     f"{len(every)} stored timings), about {_duration(total / workers)} on {workers} workers")
        if unlike:
            lines.append(f"  ({unlike} runs are of a kind with no stored timing yet: estimated at the mean of the "
                         "others, so a rough guess)")
    from iclab.solvable.footprint import dry_run_lines

    lines += dry_run_lines(todo.values())
    return "\n".join(lines)


@app.command("sweep")
def sweep(
    spec: Path = typer.Argument(..., help="sweep spec (YAML): experiment, fixed, grid, zip, seeds"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the number of runs and the estimated cost"),
    store: Path = typer.Option(Path("iclab-results.sqlite"), help=_STORE_HELP),
    executor: str = typer.Option("local", help="local | process | dask | dask-local"),
    workers: int = typer.Option(None, help="worker processes (default: all cores)"),
    scheduler: str = typer.Option(None, help="Dask scheduler address tcp://HOST:PORT"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Run a sweep spec: every (point, seed) not yet in the store is computed and stored as it finishes."""
    import os

    from iclab.sweep import run
    from iclab.sweep.executors import EXECUTORS
    from iclab.sweep.spec import load_spec, resolve
    from iclab.validation import check_choice, check_int

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
def results_ls(store: Path = typer.Option(Path("iclab-results.sqlite"), help=_STORE_HELP)) -> None:
    """List the experiments in the store: points, ok and failed rows, compute time, last write."""
    from rich.console import Console
    from rich.table import Table

    from iclab.sweep.store import Store

    with Store(store, readonly=True) as st:
        summary = st.summary()
    table = Table("points", "ok", "failed", "compute", "last write (UTC)", title=str(store))
    table.add_column("experiment", overflow="fold")
    for r in summary.itertuples():
        table.add_row(str(r.points), str(r.ok), str(r.failed), _duration(r.compute_s or 0),
                      r.last[:19].replace("T", " "), r.experiment)
    Console().print(table)


@results_app.command("show")
def results_show(
    experiment: str = typer.Argument(..., help="experiment name (see `iclab results ls`)"),
    store: Path = typer.Option(Path("iclab-results.sqlite"), help=_STORE_HELP),
    failed: bool = typer.Option(False, "--failed", help="show the failed runs and their errors instead"),
    limit: int = typer.Option(20, help="rows to show (0: all)"),
) -> None:
    """Show an experiment's rows: config columns, seed, metrics, wall time."""
    import pandas as pd

    from iclab.sweep.store import Store
    from iclab.validation import check_choice, check_int

    limit = check_int("limit", limit, lo=0)
    with Store(store, readonly=True) as st:
        check_choice("experiment", experiment, st.experiments())
        df = st.to_frame(experiment, status="failed" if failed else "ok")
    if failed:
        df = df.assign(error=df["error"].map(lambda e: e.splitlines()[0])) if len(df) else df
    drop = ["experiment", "point_hash", "status", "iclab_version", "timestamp"] + ([] if failed else ["error"])
    df = df.drop(columns=[c for c in drop if c in df.columns])
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_colwidth", 60):
        typer.echo(f"{experiment}: {len(df)} {'failed' if failed else 'ok'} rows")
        if len(df):
            typer.echo(df.head(limit or len(df)).to_string(index=False))


@results_app.command("export")
def results_export(
    experiment: str = typer.Argument(None, help="experiment name (default: all)"),
    format: str = typer.Option("csv", "--format", help="csv | parquet"),
    out: Path = typer.Option(None, help="output file (default: EXPERIMENT.FORMAT in the current folder)"),
    store: Path = typer.Option(Path("iclab-results.sqlite"), help=_STORE_HELP),
) -> None:
    """Export rows (all statuses; config and metric columns flattened) to CSV or Parquet."""
    import re

    from iclab.sweep.store import Store
    from iclab.validation import check_choice

    check_choice("format", format, ("csv", "parquet"))
    with Store(store, readonly=True) as st:
        if experiment is not None:
            check_choice("experiment", experiment, st.experiments())
        default = re.sub(r"[^\w.-]+", "_", experiment or "iclab-results")  # module:function -> a portable name
        path = st.export(out or Path(f"{default}.{format}"), format, experiment)
    typer.echo(f"wrote {path}")


@app.command("report")
def report(
    store: Path = typer.Option(Path("iclab-results.sqlite"), help=_STORE_HELP),
    out: Path = typer.Option(Path("iclab-report"), help="output folder: report.html and one folder per figure"),
) -> None:
    """One self-contained HTML page: every figure in the store, agreement tables, environment, wall times."""
    from iclab.sweep.report import write_report

    typer.echo(f"wrote {write_report(store, out)}")
