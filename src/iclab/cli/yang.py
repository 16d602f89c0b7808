"""``iclab theory yang2024``: closed forms of Yang et al. 2024 on a grid of (N, K, m, tau), averaged over random
dictionaries: L*, the gap to the best ridge predictor (Fig. 3), the scale of the ridge limit, and the heads needed."""

from __future__ import annotations

import numpy as np
import typer

from iclab.cli.apps import theory_app
from iclab.cli.options import format_option, values_option
from iclab.cli.output import FORMATS, print_rows
from iclab.grid import check_grid, parse_values
from iclab.validation import check_choice, check_int

YANG_COLUMNS = ("N", "K", "m", "tau", "L_star", "L_star_sd", "L_star_per_token", "gap", "gap_sd", "gap_ood",
                "ystar_scale", "H_min")


def yang2024_rows(N: str, K: str, m: str, tau: str, *, d: int = 100, basis: str = "gaussian",
                  unit_norm: bool = True, draws: int = 20, seed: int = 0) -> list[dict[str, float]]:
    """One dict per point of the cartesian grid, means (and sd) over ``draws`` random dictionaries:

    L_star: inf L with the 1/(2K) loss (L_star_per_token = 2 L*: the 1/K loss, without the ½); gap:
    E (1/K) |yhat* - yhat_best|^2 in domain (gap_ood: lambda ~ N(1, 4I)); ystar_scale: E (1/K)|yhat*|^2 in domain;
    H_min = N heads make Assumption 2 hold almost surely (Prop. 1).
    """
    from iclab.experiments.yang2024_common import DataSettings, draw_reps
    from iclab.settings import apply_overrides
    from iclab.theory import yang2024 as Y

    check_grid((("N", N), ("K", K), ("m", m), ("tau", tau)), "the theory grid")
    axes = [parse_values(name, text) for name, text in (("N", N), ("K", K), ("m", m), ("tau", tau))]
    grid = [g.ravel() for g in np.meshgrid(*axes, indexing="ij")]
    points = []
    for n, k, mm, t in zip(*grid, strict=True):
        cfg = apply_overrides(DataSettings(), {"N": check_int("N", float(n)), "K": check_int("K", float(k)),
                                               "m": check_int("m", float(mm), lo=1), "d": d, "tau": float(t),
                                               "basis": basis, "unit_norm": unit_norm})
        points.append(cfg)
    rows = []
    for cfg in points:
        n, k, mm, t = cfg.N, cfg.K, cfg.m, cfg.tau
        reps_all = draw_reps(seed, draws, k, d, mm, basis, unit_norm)
        ls, gaps, ood, scale = [], [], [], []
        for reps in reps_all:
            A, best = Y.target_matrix(reps, n, t), Y.best_matrix(reps, n, t)
            ls.append(Y.optimal_loss(reps, n, t))
            gaps.append(Y.expected_inference_loss(best, reps, n, t))
            ood.append(Y.expected_inference_loss(best, reps, n, t, 1.0, 4.0))
            scale.append(Y.expected_inference_loss(np.zeros_like(A), reps, n, t))
        rows.append({"N": n, "K": k, "m": mm, "tau": t, "L_star": float(np.mean(ls)),
                     "L_star_sd": float(np.std(ls)), "L_star_per_token": 2 * float(np.mean(ls)),
                     "gap": float(np.mean(gaps)), "gap_sd": float(np.std(gaps)), "gap_ood": float(np.mean(ood)),
                     "ystar_scale": float(np.mean(scale)), "H_min": n})
    return rows


@theory_app.command("yang2024")
def yang2024_command(
    N: str = values_option("labelled tokens per prompt (1 <= N < K)", name="--N", grammar=True),
    K: str = values_option("dictionary size", "200", name="--K"),
    m: str = values_option("basis functions (>= 1)", "20"),
    tau: str = values_option("noise variance per representation coordinate (>= 0)", "0.01"),
    basis: str = typer.Option("gaussian", help="gaussian | fourier | chebyshev | legendre | monomial"),
    d: int = typer.Option(100, "--d", help="token dimension"),
    unit_norm: bool = typer.Option(True, "--unit-norm/--no-unit-norm", help="unit-norm tokens"),
    draws: int = typer.Option(20, help="random dictionaries averaged over"),
    seed: int = typer.Option(0, help="seed of the dictionaries"),
    format: str = format_option(),
) -> None:
    """Yang et al. 2024: L*, the gap to the best ridge predictor, and the heads needed, averaged over dictionaries."""
    check_choice("format", format, FORMATS)  # before the dictionaries are drawn
    rows = yang2024_rows(N, K, m, tau, d=check_int("d", d, lo=1), basis=basis, unit_norm=unit_norm,
                         draws=check_int("draws", draws, lo=1), seed=check_int("seed", seed, lo=0))
    print_rows(rows, YANG_COLUMNS, format, width=150,
               title=f"Yang et al. 2024 closed forms ({basis} basis, mean over {draws} dictionaries)")
