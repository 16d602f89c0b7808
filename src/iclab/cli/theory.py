"""``iclab theory PAPER``: closed-form curves on a cartesian grid of parameters."""

from __future__ import annotations

import math

import numpy as np
import typer

from iclab.cli.apps import theory_app
from iclab.cli.options import format_option, lu_option
from iclab.cli.output import print_rows
from iclab.grid import check_grid, parse_values

CHUNK = 2**16  # grid points evaluated at once: bounds the theory's temporaries on a large grid
LU_COLUMNS = ("tau", "alpha", "kappa", "rho", "lam", "xi", "e_icl", "e_idg", "g_task")


def lu2024_rows(tau: str, alpha: str, kappa: str, rho: str, lam: str = "0") -> list[dict[str, float]]:
    """Evaluate the Lu et al. theory on the cartesian grid of the five value lists; one dict per grid point.

    The grid is counted and its memory estimated before anything is built (:func:`iclab.grid.check_grid`),
    and evaluated in chunks of ``CHUNK`` points, so the theory's temporaries stay bounded on a large grid."""
    from iclab.theory import lu2024

    named = (("tau", tau), ("alpha", alpha), ("kappa", kappa), ("rho", rho), ("lam", lam))
    check_grid(named, "the theory grid")
    axes = [parse_values(name, text) for name, text in named]
    shape = tuple(len(a) for a in axes)
    rows: list[dict[str, float]] = []
    for start in range(0, math.prod(shape), CHUNK):
        index = np.unravel_index(np.arange(start, min(start + CHUNK, math.prod(shape))), shape)
        grid = [a[i] for a, i in zip(axes, index, strict=True)]
        out = lu2024.evaluate(*grid)
        cols = [*grid, *(np.broadcast_to(out[k], grid[0].shape) for k in ("xi", "e_icl", "e_idg", "g_task"))]
        rows.extend(dict(zip(LU_COLUMNS, map(float, vals), strict=True)) for vals in zip(*cols, strict=True))
    return rows


@theory_app.command("lu2024")
def lu2024_command(
    tau: str = lu_option("tau"),
    alpha: str = lu_option("alpha"),
    kappa: str = lu_option("kappa"),
    rho: str = lu_option("rho"),
    lam: str = lu_option("lam", "0"),
    format: str = format_option(),
) -> None:
    """Lu et al. 2024: asymptotic ICL and IDG errors of the linear-attention model Γ* on a parameter grid."""
    rows = lu2024_rows(tau, alpha, kappa, rho, lam)
    print_rows(rows, LU_COLUMNS, format, keys=("tau", "alpha", "kappa", "rho", "lam"),
               title="Lu et al. 2024 asymptotic theory (the optimal context length: `iclab theory alpha-star`)")


ALPHA_STAR_COLUMNS = ("tau", "kappa", "rho", "lam", "alpha_star", "e_star")


def alpha_star_rows(tau: str, kappa: str, rho: str, lam: str = "0", which: str = "icl", *,
                    alpha_min: float = 1e-2, alpha_max: float = 1e4) -> list[dict[str, float]]:
    """α* (first local minimiser of e_ICL or e_IDG over context length α) and the error there, on the cartesian
    grid of the value lists (``iclab.theory.lu2024.alpha_star``); NaN where the curve has no interior minimum."""
    from iclab.theory import lu2024

    axes = [parse_values(name, text) for name, text in (("tau", tau), ("kappa", kappa), ("rho", rho), ("lam", lam))]
    grid = [g.ravel() for g in np.meshgrid(*axes, indexing="ij")]
    a, e = lu2024.alpha_star(*grid, which=which, alpha_min=alpha_min, alpha_max=alpha_max)
    cols = [*grid, np.atleast_1d(a), np.atleast_1d(e)]
    return [dict(zip(ALPHA_STAR_COLUMNS, map(float, vals), strict=True)) for vals in zip(*cols, strict=True)]


@theory_app.command("alpha-star")
def alpha_star_command(
    tau: str = lu_option("tau"),
    kappa: str = lu_option("kappa"),
    rho: str = lu_option("rho"),
    lam: str = lu_option("lam", "0"),
    which: str = typer.Option("icl", metavar="icl|idg", help="the error minimised: icl (fresh tasks) or idg (pool)"),
    alpha_min: float = typer.Option(1e-2, metavar="NUMBER", help="smallest α searched (> 0)"),
    alpha_max: float = typer.Option(1e4, metavar="NUMBER", help="largest α searched (> alpha-min)"),
    format: str = format_option(),
) -> None:
    """Lu et al. 2024 (Fig. 2): the optimal context length α* (first local minimum of the error in α) and e* there."""
    rows = alpha_star_rows(tau, kappa, rho, lam, which, alpha_min=alpha_min, alpha_max=alpha_max)
    print_rows(rows, ALPHA_STAR_COLUMNS, format, keys=("tau", "kappa", "rho", "lam"),
               title=f"Lu et al. 2024: α* = first local minimiser of e_{which.upper()} over α ∈ [{alpha_min:g}, "
                     f"{alpha_max:g}], e_star = e_{which.upper()}(α*); nan: no interior minimum (monotone)")
