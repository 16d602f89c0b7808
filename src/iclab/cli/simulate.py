"""``iclab simulate PAPER``: simulations of the solvable models, run through the sweep engine."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import typer

from iclab.cli.apps import simulate_app
from iclab.cli.options import executor_option, format_option, lu_option, scheduler_option, store_option, workers_option
from iclab.cli.output import FORMATS, print_rows
from iclab.grid import parse_values
from iclab.validation import UserInputError, check_choice, check_int, check_nonnegative

LU_COLUMNS = ("d", "tau", "alpha", "kappa", "rho", "lam", "seeds", "e_icl_mean", "e_icl_std", "e_icl_theory",
              "e_idg_mean", "e_idg_std", "e_idg_theory")
# --extrapolate: per d mean ± SE and the theory at that d's realised ratios (theory_d) and at d -> inf; then one
# row per point with d = inf: e_inf ± SE of the 1/d fit (fit: its terms and chi²/dof, ICL | IDG)
EXTRAPOLATE_COLUMNS = ("d", "tau", "alpha", "kappa", "rho", "lam", "seeds",
                       "e_icl_mean", "e_icl_se", "e_icl_theory_d", "e_icl_theory",
                       "e_idg_mean", "e_idg_se", "e_idg_theory_d", "e_idg_theory", "fit")
STORE_NAME = "simulate-lu2024"
METRICS = ("e_icl", "e_idg")


def _configs(d: str, tau: str, alpha: str, kappa: str, rho: str, lam: str, seeds: int) -> list[dict]:
    """The cartesian grid of the value lists as simulate_point configs, validated here (so that bad input fails
    before any run, with one line, instead of as failed sweep tasks). κ = ∞ is written "inf" (json_number)."""
    from iclab.experiments.solvable_points import point_ratios
    from iclab.settings import json_number
    from iclab.solvable.footprint import check_simulations

    ds = parse_values("d", d)
    for v in ds:
        if not float(v).is_integer() or v < 2:
            raise UserInputError(f"d must be an integer >= 2 (got {v:g})")
    axes = [ds.astype(int), *(parse_values(name, text) for name, text in
                              (("tau", tau), ("alpha", alpha), ("kappa", kappa), ("rho", rho), ("lam", lam)))]
    check_simulations(axes, seeds)  # memory and task count of the whole grid, before the first run
    configs = []
    for dd, t, a, k, r, lm in itertools.product(*axes):
        cfg = {"d": int(dd), "tau": float(t), "alpha": float(a), "kappa": json_number(k),
               "rho": float(check_nonnegative("rho", r)), "lam": float(check_nonnegative("lam", lm))}
        point_ratios(cfg)  # validates d, tau, alpha, kappa and the integer sizes
        configs.append(cfg)
    return configs


def _runs(configs: list[dict], seeds: int, store: Path | None, name: str, **engine):
    """Every (config, seed) of :func:`iclab.experiments.solvable_points.simulate_point` through the sweep engine:
    taken from ``store`` (under ``name``) when already there, else computed by ``engine`` (executor, workers,
    scheduler of :func:`iclab.sweep.run`) and stored. Returns the results table, one row per (config, seed).

    A failed run is a bug (the input was checked before): raises with the first failure's stored traceback."""
    from iclab import sweep
    from iclab.experiment import Point
    from iclab.experiments.solvable_points import simulate_point
    from iclab.sweep.engine import first_failure

    df = sweep.run(simulate_point, [Point(c, seeds) for c in configs], name=name,
                   store=None if store is None else str(store), progress=False, **engine)
    failed = df.attrs.get("failed")
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(configs) * seeds} simulation runs failed; the first, "
                           f"{first_failure(failed)}")
    return df


def _point_stats(df, cfg: dict) -> tuple[int, dict[str, tuple[float, float, float]]]:
    """(runs, {metric: (mean, std, se)}) of one config's rows of the results table ``df``."""
    sel = np.ones(len(df), bool)
    for k, v in cfg.items():
        sel &= (df[k] == v).to_numpy()
    rows = df[sel]
    n = len(rows)
    out = {}
    for m in METRICS:
        v = rows[m].to_numpy(float)
        std = float(v.std(ddof=1)) if n > 1 else math.nan
        out[m] = (float(v.mean()), std, std / math.sqrt(n))
    return n, out


def lu2024_rows(d: str, tau: str, alpha: str, kappa: str, rho: str, lam: str = "0", seeds: int = 10, *,
                store: Path | None = None, name: str = STORE_NAME, **engine) -> list[dict[str, float]]:
    """Simulate Gamma* (``iclab.experiments.solvable_points.simulate_point``) on the cartesian grid of the value
    lists, ``seeds`` runs per point, next to the asymptotic theory (``iclab.theory.lu2024``); one dict per grid
    point. Runs go through the sweep engine, stored under ``name`` in ``store`` (and taken from it when already
    there) when one is given; ``engine``: ``executor``, ``workers``, ``scheduler`` of :func:`iclab.sweep.run`.
    """
    from iclab.settings import from_json_number
    from iclab.theory import lu2024

    seeds = check_int("seeds", seeds, lo=1)
    configs = _configs(d, tau, alpha, kappa, rho, lam, seeds)
    df = _runs(configs, seeds, store, name, **engine)
    rows = []
    for cfg in configs:
        n, st = _point_stats(df, cfg)
        kappa_f = from_json_number(cfg["kappa"])
        theory = lu2024.evaluate(cfg["tau"], cfg["alpha"], kappa_f, cfg["rho"], cfg["lam"])
        rows.append({**cfg, "kappa": kappa_f, "seeds": n,
                     **{f"{m}_{k}": v for m in METRICS for k, v in
                        (("mean", st[m][0]), ("std", st[m][1]), ("theory", float(theory[m])))}})
    return rows


def lu2024_extrapolated_rows(d: str, tau: str, alpha: str, kappa: str, rho: str, lam: str = "0", seeds: int = 10,
                             *, store: Path | None = None, name: str = STORE_NAME, **engine) -> list[dict]:
    """Per point of the (τ, α, κ, ρ, λ) grid: one row per d (mean ± SE over ``seeds`` runs, the theory at that d's
    realised ratios ``theory_d`` and at d -> inf), then a row with d = inf holding e_inf ± SE extrapolated in 1/d
    (:func:`iclab.solvable.finite_size.extrapolate`, weighted by :func:`~iclab.solvable.finite_size.pooled_se`)
    next to the d -> inf theory."""
    from iclab.experiments.solvable_points import point_ratios
    from iclab.settings import from_json_number
    from iclab.solvable.finite_size import extrapolate, pooled_se
    from iclab.theory import lu2024

    seeds = check_int("seeds", seeds, lo=2)
    configs = _configs(d, tau, alpha, kappa, rho, lam, seeds)
    if len({c["d"] for c in configs}) < 2:
        raise UserInputError(f"d must list at least 2 dimensions to extrapolate (got {d!r})")
    df = _runs(configs, seeds, store, name, **engine)
    groups: dict[tuple, list[dict]] = {}
    for cfg in configs:
        groups.setdefault(tuple(cfg[k] for k in ("tau", "alpha", "kappa", "rho", "lam")), []).append(cfg)
    rows = []
    for (t, a, k, r, lm), cfgs in groups.items():
        kappa_f = from_json_number(k)
        theory = lu2024.evaluate(t, a, kappa_f, r, lm)
        base = {"tau": t, "alpha": a, "kappa": kappa_f, "rho": r, "lam": lm}
        per_d = []
        for cfg in sorted(cfgs, key=lambda c: c["d"]):
            rr = point_ratios(cfg)
            th_d = lu2024.evaluate(rr["tau"], rr["alpha"], rr["kappa"], r, lm)
            n, st = _point_stats(df, cfg)
            row = {"d": cfg["d"], **base, "seeds": n, "fit": ""}
            for m in METRICS:
                row |= {f"{m}_mean": st[m][0], f"{m}_se": st[m][2], f"{m}_theory_d": float(th_d[m]),
                        f"{m}_theory": float(theory[m])}
            per_d.append(row)
        inf_row = {"d": math.inf, **base, "seeds": sum(x["seeds"] for x in per_d)}
        fits = []
        for m in METRICS:
            ds, means = [x["d"] for x in per_d], [x[f"{m}_mean"] for x in per_d]
            # the fit weighs each d by the SE of one spread c/d pooled over the ladder: each d's own SE (printed
            # in its row) comes from a handful of runs and is itself uncertain
            se, _ = pooled_se(ds, means, [x[f"{m}_se"] for x in per_d], [x["seeds"] for x in per_d])
            ex = extrapolate(ds, means, se, [x[f"{m}_theory_d"] for x in per_d], float(theory[m]))
            inf_row |= {f"{m}_mean": ex.e_inf, f"{m}_se": ex.e_inf_se, f"{m}_theory_d": float(theory[m]),
                        f"{m}_theory": float(theory[m])}
            fits.append(f"{'a/d' if ex.fit.order == 1 else 'a/d+b/d²'} χ²={ex.fit.chi2:.2g}/{ex.fit.dof}")
        inf_row["fit"] = " | ".join(fits)  # ICL | IDG: the terms fitted and χ²/dof
        rows += [*per_d, inf_row]
    return rows


@simulate_app.command("lu2024")
def lu2024_command(
    d: str = typer.Option("64", "--d", metavar="VALUES", help="token dimension (integer >= 2; a list simulates each)"),
    tau: str = lu_option("tau"),
    alpha: str = lu_option("alpha"),
    kappa: str = lu_option("kappa"),
    rho: str = lu_option("rho"),
    lam: str = lu_option("lam", "0"),
    seeds: int = typer.Option(10, help="independent runs per point (new pool and data each)"),
    extrapolate: bool = typer.Option(False, "--extrapolate", help="with several --d: each d's mean ± SE and e_∞ ± "
                                     "SE extrapolated in 1/d (theory at each d's realised ℓ/d, k/d, n/d²)"),
    store: Path | None = store_option(None, help="results store (SQLite): runs are stored like a sweep's (see "
                                      "`iclab results`, `iclab report`) and reused when already there"),
    name: str = typer.Option(STORE_NAME, "--name", help="experiment name the runs are stored under (with --store)"),
    executor: str = executor_option(),
    workers: int = workers_option(),
    scheduler: str = scheduler_option(),
    format: str = format_option(),
) -> None:
    """Lu et al. 2024: finite-d Γ* simulations (the exact test errors of the ridge solution Γ* at finite d) with mean
    and std over seeds, next to the asymptotic theory; --extrapolate fits the excess over the theory in 1/d and
    prints e_∞ ± SE. Runs go through the sweep engine: cached with --store, in parallel with --executor process."""
    check_choice("format", format, FORMATS)  # before the runs, not after them
    engine = {"store": store, "name": name, "executor": executor, "workers": workers, "scheduler": scheduler}
    if extrapolate:
        rows = lu2024_extrapolated_rows(d, tau, alpha, kappa, rho, lam, seeds, **engine)
        print_rows(rows, EXTRAPOLATE_COLUMNS, format, digits=5, exact=("d", "seeds", "fit"), width=250,
                   title="Lu et al. 2024: simulated Γ* (mean ± SE per d; d = inf: e_∞ ± SE extrapolated in 1/d) "
                         "vs theory at realised ratios (theory_d) and d → ∞ (theory)")
        return
    rows = lu2024_rows(d, tau, alpha, kappa, rho, lam, seeds, **engine)
    print_rows(rows, LU_COLUMNS, format, digits=5, exact=("d", "seeds"), width=160,
               title="Lu et al. 2024: simulated Γ* (mean ± std over seeds) vs asymptotic theory")
