"""``iclab theory mahankali2023``: closed forms of Mahankali et al. (eta*, the preconditioner, the minimal losses)."""

from __future__ import annotations

import typer

from iclab.cli.apps import theory_app
from iclab.validation import UserInputError

_GRAMMAR = "a number, a comma list, start:stop:num, log:start:stop:num or logspace(a,b,num)"


def parse_cov(text: str, d: int | None):
    """``--cov``: a YAML number (c I), list (a diagonal) or list of lists (the matrix), or ``cond:K`` (condition
    number K, eigenvalues geometric around 1, rotated by the Haar matrix of seed 0). Returns (Sigma, d)."""
    import numpy as np
    import yaml

    from iclab.theory.mahankali2023 import make_cov
    from iclab.validation import check_spd

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


def mahankali_report(d: int | None, n: str, sigma2: str, cov: str | None, prior: str) -> dict:
    """All numbers the command prints, as plain Python (one entry per (n, sigma2) pair)."""
    import numpy as np

    from iclab.grid import parse_values
    from iclab.resources import check_grid, check_memory
    from iclab.theory import mahankali2023 as th
    from iclab.validation import check_choice, check_int

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
    priors = list(th.PRIORS) if prior == "both" else [prior]
    rows = []
    for nv in ns:
        for s2 in s2s:
            nv, s2 = int(nv), float(s2)
            row = {"d": d, "n": nv, "sigma2": s2, "eta_star": th.eta_star(nv, d, s2),
                   "min_loss_noisy": th.min_loss(nv, d, s2), "min_loss_clean": th.min_loss(nv, d, s2, target="clean")}
            if sigma_mat is not None:
                for p in priors:
                    g = th.preconditioner(sigma_mat, nv, s2, p)
                    row[p] = {"preconditioner": g.tolist(), "eigenvalues": np.linalg.eigvalsh(g).tolist(),
                              "min_loss_noisy": th.preconditioned_min_loss(sigma_mat, nv, s2, p),
                              "min_loss_clean": th.preconditioned_min_loss(sigma_mat, nv, s2, p, target="clean")}
            rows.append(row)
    return {"cov": None if sigma_mat is None else sigma_mat.tolist(), "rows": rows}


@theory_app.command("mahankali2023")
def mahankali2023_command(
    d: int = typer.Option(None, help="input dimension (≥ 1; implied by a matrix --cov)"),
    n: str = typer.Option(..., help=f"context length (integer ≥ 1): {_GRAMMAR}"),
    sigma2: str = typer.Option("0", help="label-noise variance (≥ 0)"),
    cov: str = typer.Option(None, help="covariance Σ of x (symmetric positive definite): a number (c·I), a list "
                                       "(diagonal), a list of lists, or cond:K (condition number K, rotated)"),
    prior: str = typer.Option("both", help="task prior with --cov: inverse (w ~ N(0, Σ⁻¹), the paper's), "
                                           "identity (w ~ N(0, I), Ahn et al. / ZFB), or both"),
    format: str = typer.Option("table", "--format", help="table | json"),
) -> None:
    """Mahankali et al. 2023: optimal step eta* = n/(n+d+1+σ²), preconditioner and minimal loss of 1-layer LSA.

    Losses are E(ŷ - y_q)² without ½, against the noisy target (and the clean one, σ² less).
    """
    import sys

    import numpy as np

    from iclab.validation import check_choice

    check_choice("format", format, ("table", "json"))
    report = mahankali_report(d, n, sigma2, cov, prior)
    if format == "json":
        import json

        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.width = max(console.width, 100)
    table = Table(title="Mahankali et al. 2023: optimal 1-layer LSA = one GD step")
    cols = ("d", "n", "sigma2", "eta_star", "min_loss_noisy", "min_loss_clean")
    for c in cols:
        table.add_column(c, justify="right", no_wrap=True)
    for r in report["rows"]:
        table.add_row(*(f"{r[c]:.6g}" for c in cols))
    console.print(table)
    if report["cov"] is None:
        console.print("preconditioner: eta* I (isotropic x); pass --cov for x ~ N(0, Σ)")
        return
    with np.printoptions(precision=5, suppress=True, linewidth=120):
        console.print(f"Σ =\n{np.asarray(report['cov'])}", highlight=False)
        names = {"inverse": "w ~ N(0, Σ⁻¹): eta* Σ⁻¹", "identity": "w ~ N(0, I): ((n+1)/n Σ + (tr Σ + σ²)/n I)⁻¹"}
        for r in report["rows"]:
            for p in ("inverse", "identity"):
                if p in r:
                    q = r[p]
                    console.print(f"\nn={r['n']} sigma2={r['sigma2']:g}, {names[p]}\n"
                                  f"{np.asarray(q['preconditioner'])}\neigenvalues {np.asarray(q['eigenvalues'])}\n"
                                  f"min loss {q['min_loss_noisy']:.6g} (noisy target), "
                                  f"{q['min_loss_clean']:.6g} (clean)", highlight=False)
