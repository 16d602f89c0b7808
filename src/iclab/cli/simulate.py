"""``iclab simulate PAPER``: simulations of the solvable models."""

from __future__ import annotations

import typer

from iclab.cli.apps import simulate_app
from iclab.validation import UserInputError

_GRAMMAR = "a number, a comma list, start:stop:num, log:start:stop:num or logspace(a,b,num)"
LU_COLUMNS = ("d", "tau", "alpha", "kappa", "rho", "lam", "seeds", "e_icl_mean", "e_icl_std", "e_icl_theory",
              "e_idg_mean", "e_idg_std", "e_idg_theory")


def lu2024_rows(d: str, tau: str, alpha: str, kappa: str, rho: str, lam: str = "0", seeds: int = 10
                ) -> list[dict[str, float]]:
    """Simulate Gamma* (``iclab.solvable.simulate_point``) on the cartesian grid of the value lists, ``seeds`` runs
    per point, next to the asymptotic theory (``iclab.theory.lu2024``); one dict per grid point."""
    import itertools
    import math

    import numpy as np

    from iclab.grid import parse_values
    from iclab.solvable import simulate_point
    from iclab.solvable.footprint import check_simulations
    from iclab.theory import lu2024
    from iclab.validation import check_int

    seeds = check_int("seeds", seeds, lo=1)
    ds = parse_values("d", d)
    for v in ds:
        if not float(v).is_integer() or v < 2:
            raise UserInputError(f"d must be an integer >= 2 (got {v:g})")
    axes = [ds.astype(int), *(parse_values(name, text) for name, text in
                              (("tau", tau), ("alpha", alpha), ("kappa", kappa), ("rho", rho), ("lam", lam)))]
    check_simulations(axes, seeds)
    rows = []
    for dd, t, a, k, r, lm in itertools.product(*axes):
        cfg = {"d": int(dd), "tau": float(t), "alpha": float(a), "kappa": "inf" if math.isinf(k) else float(k),
               "rho": float(r), "lam": float(lm)}
        runs = np.array([[out["e_icl"], out["e_idg"]] for out in (simulate_point(cfg, s) for s in range(seeds))])
        theory = lu2024.evaluate(t, a, k, r, lm)
        std = runs.std(0, ddof=1) if seeds > 1 else np.full(2, math.nan)
        rows.append({"d": int(dd), "tau": float(t), "alpha": float(a), "kappa": float(k), "rho": float(r),
                     "lam": float(lm), "seeds": seeds,
                     "e_icl_mean": float(runs[:, 0].mean()), "e_icl_std": float(std[0]),
                     "e_icl_theory": float(theory["e_icl"]),
                     "e_idg_mean": float(runs[:, 1].mean()), "e_idg_std": float(std[1]),
                     "e_idg_theory": float(theory["e_idg"])})
    return rows


@simulate_app.command("lu2024")
def lu2024_command(
    d: str = typer.Option("64", "--d", help="token dimension (integer >= 2; a list simulates each)"),
    tau: str = typer.Option(..., help=f"pretraining contexts per parameter n/d² (> 0): {_GRAMMAR}"),
    alpha: str = typer.Option(..., help="context length per dimension ℓ/d (> 0)"),
    kappa: str = typer.Option(..., help="task-pool size per dimension k/d (> 0; inf = a fresh task per context)"),
    rho: str = typer.Option(..., help="label-noise variance (≥ 0)"),
    lam: str = typer.Option("0", help="ridge λ (≥ 0; 0 = min-norm / least squares)"),
    seeds: int = typer.Option(10, help="independent runs per point (new pool and data each)"),
    format: str = typer.Option("table", "--format", help="table | csv | json"),
) -> None:
    """Lu et al. 2024: finite-d Γ* simulations (exact test errors, §3.3) with mean and std over seeds, next to the
    asymptotic theory."""
    from iclab.cli.output import print_rows

    rows = lu2024_rows(d, tau, alpha, kappa, rho, lam, seeds)
    print_rows(rows, LU_COLUMNS, format, digits=5, exact=("d", "seeds"), width=160,
               title="Lu et al. 2024: simulated Γ* (mean ± std over seeds) vs asymptotic theory")
