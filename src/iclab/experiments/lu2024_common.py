"""Shared pieces of the Lu et al. 2024 Figures 1–4 (``papers/lu2024.md`` §7): settings with ``--set`` overrides,
one ``compute`` for every point kind, simulation statistics, the sim-vs-theory agreement table, and plot helpers.

Point kinds (``config["kind"]``):

- ``theory``: one closed-form curve; ``axis`` (tau, alpha or kappa) runs over ``grid`` (the CLI value grammar,
  e.g. ``"log:0.08:100:300"``), the other parameters are fixed. Metrics are lists: ``curve_x``, ``curve_icl``,
  ``curve_idg``, ``curve_gtask`` (and ``alpha_star_icl``/``alpha_star_idg`` when the axis is alpha).
- ``map``: the Figure 3 non-monotonicity map, metric ``index`` (flat, κ-major).
- ``gamma``: one finite-d run of Γ* (:func:`iclab.solvable.simulate_point`), metrics ``e_icl``, ``e_idg``.
- ``dmmse``: one run of the dMMSE estimator (:func:`iclab.estimators.dmmse_point`).

Configs are JSON: κ = inf is written as the string ``"inf"``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from iclab.experiments.figures import agreement_frame, agreement_row, pyplot, save_figure
from iclab.validation import UserInputError, check_int, check_positive

PALETTE = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161")  # seaborn "colorblind"
PARAMS = ("tau", "alpha", "kappa", "rho", "lam")


# --------------------------------------------------------------------------------------------------------------
# settings


def settings(defaults: dict[str, dict[str, Any]], scale: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The ``scale`` column of a figure's settings with the user's ``--set`` overrides applied.

    Unknown keys raise ``ValueError``; values are coerced to the default's type (int, float, or list of them,
    given as a YAML list or in the CLI value grammar).
    """
    out = dict(defaults[scale])
    unknown = sorted(set(overrides) - set(out))
    if unknown:
        raise UserInputError(f"--set key must be one of {', '.join(sorted(out))} (got {unknown[0]!r})")
    for key, value in overrides.items():
        out[key] = _coerce(key, value, out[key])
    return out


def _coerce(key: str, value, default):
    if isinstance(default, bool) or isinstance(value, bool):
        raise UserInputError(f"{key} must be a number (got {value!r})")
    if isinstance(default, int):
        return check_int(key, value, lo=1)
    if isinstance(default, float):
        return float(check_positive(key, value))
    if isinstance(default, list):
        from iclab.grid import parse_values

        vals = value if isinstance(value, list) else parse_values(key, str(value)).tolist()
        vals = [float(check_positive(key, v, allow_inf=True)) for v in vals]
        if not vals:
            raise UserInputError(f"{key} must be a non-empty list")
        return vals
    raise UserInputError(f"{key} cannot be overridden")


def kappa_value(kappa) -> float:
    """κ from a config: the string "inf" means fresh tasks."""
    return math.inf if isinstance(kappa, str) and kappa.strip().lower() == "inf" else float(kappa)


def kappa_config(kappa: float):
    return "inf" if math.isinf(kappa) else float(kappa)


# --------------------------------------------------------------------------------------------------------------
# compute


def compute(config: dict[str, Any], seed: int) -> dict[str, Any]:
    """Metrics of one (point, seed) of a Figure 1–4 sweep; dispatches on ``config["kind"]`` (module docstring)."""
    kind = config.get("kind")
    if kind == "theory":
        return _theory_curve(config)
    if kind == "map":
        return _theory_map(config)
    if kind == "gamma":
        from iclab.solvable import simulate_point

        return simulate_point(config, seed)
    if kind == "dmmse":
        from iclab.estimators import dmmse_point

        return dmmse_point(config, seed)
    raise UserInputError(f"kind must be one of theory, map, gamma, dmmse (got {kind!r})")


def _theory_curve(config):
    from iclab.grid import parse_values
    from iclab.theory import lu2024

    axis = config["axis"]
    x = parse_values(axis, config["grid"])
    p = {k: (kappa_value(config[k]) if k == "kappa" else float(config[k])) for k in PARAMS if k != axis}
    p[axis] = x
    if "tau_per_alpha" in config:  # Fig 4: τ = cα along an α or κ axis
        p["tau"] = float(config["tau_per_alpha"]) * np.asarray(p["alpha"])
    out = lu2024.evaluate(**p)
    metrics = {"curve_x": x, "curve_icl": out["e_icl"], "curve_idg": out["e_idg"], "curve_gtask": out["g_task"]}
    if axis == "alpha":
        lo, hi = float(x.min()), float(x.max())
        for which in ("icl", "idg"):
            a, _ = lu2024.alpha_star(p["tau"], p["kappa"], p["rho"], p["lam"], which, alpha_min=lo, alpha_max=hi)
            metrics[f"alpha_star_{which}"] = None if np.isnan(a) else float(a)
    return {k: (np.asarray(v).tolist() if not (v is None or isinstance(v, float)) else v) for k, v in metrics.items()}


def _theory_map(config):
    from iclab.theory import lu2024

    kappa, rho, alpha = map(np.asarray, map_axes(config))
    idx = lu2024.nonmonotone_map(float(config["tau"]), kappa, rho, alpha, which=config["which"],
                                 lam=float(config.get("lam", 0.0)), tol=float(config["tol"]))
    return {"index": idx.ravel().tolist()}


def map_axes(config) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(κ grid, ρ grid, α grid) of a ``map`` point (§7.3: linspace κ, linspace ρ, logspace α)."""
    from iclab.grid import parse_values

    return (parse_values("kappa", config["kappa_grid"]), parse_values("rho", config["rho_grid"]),
            parse_values("alpha", config["alpha_grid"]))


# --------------------------------------------------------------------------------------------------------------
# tables


def rows_of(df, kind: str):
    """The rows of one point kind (empty frame if none, e.g. theory-only runs or failed simulations)."""
    if df is None or len(df) == 0 or "kind" not in df.columns:
        return df.iloc[0:0] if df is not None else None
    return df[df["kind"] == kind]


def sim_stats(df, metrics: tuple[str, ...], kind: str = "gamma"):
    """Mean, std (ddof 1), sem and count over seeds of each simulated point; κ as float (inf for fresh tasks).

    Returns a DataFrame with the config columns present (d, tau, alpha, kappa, rho, lam, n_test) and
    ``{m}_mean, {m}_std, {m}_sem, n`` per metric; empty if there are no rows of ``kind``.
    """
    import pandas as pd

    sim = rows_of(df, kind)
    if sim is None or len(sim) == 0:
        return pd.DataFrame()
    sim = sim.copy()
    if "g_task" in metrics:  # Γ* runs report e_icl and e_idg; the column may exist from other kinds' rows
        gap = sim["e_icl"].astype(float) - sim["e_idg"].astype(float)
        sim["g_task"] = sim["g_task"].astype(float).fillna(gap) if "g_task" in sim.columns else gap
    sim["kappa"] = sim["kappa"].map(kappa_value)
    keys = [k for k in ("d", "tau", "alpha", "kappa", "rho", "lam", "n_test") if k in sim.columns]
    sim[keys] = sim[keys].apply(pd.to_numeric)
    g = sim.groupby(keys, dropna=False)
    out = g.size().rename("n").to_frame()
    for m in metrics:
        vals = g[m].agg(["mean", "std"]).astype(float)
        out[f"{m}_mean"] = vals["mean"]
        out[f"{m}_std"] = vals["std"].fillna(0.0)
        out[f"{m}_sem"] = vals["std"] / np.sqrt(out["n"])
    return out.reset_index()


def agreement_table(df, metrics: tuple[str, ...] = ("e_icl", "e_idg")):
    """Simulation vs asymptotic theory at each simulated Γ* point: quantity, sim_mean, sim_sem, theory, z.

    The theory uses the simulation's own (τ, α, κ, ρ, λ); z = (sim_mean − theory)/sim_sem (NaN for one seed).
    Finite-d bias is expected near τ = 1 (§7.1: up to ~15% at d = 100).
    """
    from iclab.theory import lu2024

    st = sim_stats(df, metrics)
    if st.empty:
        return agreement_frame([])
    lam = st["lam"] if "lam" in st else 0.0
    th = lu2024.evaluate(st["tau"].to_numpy(), st["alpha"].to_numpy(), st["kappa"].to_numpy(),
                         st["rho"].to_numpy(), np.asarray(lam, dtype=float))
    rows = []
    for i, r in st.iterrows():
        where = ", ".join(f"{k}={r[k]:g}" for k in ("d", "tau", "alpha", "kappa", "rho", "lam") if k in st)
        rows += [agreement_row(f"{m} ({where})", r[f"{m}_mean"], r[f"{m}_sem"], float(np.atleast_1d(th[m])[i]))
                 for m in metrics]
    return agreement_frame(rows)


def gtask_agreement(df):
    """Γ* simulations vs the asymptotic theory (e_ICL, e_IDG and g_task) at the same (τ, α, κ, ρ, λ)."""
    return agreement_table(df, ("e_icl", "e_idg", "g_task"))


# --------------------------------------------------------------------------------------------------------------
# plotting


def new_figure(n_panels: int, width: float = 5.0, height: float = 4.2):
    fig, axes = pyplot().subplots(1, n_panels, figsize=(width * n_panels, height), squeeze=False)
    return fig, list(axes[0])


def finite(x, y):
    """x, y as float arrays with non-finite y (the ridgeless divergence at τ = 1) masked out for plotting."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(y)
    return x[ok], y[ok]


def save(fig, out_dir: Path, name: str, records: list[dict[str, Any]]) -> list[Path]:
    """Write ``name.png`` and ``name.csv`` (one row per plotted point) into ``out_dir``; returns both paths."""
    return save_figure(fig, records, out_dir, name, dpi=110)


def curve_records(panel: str, series: str, x_name: str, x, y, **extra) -> list[dict[str, Any]]:
    return [{"panel": panel, "series": series, "source": "theory", "x_name": x_name, "x": float(a), "y": float(b),
             "yerr": math.nan, **extra} for a, b in zip(x, y, strict=True)]


def sim_records(panel: str, series: str, x_name: str, x, y, yerr, source: str = "simulation", **extra):
    return [{"panel": panel, "series": series, "source": source, "x_name": x_name, "x": float(a), "y": float(b),
             "yerr": float(e), **extra} for a, b, e in zip(x, y, yerr, strict=True)]


def sim_errorbars(ax, s, panel: str, series: str, x_name: str, metric: str, color) -> list[dict[str, Any]]:
    """Draw the simulated points ``s`` (rows of :func:`sim_stats`) as mean ± std of ``metric`` against ``x_name``;
    returns their CSV records."""
    mean, std = s[f"{metric}_mean"], s[f"{metric}_std"]
    ax.errorbar(s[x_name], mean, yerr=std, fmt="o", color=color, ms=5, capsize=3)
    return sim_records(panel, series, x_name, s[x_name], mean, std, metric=metric, d=int(s["d"].iloc[0]))


def gtask_axes(ax, title: str):
    """The g_task-against-κ axes of Figure 4: log κ, the red dotted line at κ = 1, labels and legend."""
    ax.axvline(1.0, color="red", ls=":", lw=1.5)
    ax.set_xscale("log")
    ax.set_xlabel("κ = k / d")
    ax.set_ylabel("g_task = e_ICL − e_IDG")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=9)
