"""The explorer's state (:class:`View`) and the curves it shows, computed by :mod:`iclab.theory.lu2024`.

A view fixes the x-axis variable (τ, α or κ), its range and the other parameters; :func:`curves` evaluates on
the x grid, in one vectorised call each:

- e_ICL, e_IDG and g_task of Γ* (Lu et al. 2025, §4 and the asymptotic formulas of §5);
- two references that do not depend on τ or κ: the Bayes-optimal ridge estimator (§6.2) and one step of
  gradient descent at its optimal step (the κ, τ → ∞ limit of Γ*, §5.6);
- the optimal context length α* and its error e* at the current τ, κ, ρ, λ (§7.2).

With a structured train or test task covariance (the families of Letey et al. 2025, §1), the curves come from
:mod:`iclab.theory.letey2025` instead (e_ICL = e_bias + e_misalign, §3.5; e_IDG, §3.4); the two references and
α* are those of isotropic tasks, so they are not shown then.

The x grid is exactly the one of the printed ``iclab theory lu2024`` command (same value grammar), so the page
and the command line show the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache

import numpy as np

from iclab.grid import parse_values
from iclab.theory import letey2025, lu2024
from iclab.validation import UserInputError, check_choice, check_int, check_real

AXES = ("tau", "alpha", "kappa")
LOG_AXES = ("alpha", "kappa")  # the papers draw α and κ on log axes, τ on a linear one (Lu et al. Figs 1, 2, 4)
MAX_POINTS = 5000              # a curve of the page; more is never drawn and would only slow the round trip
MAX_DIM = 4000                 # spectra of the covariance families; the structured theory costs O(n · d)


@dataclass(frozen=True)
class View:
    """What the page shows. κ = inf means a fresh task per context; λ = 0 is the ridgeless limit."""

    x: str = "tau"           #: the x-axis variable: tau, alpha or kappa
    x_min: float = 0.02      #: left end of the x range (> 0)
    x_max: float = 3.0       #: right end of the x range (> x_min)
    n: int = 400             #: points per curve, in [2, MAX_POINTS]
    tau: float = 0.5         #: pretraining contexts per parameter, n/d² (> 0)
    alpha: float = 10.0      #: context length per dimension, ℓ/d (> 0)
    kappa: float = 0.5       #: task-pool size per dimension, k/d (> 0, inf allowed)
    rho: float = 0.01        #: label-noise variance (>= 0)
    lam: float = 0.0         #: ridge λ of the pretraining regression (>= 0; 0 = ridgeless)
    train: str = "iso"       #: pretraining task covariance (Letey et al. 2025 §1: iso, pl:P, revpl:P, piano, ...)
    test: str = "iso"        #: test task covariance, same forms
    dim: int = 100           #: the dimension at which the covariance families' spectra are built

    def __post_init__(self):
        check_choice("x", self.x, AXES)
        check_real("x_min", self.x_min, lo=0.0, lo_open=True)
        check_real("x_max", self.x_max, lo=self.x_min, lo_open=True)
        check_int("n", self.n, lo=2, hi=MAX_POINTS)
        check_real("tau", self.tau, lo=0.0, lo_open=True)
        check_real("alpha", self.alpha, lo=0.0, lo_open=True)
        check_real("kappa", self.kappa, lo=0.0, lo_open=True, allow_inf=True)
        check_real("rho", self.rho, lo=0.0)
        check_real("lam", self.lam, lo=0.0)
        check_int("dim", self.dim, lo=2, hi=MAX_DIM)
        if self.structured:
            self.spectra()  # a malformed family is an input error now, not at evaluation

    @property
    def structured(self) -> bool:
        return not (self.train == "iso" and self.test == "iso")

    def spectra(self) -> tuple[np.ndarray, np.ndarray]:
        """(C_train, C_test) spectra of size ``dim`` (Letey et al. 2025, §1)."""
        return (letey2025.family_from_spec(self.train, self.dim), letey2025.family_from_spec(self.test, self.dim))

    def grid_text(self) -> str:
        """The x grid in the CLI's value grammar: ``log:a:b:n`` on log axes, ``a:b:n`` on τ."""
        body = f"{self.x_min!r}:{self.x_max!r}:{self.n}"
        return f"log:{body}" if self.x in LOG_AXES else body

    def command(self) -> str:
        """The ``iclab theory lu2024`` (or ``letey2025``, with structured covariances) command that prints the same
        curves."""
        value = lambda k: self.grid_text() if k == self.x else _fmt(getattr(self, k))
        head = (f"iclab theory letey2025 --d {self.dim} --train {self.train} --test {self.test} " if self.structured
                else "iclab theory lu2024 ")
        return head + " ".join(f"--{k} {value(k)}" for k in ("tau", "alpha", "kappa", "rho", "lam"))

    def to_query(self) -> dict[str, str]:
        return {k: _fmt(v) for k, v in asdict(self).items()}


def _fmt(v) -> str:
    if isinstance(v, float):
        return "inf" if math.isinf(v) else repr(v)
    return str(v)


def view_from_query(query: Mapping[str, str | list[str]], base: View = View()) -> View:
    """A :class:`View` from URL query parameters (unknown keys are an error; missing ones keep ``base``)."""
    known = {f.name: f.type for f in fields(View)}
    changes = {}
    for key, raw in query.items():
        if isinstance(raw, list):
            raw = raw[-1]
        if key not in known:
            raise UserInputError(f"parameter must be one of {', '.join(known)} (got {key!r})")
        if key in ("x", "train", "test"):
            changes[key] = raw
        elif key in ("n", "dim"):
            try:
                changes[key] = int(raw)
            except ValueError:
                raise UserInputError(f"{key} must be an integer (got {raw!r})") from None
        else:
            try:
                changes[key] = float(raw)
            except ValueError:
                raise UserInputError(f"{key} must be a number (got {raw!r})") from None
    return replace(base, **changes)


def _json_list(a) -> list[float | None]:
    """JSON has no NaN or inf: a point where a curve diverges (ridgeless τ = 1) is None, a gap in the plot."""
    a = np.asarray(a, dtype=float)
    return [float(v) if math.isfinite(v) else None for v in a]


@lru_cache(maxsize=4096)
def _alpha_star(tau: float, kappa: float, rho: float, lam: float) -> tuple[float | None, float | None]:
    """α* and e* (None when e_ICL is monotone in α): cached, because moving the α slider or the x range leaves them
    unchanged, and one search costs about 60 vectorised evaluations."""
    a, e = lu2024.alpha_star(tau, kappa, rho, lam)
    return (float(a), float(e)) if np.isfinite(a) else (None, None)


def curves(view: View) -> dict:
    """Every number the page draws for ``view`` (JSON-ready).

    Returns ``{"x", "e_icl", "e_idg", "g_task", "bayes", "gd"}`` as lists over the x grid (None where a curve
    diverges, and for the isotropic references with structured covariances), ``alpha_star`` / ``e_star`` (None
    when e_ICL is monotone in α on [1e-2, 1e4], or with structured covariances), ``structured``, ``command`` and
    the view itself.
    """
    x = parse_values(view.x, view.grid_text())
    p = {k: getattr(view, k) for k in ("tau", "alpha", "kappa", "rho", "lam")}
    p[view.x] = x
    if view.structured:
        c_train, c_test = view.spectra()
        out = letey2025.evaluate(c_train, c_test, **p)
        out["g_task"] = out["e_icl"] - out["e_idg"]
        bayes = gd = np.full(x.shape, np.nan)
        a_star = e_star = None
    else:
        out = lu2024.evaluate(**p)
        alpha = np.broadcast_to(p["alpha"], x.shape)
        bayes = np.broadcast_to(lu2024.e_bayes_ridge(alpha, view.rho), x.shape)
        gd = np.broadcast_to(lu2024.e_gd(alpha, view.rho), x.shape)
        a_star, e_star = _alpha_star(view.tau, view.kappa, view.rho, view.lam)
    return {"x": _json_list(x), "e_icl": _json_list(out["e_icl"]), "e_idg": _json_list(out["e_idg"]),
            "g_task": _json_list(out["g_task"]), "bayes": _json_list(bayes), "gd": _json_list(gd),
            "alpha_star": a_star, "e_star": e_star, "structured": view.structured, "command": view.command(),
            "view": view.to_query()}
