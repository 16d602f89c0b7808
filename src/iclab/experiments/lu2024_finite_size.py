"""Finite-size scaling of the Lu et al. 2024 theory: Γ* simulated at a ladder of d, extrapolated in 1/d.

The theory of Lu et al. 2024 is a d → ∞ limit; every finite-d simulation of it sits above the curves by an excess
that shrinks with d (the authors' own d = 100 means of Fig. 1 miss their theory by +5.9 to +6.2% at τ = 1.5–2).
Here each point of the Figure 1 grid (τ, α at κ = 0.5, ρ = 0.01, λ = 1e-5, plus κ = ∞ at α = 10) is simulated at
every d of a ladder, the excess simulation − theory(realised ℓ/d, k/d, n/d²) is fitted in powers of 1/d
(:mod:`iclab.solvable.finite_size`), and the intercept gives e_∞ ± SE, to compare with the nominal d → ∞ theory.

Runs per (point, d) are sized so that each mean's standard error is ``target_se`` of its value: the run-to-run
relative spread of Γ*'s errors falls as c/d (measured, :data:`SPREAD`), so R(d) = (c / (target_se d))², fewer at
large d. Runs are computed in batches (one sweep task = ``batch`` consecutive seeds, metric = their mean); each
d's standard error is measured from the spread of its batch means, and the fit weighs the d by the SE of one
spread c/d pooled over the point's ladder (:func:`iclab.solvable.finite_size.pooled_se`).

Paper scale continues the ladder to d = 192 and 256 where one (point, d) cell costs at most ``cell_budget`` CPU
seconds by :func:`run_seconds` (64 min on 2 cores, measured), and adds α = 100 and τ ∈ {0.85, 1.15}.

Outputs: ``lu2024-finite-size.png``, ``lu2024-finite-size.csv`` (one row per point and metric: e_inf, e_inf_se,
theory, rel_dev, z, the fit), ``lu2024-finite-size-ladder.csv`` (one row per point, metric and d) and
``claims.json`` (|e_∞ − theory|/theory ≤ 1% and within 3 SE at ≥ 90% (quick) / 95% (paper) of the points with
τ ∉ [0.8, 1.25]).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from iclab.claims import Claim, in_range
from iclab.experiment import Experiment, Point
from iclab.experiments import lu2024_common as C
from iclab.experiments.figures import agreement_frame, agreement_row, pyplot
from iclab.experiments.solvable_points import simulate_point
from iclab.settings import from_json_number, json_number, param
from iclab.solvable import realised_ratios
from iclab.solvable.finite_size import extrapolate, pooled_se
from iclab.solvable.solve import MEM_LIMIT
from iclab.theory import lu2024
from iclab.validation import UserInputError

KAPPA, RHO, LAM, ALPHA_FRESH = 0.5, 0.01, 1e-5, 10.0
METRICS = ("e_icl", "e_idg")
EXCLUDED = (0.8, 1.25)  # τ window near the interpolation threshold left out of the acceptance criterion
REL_TOL, N_SE = 0.01, 3.0

# Run-to-run relative std × d of Γ*'s errors (its spread falls as 1/d), max over e_ICL and e_IDG, rounded up to
# 0.1. The κ = 0.5 points at α ∈ {1, 10} and the κ = ∞ points: RMS over d ∈ {32, 48, 64, 96, 128} of the idle quick
# run (16 batch means per d, 368–19,040 runs per d), e.g. τ = 0.5, α = 10: ICL 1.03, IDG 2.57 (the IDG error spreads
# more: the pool of k = d/2 tasks is drawn afresh each run). α = 100: 3–10 runs each at d ∈ {32, 64, 128}.
# Keys (τ, α, κ); points not listed (near τ = 1) use SPREAD_DEFAULT.
SPREAD = {
    (0.2, 1.0, KAPPA): 1.2, (0.5, 1.0, KAPPA): 1.5, (1.5, 1.0, KAPPA): 1.9, (2.0, 1.0, KAPPA): 1.2,
    (0.2, 10.0, KAPPA): 2.0, (0.5, 10.0, KAPPA): 2.6, (1.5, 10.0, KAPPA): 1.9, (2.0, 10.0, KAPPA): 1.7,
    (0.2, 100.0, KAPPA): 2.9, (0.5, 100.0, KAPPA): 5.2, (1.5, 100.0, KAPPA): 3.7, (2.0, 100.0, KAPPA): 2.5,
    (0.2, 10.0, math.inf): 0.6, (0.5, 10.0, math.inf): 1.0, (1.5, 10.0, math.inf): 1.8, (2.0, 10.0, math.inf): 1.1,
}
SPREAD_DEFAULT = 3.0


@dataclass(frozen=True)
class Settings:
    """The ladder, the grid and the run sizing of one scale. ``ds`` is kept sorted and without repeats."""

    scale: str = param("quick", choices=("quick", "paper"),
                       doc="the scale's name, written into every config (part of its hash) and the figure title")
    ds: tuple[int, ...] = param((16, 24, 32, 48, 64, 96, 128), lo=2, doc="the ladder of token dimensions d")
    taus: tuple[float, ...] = param((0.2, 0.5, 1.5, 2.0), lo=0, lo_open=True,
                                    doc="τ = n/d² of the Figure 1 grid (κ = 0.5 at each α; and κ = ∞ at α = 10)")
    alphas: tuple[float, ...] = param((1.0, 10.0), lo=0, lo_open=True, doc="α = ℓ/d at κ = 0.5")
    near_taus: tuple[float, ...] = param((), lo=0, lo_open=True,
                                         doc="τ near the threshold (α = 10, κ = 0.5), reported but not counted")
    target_se: float = param(0.003, lo=0, lo_open=True, doc="relative standard error aimed at for each d's mean")
    min_runs: int = param(8, lo=1, doc="fewest runs per (point, d) (the SE estimate needs some)")
    max_runs: int = param(8000, lo=1, doc="most runs per (point, d) (caps the cheap small-d ladders)")
    batches: int = param(16, lo=1,
                         doc="sweep tasks per (point, d); each runs ⌈runs / batches⌉ seeds and stores their mean")
    rtol: float = param(1e-6, lo=0, lo_open=True, hi=1e-3,
                        doc="relative residual of each CG solve of Γ* (τ > 1): 1e-6 moves the errors by ≤ 2e-5 of "
                            "their value against 1e-8 (measured, d = 64–128, τ = 1.15–2), 150× below target_se, "
                            "and costs 25–33% less")
    cell_budget: float = param(math.inf, lo=0, lo_open=True, allow_inf=True,
                               doc="CPU seconds (cost model) one (point, d) cell may take; a dearer cell is left "
                                   "out, so that point's ladder stops at a smaller d (inf: every d)")

    def __post_init__(self):
        object.__setattr__(self, "ds", tuple(sorted(set(self.ds))))
        if len(self.ds) < 2:
            raise UserInputError(f"ds must hold at least 2 dimensions to extrapolate (got {list(self.ds)})")
        if self.min_runs > self.max_runs:
            raise UserInputError(f"min_runs must be <= max_runs = {self.max_runs} (got {self.min_runs})")


# the defaults are the quick scale; paper continues the ladder to d = 192 and 256 where a cell fits 400 CPU-s, and
# adds α = 100 and τ near 1 as far as that allows: 65 min on 2 cores by the cost model, 64 min measured (budget 90)
SETTINGS = {"quick": Settings(),
            "paper": Settings(scale="paper", ds=(16, 24, 32, 48, 64, 96, 128, 192, 256), alphas=(1.0, 10.0, 100.0),
                              near_taus=(0.85, 1.15), batches=8, cell_budget=400.0)}


def runs_at(spread: float, d: int, s: Settings) -> tuple[int, int]:
    """(batches, runs per batch) for a point of relative spread ``spread``/d: R = (spread / (target_se d))²
    runs, clipped to [min_runs, max_runs], split into at most ``s.batches`` batches."""
    runs = min(s.max_runs, max(s.min_runs, math.ceil((spread / (s.target_se * d)) ** 2)))
    batches = min(s.batches, runs)
    return batches, math.ceil(runs / batches)


def grid(s: Settings) -> list[tuple[float, float, float]]:
    """The (τ, α, κ) points: the grid, κ = ∞ at α = 10, then the near-threshold τ."""
    pts = [(t, a, KAPPA) for a in s.alphas for t in s.taus]
    pts += [(t, ALPHA_FRESH, math.inf) for t in s.taus]
    pts += [(t, ALPHA_FRESH, KAPPA) for t in s.near_taus if (t, ALPHA_FRESH, KAPPA) not in pts]
    return pts


def points(s: Settings, theory_only: bool) -> list[Point]:
    out = []
    # d outermost: the pool runs the whole grid at small d first, so an interrupted run (the store keeps what
    # finished) still extrapolates every point, from a shorter ladder
    for d in s.ds:
        for tau, alpha, kappa in grid(s):
            batches, batch = runs_at(SPREAD.get((tau, alpha, kappa), SPREAD_DEFAULT), d, s)
            if batches * batch * run_seconds(d, tau, s.rtol) > s.cell_budget:
                continue
            out.append(Point({"kind": "gamma-batch", "scale": s.scale, "d": d, "tau": tau, "alpha": alpha,
                              "kappa": json_number(kappa), "rho": RHO, "lam": LAM, "rtol": s.rtol,
                              "batch": batch}, seeds=batches))
    return out


def compute(config: dict[str, Any], seed: int) -> dict[str, Any]:
    """Mean e_ICL and e_IDG of ``config["batch"]`` Γ* runs, seeds seed·batch .. seed·batch + batch − 1."""
    m = int(config["batch"])
    runs = [simulate_point(config, seed * m + j) for j in range(m)]
    return {"e_icl": float(np.mean([r["e_icl"] for r in runs])),
            "e_idg": float(np.mean([r["e_idg"] for r in runs])), "runs": m}


def run_seconds(d: int, tau: float, rtol: float = 1e-8) -> float:
    """CPU seconds of one Γ* run (sampling, solve, errors) on one core while a second worker runs beside it.

    Fitted to the per-run wall times of the idle quick run (d = 48–128) and single runs at d = 192 and 256 (× 1.1,
    the slow-down of two workers sharing memory bandwidth, measured at d = 128), within 15% from d = 64 to 256:
    - n = τd² ≤ p = d(d + 1) and the float32 kernel fits the solver's 3 GiB: the kernel form, 6.6e-12 n³ (Cholesky)
      + 1.2e-11 n² d (the kernel), e.g. 3.7 s at d = 128, τ = 0.5; 42 s at d = 192, τ = 0.5;
    - otherwise CG, 9.8e-10 n p (1 + √r)/(1 − √r) with r = min(n, p)/max(n, p) (iterations ∝ √cond of the
      Marchenko–Pastur bulk), × log(2/rtol)/log(2e8), e.g. 3.3 s at d = 128, τ = 2, rtol = 1e-8; 14× more for
      n < p (the ridge-regularised null space slows CG: 11.8 s against the kernel form's 3.6 at d = 128, τ = 0.5);
    - 7e-10 d⁴ (sampling the statistics, the exact errors) + 2e-3 s, and per-call overheads that matter only at
      small d (1 ms per kernel-form solve, 1 ms per CG iteration unit above), e.g. 0.031 s at d = 32, τ = 1.5."""
    n, p = tau * d * d, d * (d + 1.0)
    if n <= p and 4 * n * n <= MEM_LIMIT:
        solve = 6.6e-12 * n**3 + 1.2e-11 * n * n * d + 1e-3
    else:
        r = min(n, p) / max(n, p)
        iterations = (1 + math.sqrt(r)) / max(1 - math.sqrt(r), 1e-3) * math.log(2 / rtol) / math.log(2e8)
        solve = (9.8e-10 * n * p + 1e-3) * iterations * (14.0 if n < p else 1.0)
    return solve + 7e-10 * float(d) ** 4 + 2e-3


def cost(config: dict[str, Any]) -> float:
    """CPU seconds of one batch (:func:`run_seconds` × runs)."""
    return int(config.get("batch", 1)) * run_seconds(int(config["d"]), float(config["tau"]),
                                                     float(config.get("rtol", 1e-8)))


# --------------------------------------------------------------------------------------------------------------
# analysis


def ladder_table(df):
    """One row per (point, metric, d): mean, se (from the batch means), runs, batches, theory at the realised
    ratios (theory_d), nominal theory, excess = mean − theory_d, and se_pooled (the SE from the spread c/d pooled
    over the point's ladder, spread_c = c), which the fit uses. Empty frame without simulation rows."""
    # pandas and matplotlib are imported in the functions that use them: the sweep workers import this module for
    # ``compute`` and never need them (pandas alone: 0.9 s of each worker's start-up)
    import pandas as pd

    sim = C.rows_of(df, "gamma-batch")
    if sim is None or len(sim) == 0:
        return pd.DataFrame()
    sim = sim.copy()
    sim["kappa"] = sim["kappa"].map(from_json_number)
    keys = ["tau", "alpha", "kappa", "rho", "lam", "d"]
    sim[keys] = sim[keys].apply(pd.to_numeric)
    rows = []
    for key, g in sim.groupby(keys):
        tau, alpha, kappa, rho, lam, d = key
        rr = realised_ratios(int(d), tau, alpha, kappa)
        th_d = lu2024.evaluate(rr["tau"], rr["alpha"], rr["kappa"], rho, lam)
        th = lu2024.evaluate(tau, alpha, kappa, rho, lam)
        b = len(g)
        runs = int(g["runs"].astype(int).sum())
        for m in METRICS:
            v = g[m].astype(float).to_numpy()
            se = float(v.std(ddof=1) / math.sqrt(b)) if b > 1 else math.nan
            rows.append({"metric": m, "tau": tau, "alpha": alpha, "kappa": kappa, "rho": rho, "lam": lam,
                         "d": int(d), "runs": runs, "batches": b, "mean": float(v.mean()), "se": se,
                         "theory_d": float(th_d[m]), "theory": float(th[m]),
                         "excess": float(v.mean()) - float(th_d[m])})
    lad = pd.DataFrame(rows)
    # the SE the fit uses: one spread c/d pooled over each point's ladder (iclab.solvable.finite_size.pooled_se;
    # an SE from 8 batch means is itself off by ±25%)
    lad["se_pooled"], lad["spread_c"] = math.nan, math.nan
    for _, g in lad.groupby(["metric", "tau", "alpha", "kappa", "rho", "lam"]):
        if (g["batches"] > 1).any():
            s, c = pooled_se(g["d"], g["mean"], g["se"], g["runs"], dof=g["batches"] - 1)
            lad.loc[g.index, "se_pooled"], lad.loc[g.index, "spread_c"] = s, c
    return lad


def extrapolation_table(df):
    """One row per (point, metric): e_inf ± e_inf_se against the nominal d → ∞ theory, rel_dev = (e_inf −
    theory)/theory, z, the fit (order, chi2, dof), the ladder (ds, runs per d) and whether the point counts for the
    acceptance (outside τ ∈ [0.8, 1.25]) and meets it (|rel_dev| ≤ 1% and |z| ≤ 3)."""
    import pandas as pd  # see ladder_table

    lad = ladder_table(df)
    if lad.empty:
        return pd.DataFrame(columns=["metric", "tau", "alpha", "kappa", "rho", "lam", "e_inf", "e_inf_se",
                                     "theory"])
    rows = []
    for key, g in lad.groupby(["metric", "tau", "alpha", "kappa", "rho", "lam"], sort=False):
        g = g.sort_values("d")
        ok = np.isfinite(g["se_pooled"]) & (g["se_pooled"] > 0)
        base = dict(zip(("metric", "tau", "alpha", "kappa", "rho", "lam"), key, strict=True))
        theory = float(g["theory"].iloc[0])
        if ok.sum() < 2:
            rows.append(base | {"e_inf": math.nan, "e_inf_se": math.nan, "theory": theory})
            continue
        g = g[ok]
        ex = extrapolate(g["d"], g["mean"], g["se_pooled"], g["theory_d"], theory)
        counted = not (EXCLUDED[0] <= base["tau"] <= EXCLUDED[1])
        rows.append(base | {
            "e_inf": ex.e_inf, "e_inf_se": ex.e_inf_se, "theory": theory, "rel_dev": ex.rel_dev, "z": ex.z,
            "order": ex.fit.order, "chi2": ex.fit.chi2, "dof": ex.fit.dof, "spread_c": float(g["spread_c"].iloc[0]),
            "slope_a": float(ex.fit.coefficients[1]),
            "quad_b": float(ex.fit.coefficients[2]) if ex.fit.order == 2 else 0.0,
            "ds": " ".join(str(int(d)) for d in g["d"]), "runs": " ".join(str(int(r)) for r in g["runs"]),
            "max_d_rel_excess": float(g["excess"].iloc[-1] / theory),
            "counted": counted, "meets": bool(abs(ex.rel_dev) <= REL_TOL and abs(ex.z) <= N_SE)})
    return pd.DataFrame(rows)


def agreement(df):
    """For ``iclab report``: each e_∞ (extrapolated from the ladder) against the d → ∞ theory."""
    tab = extrapolation_table(df)
    rows = []
    for _, r in tab.iterrows():
        where = (f"τ={r['tau']:g}, α={r['alpha']:g}, κ={r['kappa']:g}, ρ={r['rho']:g}, λ={r['lam']:g}; "
                 f"e_∞ extrapolated in 1/d from d = {r.get('ds', '')} (runs {r.get('runs', '')})")
        rows.append(agreement_row(f"{r['metric']} ({where})", r["e_inf"], r["e_inf_se"], r["theory"]))
    return agreement_frame(rows)


def claims(df, scale: str) -> list[Claim]:
    tab = extrapolation_table(df)
    need = 0.95 if scale == "paper" else 0.90
    parts = []
    counted = tab[tab["counted"].astype(bool)] if "counted" in tab else tab.iloc[0:0]
    frac = float(counted["meets"].mean()) if len(counted) else None
    out = [in_range(
        "finite-size-extrapolation",
        "The d → ∞ theory of Lu et al. 2024 is the limit of the finite-d simulations: the 1/d extrapolation e_∞ of "
        "every e_ICL and e_IDG agrees with it (issue 14)",
        frac, lo=need,
        target=f"fraction of points (τ ∉ [{EXCLUDED[0]:g}, {EXCLUDED[1]:g}]) with |e_∞ − theory|/theory ≤ "
               f"{REL_TOL:.0%} and within {N_SE:g} SE >= {need:.0%} ({len(counted)} points)")]
    for _, r in tab.iterrows():
        rel_se = r["e_inf_se"] / r["theory"] if r["theory"] else math.nan
        holds = None if not np.isfinite(r["e_inf"]) else bool(r.get("meets", False))
        parts.append(Claim(
            f"{r['metric']}-tau{r['tau']:g}-alpha{r['alpha']:g}-kappa{r['kappa']:g}",
            f"{r['metric']} at τ = {r['tau']:g}, α = {r['alpha']:g}, κ = {r['kappa']:g}: (e_∞ − theory)/theory "
            f"(theory {r['theory']:.5g}, d → ∞){'' if r.get('counted', True) else '; near τ = 1, not counted'}",
            float(r.get("rel_dev", math.nan)), float(rel_se),
            f"|value| <= {REL_TOL:g} and |e_∞ − theory| <= {N_SE:g} SE", holds))
    return out + parts


# --------------------------------------------------------------------------------------------------------------
# plot

MARKERS = {"e_icl": ("o", "-", "ICL"), "e_idg": ("s", "--", "IDG")}


def _series_label(alpha, kappa):
    return f"α = {alpha:g}, κ = {'∞' if math.isinf(kappa) else f'{kappa:g}'}"


LADDER_LABEL = "mean ± SE at d (spread c/d pooled over the ladder); fit a/d [+ b/d²]"
E_INF_LABEL, THEORY_LABEL = "e_∞ ± SE (fit at 1/d = 0)", "theory d → ∞ (zero excess)"


def plot(df, out_dir: Path) -> list[Path]:
    from matplotlib.lines import Line2D  # see ladder_table

    lad, tab = ladder_table(df), extrapolation_table(df)
    taus = sorted(lad["tau"].unique()) if len(lad) else []
    ncols = 3
    nrows = -(-(len(taus) + 1) // ncols)
    fig, grid_axes = pyplot().subplots(nrows, ncols, figsize=(5.2 * ncols, 4.6 * nrows), squeeze=False)
    axes = list(grid_axes.ravel())
    for ax in axes[len(taus) + 1:]:
        ax.set_visible(False)
    axes = axes[:len(taus) + 1]
    series = sorted({(a, k) for a, k in zip(tab["alpha"], tab["kappa"], strict=True)}) if len(tab) else []
    colors = {s: C.PALETTE[i % len(C.PALETTE)] for i, s in enumerate(series)}
    for ax, tau in zip(axes, taus, strict=False):
        for (alpha, kappa), color in colors.items():
            for metric, (marker, ls, _) in MARKERS.items():
                g = lad[(lad["tau"] == tau) & (lad["alpha"] == alpha) & (lad["kappa"] == kappa)
                        & (lad["metric"] == metric)]
                t = tab[(tab["tau"] == tau) & (tab["alpha"] == alpha) & (tab["kappa"] == kappa)
                        & (tab["metric"] == metric)]
                if g.empty:
                    continue
                th = float(g["theory"].iloc[0])
                x = 1.0 / g["d"].to_numpy(float)
                # each mark carries the label of the legend entry that explains it (colour: the series; marker
                # and line style: the metric, in the proxy entries below)
                label = f"{MARKERS[metric][2]}: {LADDER_LABEL}"
                ax.errorbar(x, 100 * g["excess"] / th, yerr=100 * g["se_pooled"] / th, fmt=marker, color=color, ms=4,
                            capsize=2, mfc=color if metric == "e_icl" else "white", label=label)
                if len(t) and np.isfinite(t["e_inf"].iloc[0]):
                    r = t.iloc[0]
                    u = np.linspace(0, x.max(), 50)
                    coef = [r["e_inf"] - th, r["slope_a"], r["quad_b"]]
                    ax.plot(u, 100 * (coef[0] + coef[1] * u + coef[2] * u**2) / th, ls=ls, color=color, lw=1.2,
                            label=label)
                    ax.errorbar([0.0], [100 * r["rel_dev"]], yerr=[100 * r["e_inf_se"] / th], fmt="*",
                                color=color, ms=9, capsize=3, mfc=color if metric == "e_icl" else "white",
                                label=E_INF_LABEL)
        ax.axhline(0.0, color="black", lw=0.8, label=THEORY_LABEL)
        ax.set_title(f"τ = {tau:g}" + ("  (near threshold)" if EXCLUDED[0] <= tau <= EXCLUDED[1] else ""))
        ax.set_xlabel("1 / d")
        ax.set_ylabel("excess: (sim − theory at realised ℓ/d, k/d, n/d²) / theory  [%]", fontsize=8)
        ax.set_xlim(left=-0.003)
    handles = [Line2D([], [], color=c, lw=2, label=_series_label(a, k)) for (a, k), c in colors.items()]
    handles += [Line2D([], [], color="grey", marker=m, ls=ls, mfc="grey" if met == "e_icl" else "white",
                       label=f"{name}: {LADDER_LABEL}") for met, (m, ls, name) in MARKERS.items()]
    handles += [Line2D([], [], color="grey", marker="*", ls="", ms=9, label=E_INF_LABEL),
                Line2D([], [], color="black", lw=0.8, label=THEORY_LABEL)]
    if taus:
        axes[0].legend(handles=handles, frameon=False, fontsize=7, loc="upper left")
    _summary_panel(axes[-1], tab, colors)
    ds = sorted(lad["d"].unique()) if len(lad) else []
    scale = str(C.rows_of(df, "gamma-batch")["scale"].iloc[0]) if len(lad) else "?"
    runs = f"{lad['runs'].min()}–{lad['runs'].max()}" if len(lad) else "0"
    fig.suptitle(f"Lu et al. 2024, finite-size scaling of Γ* ({scale} scale): d ∈ {{{', '.join(map(str, ds))}}}, "
                 f"{runs} runs per (point, d); κ = {KAPPA:g} or ∞, ρ = {RHO:g}, λ = {LAM:g}", fontsize=11)
    files = C.save(fig, out_dir, "lu2024-finite-size", tab.to_dict("records"))
    path = Path(out_dir) / "lu2024-finite-size-ladder.csv"
    lad.to_csv(path, index=False)
    return [*files, path]


def _summary_panel(ax, tab, colors):
    """(e_∞ − theory)/theory ± SE for every point and metric, with the ±1% band."""
    from matplotlib.lines import Line2D  # see ladder_table
    from matplotlib.patches import Patch

    ax.axhspan(-100 * REL_TOL, 100 * REL_TOL, color="#dddddd", label=f"±{REL_TOL:.0%}")
    ax.axhline(0.0, color="black", lw=0.8, label=THEORY_LABEL)
    labels = []
    for i, (_, r) in enumerate(tab.iterrows()):
        if not np.isfinite(r["e_inf"]):
            continue
        color = colors[(r["alpha"], r["kappa"])]
        marker = MARKERS[r["metric"]][0]
        ax.errorbar([i], [100 * r["rel_dev"]], yerr=[100 * r["e_inf_se"] / r["theory"]], fmt=marker, color=color,
                    ms=5, capsize=2, mfc=color if r["metric"] == "e_icl" else "white", label=E_INF_LABEL)
        labels.append((i, f"{MARKERS[r['metric']][2]} τ={r['tau']:g} α={r['alpha']:g}"
                          f"{' κ=∞' if math.isinf(r['kappa']) else ''}"))
    ax.set_xticks([i for i, _ in labels])
    ax.set_xticklabels([t for _, t in labels], rotation=90, fontsize=6)
    ax.set_ylabel("(e_∞ − theory) / theory  [%]  (± SE)")
    ax.set_title("Summary: extrapolated e_∞ vs d → ∞ theory")
    handles, names = ax.get_legend_handles_labels()
    handles = list(dict(zip(names, handles, strict=True)).values())  # the per-point marks share one entry
    handles += [Patch(color=c, label=_series_label(a, k)) for (a, k), c in colors.items()]
    handles += [Line2D([], [], color="grey", marker=m, ls="", mfc="grey" if met == "e_icl" else "white",
                       label=f"{name}: e_∞ ± SE") for met, (m, _, name) in MARKERS.items()]
    ax.legend(handles=handles, frameon=False, fontsize=7, loc="best")


EXPERIMENT = Experiment(
    id="lu2024-finite-size", title="Lu et al. 2024: finite-size scaling of Γ*, extrapolated in 1/d to d = ∞",
    points=points, settings=SETTINGS, compute=compute, plot=plot, agreement=agreement, claims=claims,
    kind="simulation", cost=cost,
    description="Γ* at a ladder of d on the Fig. 1 grid, e_ICL and e_IDG extrapolated in 1/d against the theory",
    notes={"source": "Lu et al. 2024, the d → ∞ theory against the Fig. 1 simulations; issue 14"})
