"""``iclab theory mahankali2023``: closed forms of Mahankali et al. 2023 (eta*, the preconditioner, the minimal
losses), printed like every theory command (table, CSV or JSON through :func:`iclab.cli.output.print_rows`)."""

from __future__ import annotations

import numpy as np
import typer

from iclab.cli.apps import theory_app
from iclab.cli.options import format_option, values_option
from iclab.cli.output import print_rows
from iclab.grid import check_grid, parse_values
from iclab.resources import check_memory
from iclab.validation import UserInputError, check_choice, check_int, check_spd

ISOTROPIC_COLUMNS = ("d", "n", "sigma2", "eta_star", "min_loss_noisy", "min_loss_clean")
# with --cov: one row per prior; the preconditioner's eigenvalue range (JSON rows also hold the matrices)
COV_COLUMNS = ("d", "n", "sigma2", "prior", "min_loss_noisy", "min_loss_clean", "gamma_eig_min", "gamma_eig_max")


def parse_cov(text: str, d: int | None):
    """``--cov``: a YAML number (c I), list (a diagonal) or list of lists (the matrix), or ``cond:K`` (condition
    number K, eigenvalues geometric around 1, rotated by the Haar matrix of seed 0). Returns (Sigma, d)."""
    import yaml

    from iclab.theory.mahankali2023 import make_cov

    text = text.strip()
    if text.startswith("cond:"):
        if d is None:
            raise UserInputError("d must be given with --cov cond:K (got none)")
        try:
            cond = float(text[5:])
        except ValueError:
            raise UserInputError(f"cov must be cond:K with a number K >= 1 (got {text!r})") from None
        return make_cov(d, cond, rotate=True), d
    try:
        value = yaml.safe_load(text)
        arr = np.asarray(value, dtype=float)
    except (yaml.YAMLError, TypeError, ValueError):
        raise UserInputError(f"cov must be a number, a list (diagonal), a list of lists (matrix) or cond:K "
                         f"(got {text!r})") from None
    if arr.ndim == 0:
        if d is None:
            raise UserInputError("d must be given with a scalar --cov (got none)")
        arr = arr * np.eye(d)
    elif arr.ndim == 1:
        arr = np.diag(arr)
    d = arr.shape[0] if d is None else d
    return check_spd("cov", arr, d), d


def mahankali2023_rows(d: int | None, n: str, sigma2: str, cov: str | None = None, prior: str = "both"
                       ) -> tuple[list[dict], tuple[str, ...]]:
    """The rows the command prints and their columns: one row per (n, sigma2), or with ``cov`` one per
    (n, sigma2, prior).

    Without ``cov`` (x ~ N(0, I), Theorem 1): eta* and the minimal losses against the noisy and the clean target.
    With ``cov`` (x ~ N(0, Σ)): the minimal losses of preconditioned GD with the optimal preconditioner Γ* of the
    prior (Theorem 2 for the paper's w ~ N(0, Σ⁻¹)) and Γ*'s extreme eigenvalues; each row also holds, for JSON,
    ``preconditioner`` (d, d), ``eigenvalues`` (d,) and ``cov`` Σ (d, d) as nested lists.
    """
    from iclab.theory import mahankali2023 as th

    prior = check_choice("prior", prior, ("both", *th.PRIORS))
    if d is not None:
        d = check_int("d", d, lo=1)
    sigma_mat = None
    check_grid((("n", n), ("sigma2", sigma2)), "the theory grid")
    if cov is not None:
        if d is not None:  # Σ, its eigenvectors and a preconditioner per prior: a few d x d matrices
            check_memory(8.0 * 8 * d * d, f"--cov with d = {d}", "lower d")
        sigma_mat, d = parse_cov(cov, d)
    if d is None:
        raise UserInputError("d must be given (or implied by --cov) (got none)")
    ns = parse_values("n", n)
    s2s = parse_values("sigma2", sigma2)
    th.eta_star(ns, d, 0.0)  # validates n (integers >= 1)
    th.eta_star(1, d, s2s)  # validates sigma2 (>= 0, finite)
    rows = []
    for nv in ns:
        for s2 in s2s:
            nv, s2 = int(nv), float(s2)
            if sigma_mat is None:
                rows.append({"d": d, "n": nv, "sigma2": s2, "eta_star": float(th.eta_star(nv, d, s2)),
                             "min_loss_noisy": float(th.min_loss(nv, d, s2)),
                             "min_loss_clean": float(th.min_loss(nv, d, s2, target="clean"))})
                continue
            for p in (th.PRIORS if prior == "both" else (prior,)):
                g = th.preconditioner(sigma_mat, nv, s2, p)
                eig = np.linalg.eigvalsh(g)
                rows.append({"d": d, "n": nv, "sigma2": s2, "prior": p,
                             "min_loss_noisy": th.preconditioned_min_loss(sigma_mat, nv, s2, p),
                             "min_loss_clean": th.preconditioned_min_loss(sigma_mat, nv, s2, p, target="clean"),
                             "gamma_eig_min": float(eig[0]), "gamma_eig_max": float(eig[-1]),
                             "preconditioner": g.tolist(), "eigenvalues": eig.tolist(), "cov": sigma_mat.tolist()})
    return rows, ISOTROPIC_COLUMNS if sigma_mat is None else COV_COLUMNS


@theory_app.command("mahankali2023")
def mahankali2023_command(
    d: int = typer.Option(None, help="input dimension (≥ 1; implied by a matrix --cov)"),
    n: str = values_option("context length (integer ≥ 1)", grammar=True),
    sigma2: str = values_option("label-noise variance (≥ 0)", "0"),
    cov: str = typer.Option(None, help="covariance Σ of x (symmetric positive definite): a number (c·I), a list "
                                       "(diagonal), a list of lists, or cond:K (condition number K, rotated)"),
    prior: str = typer.Option("both", help="task prior with --cov: inverse (w ~ N(0, Σ⁻¹), the paper's), "
                                           "identity (w ~ N(0, I), Ahn et al. / ZFB), or both"),
    format: str = format_option(),
) -> None:
    """Mahankali et al. 2023: optimal step eta* = n/(n+d+1+σ²), preconditioner and minimal loss of 1-layer LSA.

    Losses are E(ŷ - y_q)² without ½, against the noisy target (and the clean one, σ² less).
    """
    rows, columns = mahankali2023_rows(d, n, sigma2, cov, prior)
    if columns == ISOTROPIC_COLUMNS:
        title = ("Mahankali et al. 2023, Theorem 1: optimal 1-layer LSA = one GD step with eta* I (x ~ N(0, I)); "
                 "--cov for x ~ N(0, Σ)")
    else:
        title = ("Mahankali et al. 2023, Theorem 2: optimal 1-layer LSA = preconditioned GD under x ~ N(0, Σ); "
                 "prior inverse: w ~ N(0, Σ⁻¹), Γ* = eta* Σ⁻¹; identity: w ~ N(0, I), "
                 "Γ* = ((n+1)/n Σ + (tr Σ + σ²)/n I)⁻¹; gamma_eig: Γ*'s eigenvalue range (--format json adds Σ, "
                 "Γ* and its eigenvalues)")
    print_rows(rows, columns, format, title=title)
