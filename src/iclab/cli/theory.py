"""``iclab theory PAPER``: closed-form curves on a cartesian grid of parameters."""

from __future__ import annotations

import math

import typer

from iclab.cli.apps import theory_app

_GRAMMAR = "a number, a comma list, start:stop:num, log:start:stop:num or logspace(a,b,num)"
CHUNK = 2**16  # grid points evaluated at once: bounds the theory's temporaries on a large grid
LU_COLUMNS = ("tau", "alpha", "kappa", "rho", "lam", "xi", "e_icl", "e_idg", "g_task")


def lu2024_rows(tau: str, alpha: str, kappa: str, rho: str, lam: str = "0") -> list[dict[str, float]]:
    """Evaluate the Lu et al. theory on the cartesian grid of the five value lists; one dict per grid point.

    The grid is counted and its memory estimated before anything is built (:func:`iclab.resources.check_grid`),
    and evaluated in chunks of ``CHUNK`` points, so the theory's temporaries stay bounded on a large grid."""
    import numpy as np

    from iclab.grid import parse_values
    from iclab.resources import check_grid
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
    tau: str = typer.Option(..., help=f"pretraining contexts per parameter n/d² (> 0): {_GRAMMAR}"),
    alpha: str = typer.Option(..., help="context length per dimension ℓ/d (> 0)"),
    kappa: str = typer.Option(..., help="task-pool size per dimension k/d (> 0; inf = a fresh task per context)"),
    rho: str = typer.Option(..., help="label-noise variance (≥ 0)"),
    lam: str = typer.Option("0", help="ridge λ (≥ 0; 0 = ridgeless limit)"),
    format: str = typer.Option("table", "--format", help="table | csv | json"),
) -> None:
    """Lu et al. 2024: asymptotic ICL and IDG errors of the linear-attention model Γ* on a parameter grid."""
    from iclab.cli.output import print_rows

    rows = lu2024_rows(tau, alpha, kappa, rho, lam)
    print_rows(rows, LU_COLUMNS, format, title="Lu et al. 2024 asymptotic theory")
