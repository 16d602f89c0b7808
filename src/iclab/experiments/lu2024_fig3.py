"""Lu et al. 2024, Figure 3: where is the error non-monotone in context length? (``papers/lu2024.md`` §7.3)

Three heat maps over (κ, ρ): ridgeless e_ICL at τ = 0.5, e_IDG at τ = 0.5 and e_ICL at τ = 20. A pixel is the
α-grid index of the first local minimum of the error curve in α, drawn on a GnBu PowerNorm(0.5) scale whose
colour bar is labelled in α; curves monotone within 1e-5 are masked grey. A red line marks κ = min(τ, 1) (left
of it e_ICL grows linearly in α, §5.6), and letters A–E mark the Figure 2 curves. Theory only.
"""

from __future__ import annotations

from pathlib import Path

from iclab.experiments import Experiment, Point
from iclab.experiments import lu2024_common as C

# Grid sizes (``--set`` overrides). Paper: the notebook's κ 401 × ρ 300 × α 500 (29 min there; seconds here).
QUICK = {"n_kappa": 201, "n_rho": 150, "n_alpha": 500}
PAPER = {"n_kappa": 401, "n_rho": 300, "n_alpha": 500}
SETTINGS = {"quick": QUICK, "paper": PAPER}

PANELS = {  # panel: (which, τ, ρ of the letters, κ of the letters A–E)
    "A": ("icl", 0.5, 0.1, (0.2, 0.4, 0.5, 0.6, 1.5)),
    "B": ("idg", 0.5, 0.5, (0.15, 0.3, 0.5, 0.7, 2.0)),
    "C": ("icl", 20.0, 0.5, (0.25, 0.75, 1.0, 1.15, 2.0)),
}
TOL = 1e-5
GREY = "#EFEEEA"
ALPHA_TICKS = (0.3, 1.0, 3.0, 10.0, 320.0)  # the notebook's colour-bar labels (§7.3)


def points(scale: str, theory_only: bool, overrides: dict) -> list[Point]:
    s = C.settings(SETTINGS, scale, overrides)
    grids = {"kappa_grid": f"0.1:2.1:{s['n_kappa']}", "rho_grid": f"0.01:1:{s['n_rho']}",
             "alpha_grid": f"logspace(-2,3,{s['n_alpha']})"}
    return [Point({"kind": "map", "panel": p, "which": w, "tau": tau, "lam": 0.0, "tol": TOL, **grids})
            for p, (w, tau, _, _) in PANELS.items()]


def plot(df, out_dir: Path) -> list[Path]:
    import matplotlib
    import numpy as np
    from matplotlib import colors

    fig, axes = C.new_figure(3, width=5.6, height=4.6)
    records = []
    maps = C.rows_of(df, "map")
    for ax, (panel, (which, tau, rho_l, kappas_l)) in zip(axes, PANELS.items(), strict=True):
        rows = maps[maps["panel"] == panel]
        ax.set_title(f"{panel}: {'ICL' if which == 'icl' else 'IDG'}, τ = {tau:g}")
        ax.set_xlabel("κ")
        ax.set_ylabel("ρ")
        if rows.empty:
            continue
        r = rows.iloc[0]
        kappa, rho, alpha = C.map_axes(r)
        idx = np.asarray(r["index"], dtype=float).reshape(kappa.size, rho.size)
        img = np.ma.masked_equal(idx.T, 0)                         # (ρ, κ); 0 = monotone
        cmap = matplotlib.colormaps["GnBu"].with_extremes(bad=GREY)
        im = ax.pcolormesh(kappa, rho, img, cmap=cmap, shading="nearest",
                           norm=colors.PowerNorm(0.5, vmin=1, vmax=alpha.size - 1))
        ticks = [float(np.interp(np.log(a), np.log(alpha), np.arange(alpha.size))) for a in ALPHA_TICKS
                 if alpha[0] <= a <= alpha[-1]]
        cb = fig.colorbar(im, ax=ax, ticks=ticks)
        cb.ax.set_yticklabels([f"{a:g}" for a in ALPHA_TICKS if alpha[0] <= a <= alpha[-1]])
        cb.set_label("first local minimiser α*")
        ax.axvline(min(tau, 1.0), color="red", lw=1.5)
        for letter, k in zip("ABCDE", kappas_l, strict=True):
            ax.annotate(letter, (k, rho_l), ha="center", va="center", fontsize=11, fontweight="bold")
        kk, rr = np.meshgrid(kappa, rho, indexing="ij")
        a_val = np.where(idx > 0, alpha[idx.astype(int)], np.nan)
        records += [{"panel": panel, "which": which, "tau": tau, "kappa": float(a), "rho": float(b),
                     "index": int(i), "alpha_star_grid": float(v)}
                    for a, b, i, v in zip(kk.ravel(), rr.ravel(), idx.ravel(), a_val.ravel(), strict=True)]
    return C.save(fig, out_dir, "lu2024-fig3", records)


EXPERIMENT = Experiment(
    id="lu2024-fig3", title="Lu et al. 2024 Fig. 3: non-monotonicity of the error in α over (κ, ρ)",
    points=points, compute=C.compute, plot=plot, supports_theory_only=True,
    notes={"source": "papers/lu2024.md §7.3", "quick": str(QUICK), "paper": str(PAPER)})
