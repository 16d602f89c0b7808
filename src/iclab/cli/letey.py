"""``iclab theory letey2025``: the structured-covariance theory of Letey et al. 2025 on a parameter grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from iclab.cli.apps import theory_app
from iclab.cli.options import format_option, lu_option, values_option
from iclab.cli.output import print_rows
from iclab.grid import parse_values
from iclab.validation import UserInputError, check_int, check_positive

_COV = ("iso, pl:P, revpl:P, piano, lowrank:R, spike:F:J (J 1-based), or a .npy/.txt file holding a spectrum (d,) "
        "or a symmetric PSD matrix (d, d)")
LETEY_COLUMNS = ("test", "tau", "alpha", "kappa", "rho", "lam", "alpha_test", "e_icl", "e_idg", "e_bias",
                 "e_misalign", "lambda_tilde")


def load_cov(name: str, text: str, d: int | None):
    """A covariance argument: a family name (needs d) or a file (.npy, or text readable by ``numpy.loadtxt``).

    Returns a spectrum (d,) or a matrix (d, d) as float64; checks of symmetry, PSD and trace happen in the theory.
    """
    from iclab.theory.letey2025 import FAMILIES, family_from_spec

    head = text.strip().split(":", 1)[0].lower()
    if head in FAMILIES:
        if d is None:
            raise UserInputError(f"--d must be given with --{name} {text} (got none)")
        return family_from_spec(text, d)
    path = Path(text)
    if not path.is_file():
        raise UserInputError(f"--{name} must be {_COV} (got {text!r}, which is no family and no file)")
    try:
        arr = np.load(path, allow_pickle=False) if path.suffix == ".npy" else np.loadtxt(path, ndmin=1)
        arr = np.asarray(arr, dtype=float)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise UserInputError(f"--{name} file {text} is not a numeric array: {str(e).splitlines()[0]}") from None
    if arr.ndim not in (1, 2):
        raise UserInputError(f"--{name} file {text} must hold a spectrum (d,) or a matrix (d, d) "
                             f"(got shape {arr.shape})")
    if d is not None and arr.shape[0] != d:
        raise UserInputError(f"--{name} file {text} must have size d = {d} (got {arr.shape[0]})")
    return arr


def letey2025_rows(d: int | None, train: str, tests: list[str], tau: str, alpha: str, kappa: str, rho: str,
                   lam: str = "0", alpha_test: str | None = None) -> list[dict]:
    """Evaluate the theory for every test on the cartesian grid of (τ, α, κ, ρ, λ) × α_test (default α_test = α);
    one solve serves all tests and α_test values. One dict per row, keyed by :data:`LETEY_COLUMNS`."""
    from iclab.theory import letey2025 as th

    if d is not None:
        d = check_int("d", d, lo=2)
    c_train = load_cov("train", train, d)
    train_spec = th.train_spectrum(c_train)
    d = train_spec.d
    projected = [(t, th.project_test(train_spec, load_cov("test", t, d))) for t in tests]
    axes = [parse_values(name, text) for name, text in
            (("tau", tau), ("alpha", alpha), ("kappa", kappa), ("rho", rho), ("lam", lam))]
    grid = [g.ravel() for g in np.meshgrid(*axes, indexing="ij")]
    sol = th.solve(train_spec, *grid)
    ats = None if alpha_test is None else check_positive("alpha_test", parse_values("alpha_test", alpha_test))
    rows = []
    for name, pt in projected:
        for at in ([None] if ats is None else ats):
            e = th.errors(sol, pt, at)
            at_col = sol.alpha if at is None else np.full(sol.alpha.shape, at)
            cols = (*grid, at_col, e["e_icl"], sol.e_idg, e["e_bias"], e["e_misalign"], sol.lambda_tilde)
            rows.extend({"test": name, **dict(zip(LETEY_COLUMNS[1:], map(float, vals), strict=True))}
                        for vals in zip(*cols, strict=True))
    return rows


@theory_app.command("letey2025")
def letey2025_command(
    d: int = typer.Option(None, help="dimension (≥ 2; implied by a file --train)"),
    train: str = typer.Option(..., help=f"pretraining task covariance C_train: {_COV}"),
    test: list[str] = typer.Option(..., help="test task covariance C_test (same forms; repeat for several)"),
    tau: str = lu_option("tau"),
    alpha: str = lu_option("alpha"),
    kappa: str = lu_option("kappa"),
    rho: str = lu_option("rho"),
    lam: str = lu_option("lam", "0"),
    alpha_test: str = values_option("test context length ℓ_test/d (> 0; default α)", None),
    format: str = format_option(),
) -> None:
    """Letey et al. 2025: asymptotic ICL error under pretrain–test task covariance mismatch (and IDG).

    e_icl = e_bias + e_misalign; e_idg does not depend on the test. Only the diagonal of C_test in the eigenbasis
    of C_train matters. Rows: for each test, the grid of (tau, alpha, kappa, rho, lam) times alpha_test.
    """
    rows = letey2025_rows(d, train, test, tau, alpha, kappa, rho, lam, alpha_test)
    print_rows(rows, LETEY_COLUMNS, format, title=f"Letey et al. 2025 structured theory, train {train}",
               exact=("test",))
