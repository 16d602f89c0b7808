"""Lu et al. 2024, Figure 3: where is the error non-monotone in context length?

Three heat maps over (κ, ρ): ridgeless e_ICL at τ = 0.5, e_IDG at τ = 0.5 and e_ICL at τ = 20. A pixel is the
α-grid index of the first local minimum of the error curve in α (the CSV keeps it, and the α* it stands for);
curves monotone within 1e-5 are masked grey. The colour is α* on a log scale shared by the three panels, spanning
only the α* that occur, with a tick per decade (the authors' notebook ``figure3.ipynb`` used GnBu PowerNorm(0.5) on
the grid index, which spent the lower half of its colour bar on indices that never occur, with uneven ticks). A red
line marks κ = min(τ, 1) (left of it e_ICL grows linearly in α as α → ∞, a limit of the theory), and dots with
letters A–E mark the Figure 2 curves, the letters set off the dots so that none covers the line. Theory only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import colors, ticker

from iclab.claims import Claim, in_range
from iclab.experiment import Experiment, Point
from iclab.experiments import figures as F
from iclab.experiments import lu2024_common as C
from iclab.settings import param


@dataclass(frozen=True)
class Settings:
    """Figure 3's grid sizes. Paper scale is the notebook's κ 401 × ρ 300 × α 500 (29 min there; seconds here)."""

    n_kappa: int = param(201, lo=1, doc="κ grid points on [0.1, 2.1]")
    n_rho: int = param(150, lo=1, doc="ρ grid points on [0.01, 1]")
    n_alpha: int = param(500, lo=1, doc="log-spaced α points on [0.01, 1000] per error curve")


SETTINGS = {"quick": Settings(n_kappa=201, n_rho=150, n_alpha=500),
            "paper": Settings(n_kappa=401, n_rho=300, n_alpha=500)}

PANELS = {  # panel: (which, τ, ρ of the letters, κ of the letters A–E)
    "A": ("icl", 0.5, 0.1, (0.2, 0.4, 0.5, 0.6, 1.5)),
    "B": ("idg", 0.5, 0.5, (0.15, 0.3, 0.5, 0.7, 2.0)),
    "C": ("icl", 20.0, 0.5, (0.25, 0.75, 1.0, 1.15, 2.0)),
}
TOL = 1e-5
GREY = "#EFEEEA"
# the Fig. 2 curves the letters mark: which letters have an α* there; panel B's letter A sits at κ = 0.15,
# Fig. 2A's curve at κ = 0.1 (both monotone)
FIG2 = {"A": "B", "B": "A", "C": "C"}  # the Fig. 2 panel of each map's letters
LETTER_NONMONOTONE = {"A": (True, True, True, True, False), "B": (False, True, True, True, False),
                      "C": (True, True, True, True, False)}


def points(s: Settings, theory_only: bool) -> list[Point]:
    grids = {"kappa_grid": f"0.1:2.1:{s.n_kappa}", "rho_grid": f"0.01:1:{s.n_rho}",
             "alpha_grid": f"logspace(-2,3,{s.n_alpha})"}
    return [Point({"kind": "map", "panel": p, "which": w, "tau": tau, "lam": 0.0, "tol": TOL, **grids})
            for p, (w, tau, _, _) in PANELS.items()]


def _panel_maps(df):
    """(panel, which, τ, κ grid, ρ grid, α grid, index (κ, ρ)) of each map row, in PANELS order."""
    maps = C.rows_of(df, "map")
    for panel, (which, tau, _, _) in PANELS.items():
        rows = maps[maps["panel"] == panel]
        if rows.empty:
            continue
        r = rows.iloc[0]
        kappa, rho, alpha = C.map_axes(r)
        yield panel, which, tau, kappa, rho, alpha, np.asarray(r["index"], dtype=int).reshape(kappa.size, rho.size)


def plot(df, out_dir: Path) -> list[Path]:
    fig, axes = C.new_figure(3, width=5.6, height=5.2)
    records = []
    panels = list(_panel_maps(df))
    used = [alpha[idx[idx > 0]] for *_, alpha, idx in panels if (idx > 0).any()]
    lo, hi = (float(min(u.min() for u in used)), float(max(u.max() for u in used))) if used else (0.1, 1000.0)
    norm = colors.LogNorm(vmin=lo, vmax=max(hi, lo * 1.01))
    cmap = matplotlib.colormaps["GnBu"].with_extremes(bad=GREY)
    by_panel = {p[0]: p for p in panels}
    for ax, (panel, (which, tau, rho_l, kappas_l)) in zip(axes, PANELS.items(), strict=True):
        ax.set_title(f"{panel}: {'ICL' if which == 'icl' else 'IDG'}, τ = {tau:g}; letters: Fig. 2{FIG2[panel]}\n"
                     f"(ρ = {rho_l:g}, κ = {', '.join(f'{k:g}' for k in kappas_l)})", fontsize=10)
        ax.set_xlabel("κ = k / d")
        ax.set_ylabel("ρ (noise)")
        if panel not in by_panel:
            continue
        _, _, _, kappa, rho, alpha, idx = by_panel[panel]
        a_val = np.where(idx > 0, alpha[idx], np.nan)                # α* of each (κ, ρ); NaN = monotone
        im = ax.pcolormesh(kappa, rho, np.ma.masked_invalid(a_val.T), cmap=cmap, norm=norm, shading="nearest")
        cb = fig.colorbar(im, ax=ax, pad=0.02)
        cb.locator = ticker.LogLocator(base=10)
        cb.formatter = ticker.LogFormatter(base=10, labelOnlyBase=False)
        cb.update_ticks()
        cb.set_label("α* (first local minimum in α)")
        ax.axvline(min(tau, 1.0), color="red", lw=1.5, label="κ = min(τ, 1): left of it e_ICL grows linearly in α")
        ax.plot(kappas_l, [rho_l] * len(kappas_l), "o", color="k", ms=4,
                label="A–E: the curves of Fig. 2 (same error, τ and ρ; κ in the panel title)")
        for letter, k in zip("ABCDE", kappas_l, strict=True):
            # up and to the right of the dot, so that a letter never covers the red line through κ = min(τ, 1)
            ax.annotate(letter, (k, rho_l), xytext=(4, 5), textcoords="offset points", ha="left", va="bottom",
                        fontsize=11, fontweight="bold")
        kk, rr = np.meshgrid(kappa, rho, indexing="ij")
        records += [{"panel": panel, "which": which, "tau": tau, "kappa": float(a), "rho": float(b),
                     "index": int(i), "alpha_star_grid": float(v)}
                    for a, b, i, v in zip(kk.ravel(), rr.ravel(), idx.ravel(), a_val.ravel(), strict=True)]
    F.legends(fig, axes, extra=[F.proxy("grey: monotone in α (no α*)", color=GREY, lw=0, marker="s", ms=9,
                                        markeredgecolor="#999")])
    n = {p[0]: p[3].size * p[4].size for p in panels}
    footer = F.footer_text(C.scale_of(SETTINGS, {"n_kappa": _one(p[3].size for p in panels),
                                                   "n_rho": _one(p[4].size for p in panels),
                                                   "n_alpha": _one(p[5].size for p in panels)}),
                           "d → ∞ theory, no simulation",
                           f"{next(iter(n.values()), 0)} (κ, ρ) pixels per panel" if n else "",
                           f"α grid: {panels[0][5].size} log-spaced points in [0.01, 1000]" if panels else "")
    return C.save(fig, out_dir, "lu2024-fig3", records, footer=footer)


def _one(values):
    """The common value of ``values``, or None when they differ (not compared by scale_name)."""
    vals = set(values)
    return vals.pop() if len(vals) == 1 else None


def claims(df, scale: str) -> list[Claim]:
    """Fig. 3: the letters A–E sit on the non-monotone region exactly where Fig. 2 has an α* (nearest pixel), and
    each map has a non-monotone region."""
    out = []
    for panel, which, tau, kappa, rho, _, idx in _panel_maps(df):
        _, _, rho_l, kappas_l = PANELS[panel]
        j = int(np.argmin(np.abs(rho - rho_l)))
        states = [bool(idx[int(np.argmin(np.abs(kappa - k))), j] > 0) for k in kappas_l]
        agree = sum(s == e for s, e in zip(states, LETTER_NONMONOTONE[panel], strict=True))
        expected = "".join(L for L, e in zip("ABCDE", LETTER_NONMONOTONE[panel], strict=True) if e)
        out.append(in_range(f"letters-{panel}", f"Fig. 3{panel}: the {which.upper()} error at τ = {tau:g} is "
                            f"non-monotone in α at letters {expected} and monotone at the others, as the Fig. 2 "
                            "curves; letters whose nearest pixel agrees", float(agree), lo=5.0,
                            target="5 of 5"))
        out.append(in_range(f"region-{panel}", f"Fig. 3{panel}: a region of (κ, ρ) where the {which.upper()} "
                            f"error at τ = {tau:g} is non-monotone in α exists; its fraction of the map",
                            float((idx > 0).mean()), lo=0.05, hi=0.95, target="in [0.05, 0.95]: neither empty "
                            "nor everything"))
    return out


EXPERIMENT = Experiment(
    id="lu2024-fig3", title="Lu et al. 2024 Fig. 3: non-monotonicity of the error in α over (κ, ρ)",
    points=points, settings=SETTINGS, compute=C.compute, plot=plot, supports_theory_only=True, claims=claims,
    kind="theory", description="(κ, ρ) maps of where the error is non-monotone in α, with its minimiser α*",
    cost=C.cost, notes={"source": "Lu et al. 2024, Fig. 3; the authors' notebook figure3.ipynb"})
