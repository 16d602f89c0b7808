"""Letey et al. 2025, Figure 2 (theory only): e_ICL against four pretrain–test alignment measures (the
authors' script kappasweep_neurips/theory_plot.py in their repository, :data:`letey2025_common.CODE`; d, α and τ
are not printed and were decoded from the vector paths of the published figure).

C_train = pl(.9), d = 120, α = 2, τ = 4, ρ = .01, κ ∈ {.2, .5, 1, 2, 10}. Tests: pl(p) for p ∈ linspace(.4, 1.4, 11),
lowrank(⌊fd⌋) for f ∈ {.2, …, 1}, and C_train. Measures: e_misalign = ⟨C_test 𝒦⟩ (the paper's alignment measure;
each κ family lies on a unit-slope line), ⟨C_test F_κ(σ)⟩, ⟨C_test C_train⁻¹⟩ (explained by the α → ∞ limit)
and 1/CKA.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from iclab.claims import in_range
from iclab.experiment import Experiment, Point
from iclab.experiments import letey2025_common as C
from iclab.experiments.figures import legends, pyplot, save_figure
from iclab.settings import param
from iclab.theory import letey2025 as th

MEASURES = (("misalign", "e_misalign = ⟨C_test K⟩"), ("resolvent", "⟨C_test F_κ(σ)⟩"),
            ("inverse", "⟨C_test C_train⁻¹⟩"), ("cka_inv", "1 / CKA(C_test, C_train)"))
# Reference values from an independent deterministic implementation of the same theory at these parameters (the
# paper prints no table): test -> per κ ∈ {.2, 1, 10}: (e_ICL, e_misalign, ⟨C_test F_κ⟩); then ⟨C C⁻¹⟩ and CKA
F3_TABLE = {
    "pl:0.9": ((.700055, .589293, 1.159150), (.448932, .269942, .681454), (.368811, .168414, .533649), 1.0, 1.0),
    "pl:0.4": ((.885868, .775106, 1.495164), (.611340, .432351, 1.007696), (.490240, .289843, .820204),
               1.737239, .786303),
    "pl:1.4": ((.491954, .381192, .774461), (.305033, .126044, .366069), (.269663, .069266, .269844),
               .419017, .940642),
    "lowrank:24": ((.702690, .591928, 1.180021), (.371137, .192147, .581105), (.294065, .093668, .417942),
                   .534824, .650924),
    "iso": ((.969150, .858389, 1.642436), (.703068, .524079, 1.177670), (.564193, .363796, .977003),
            2.207662, .451711),
}


@dataclass(frozen=True)
class Settings:
    d: int = param(120, lo=5, doc="dimension (the authors' 120, decoded from the figure; lowrank(⌊.2d⌋) needs d ≥ 5)")
    alpha: float = param(2.0, lo=0, lo_open=True, doc="context length per dimension α")
    tau: float = param(4.0, lo=0, lo_open=True, doc="pretraining contexts per parameter τ")
    kappa: tuple[float, ...] = param((0.2, 0.5, 1.0, 2.0, 10.0), lo=0, lo_open=True,
                                     doc="task diversities κ (one colour each)")


SETTINGS = {"quick": Settings(), "paper": Settings()}
TRAIN, RHO = "pl:0.9", 0.01


def tests(d: int) -> list[str]:
    return ([f"pl:{p:.1f}" for p in np.linspace(0.4, 1.4, 11)]
            + [f"lowrank:{int(np.floor(f * d + 1e-9))}" for f in (0.2, 0.4, 0.6, 0.8, 1.0)] + [TRAIN])


def points(s: Settings, theory_only: bool) -> list[Point]:
    return [Point({"kind": "theory", "d": s.d, "alpha": s.alpha, "tau": s.tau, "kappa": list(s.kappa),
                   "train": TRAIN, "rho": RHO, "tests": tests(s.d)})]


def compute(config: dict, seed: int) -> dict:
    """e_ICL, e_bias and the four alignment measures of Letey et al. 2025, Fig. 2, per (test, κ): nested lists."""
    d = config["d"]
    ctr = C.cov(config["train"], d)
    sol = th.solve(ctr, config["tau"], config["alpha"], np.asarray(config["kappa"]), config["rho"])
    out = {k: [] for k in ("e_icl", "e_bias", "misalign", "resolvent", "inverse", "cka_inv")}
    for t in config["tests"]:
        c = C.cov(t, d)
        e = th.errors(sol, c)
        m = th.alignment_measures(sol, ctr, c)
        out["e_icl"].append(e["e_icl"].tolist())
        out["e_bias"].append(e["e_bias"].tolist())
        for k in ("misalign", "resolvent"):
            out[k].append(np.asarray(m[k]).tolist())
        out["inverse"].append(float(m["inverse"]))
        out["cka_inv"].append(1.0 / m["cka"])
    return out


def _arrays(df):
    r = df.iloc[0]
    k = len(r["kappa"])
    get = lambda key: np.array([np.broadcast_to(np.asarray(v, float), (k,)) for v in r[key]])   # noqa: E731
    return r, {key: get(key) for key in ("e_icl", "e_bias", "misalign", "resolvent", "inverse", "cka_inv")}


def plot(df, out_dir: Path) -> list[Path]:
    plt = pyplot()
    r, a = _arrays(df)
    names = list(r["tests"])
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.4), sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    pl = [i for i, t in enumerate(names[:-1]) if t.startswith("pl")]
    lr = [i for i, t in enumerate(names) if t.startswith("lowrank")]
    records = []
    for ax, (key, label) in zip(axes, MEASURES, strict=True):
        for j, kap in enumerate(r["kappa"]):
            col = colors[j % 10]
            ax.plot(a[key][pl, j], a["e_icl"][pl, j], "o-", ms=4, color=col, label=f"κ = {kap:g}, pl(p) tests")
            ax.plot(a[key][lr, j], a["e_icl"][lr, j], "^:", ms=5, color=col, label=f"κ = {kap:g}, lowrank tests")
            ax.plot(a[key][-1, j], a["e_icl"][-1, j], "*", ms=11, color="red", label="C_test = C_train")
        ax.set(xlabel=label)
        if key == "misalign":
            x = np.linspace(0, a[key].max(), 2)
            for j in range(len(r["kappa"])):
                ax.plot(x, a["e_bias"][0, j] + x, color="grey", lw=0.6, ls="--", label="unit slope e_bias(κ) + x")
    axes[0].set_ylabel("e_ICL (exact theory)")
    legends(fig, axes, ncol=4)  # one figure legend: every label once
    for i, t in enumerate(names):
        for j, kap in enumerate(r["kappa"]):
            records.append({"test": t, "kappa": kap, **{k: a[k][i, j] for k in a}})
    fig.suptitle(f"Letey et al. 2025 Fig. 2: e_ICL against four alignment measures (theory), C_train = pl(.9), "
                 f"d = {r['d']}, α = {r['alpha']:g}, τ = {r['tau']:g}, ρ = {r['rho']:g}")
    C.footer(fig, C.scale_footer(df, SETTINGS, "") + "\ntests: pl(p), p = .4 … 1.4 (circles); lowrank(⌊fd⌋), "
                  "f = .2 … 1 (triangles); C_train (star); deterministic theory, no simulation")
    return save_figure(fig, records, out_dir, "letey2025-alignment")


def claims(df, scale: str):
    r, a = _arrays(df)
    names, kap = list(r["tests"]), list(r["kappa"])
    dev = 0.0
    for t, (k02, k1, k10, inv, cka) in F3_TABLE.items():
        if t in names and r["d"] == 120 and {0.2, 1.0, 10.0} <= set(kap):
            i = names.index(t)
            for kv, row in zip((0.2, 1.0, 10.0), (k02, k1, k10), strict=True):
                j = kap.index(kv)
                dev = max(dev, *np.abs(np.array([a["e_icl"][i, j], a["misalign"][i, j], a["resolvent"][i, j]])
                                       - np.array(row)), abs(a["inverse"][i, j] - inv),
                          abs(1 / a["cka_inv"][i, j] - cka))
    spread = float(np.max(np.ptp(a["e_icl"] - a["misalign"], axis=0)))
    rho_s = {k: min(spearmanr(a[k][:-1, j], a["e_icl"][:-1, j]).statistic for j in range(len(kap)))
             for k in ("resolvent", "inverse", "cka_inv")}
    return [
        in_range("f3_table_reproduced", "Independent reference values of e_ICL, e_misalign, ⟨C_test F_κ⟩, "
                 "⟨C C⁻¹⟩ and CKA (F3_TABLE) are reproduced", dev, lo=0.0, hi=5e-7,
                 target="max abs difference over 5 tests × 3 κ <= 5e-7 (table rounding)"),
        in_range("unit_slope_in_misalignment", "At fixed c_test each κ family lies on the unit-slope line "
                 "e_ICL = e_bias(κ) + e_misalign (the paper's alignment measure)", spread, lo=0.0, hi=1e-12,
                 target="max over κ of the spread of e_ICL − e_misalign across tests <= 1e-12"),
        in_range("resolvent_alignment_orders_tests", "⟨C_test F_κ⟩ orders the tests' errors almost perfectly",
                 rho_s["resolvent"], lo=0.98, hi=1.0, target="min over κ of Spearman(⟨C_test F_κ⟩, e_ICL) >= .98"),
        in_range("inverse_alignment_orders_tests", "⟨C_test C_train⁻¹⟩ orders them well, best at large κ (it is "
                 "the α → ∞ measure)", rho_s["inverse"], lo=0.9, hi=1.0,
                 target="min over κ of Spearman(⟨C_test C_train⁻¹⟩, e_ICL) >= .9"),
        in_range("cka_is_a_poor_predictor", "CKA does not predict the error (mixed families)", rho_s["cka_inv"],
                 lo=-1.0, hi=0.8, target="min over κ of Spearman(1/CKA, e_ICL) <= .8"),
    ]


EXPERIMENT = Experiment(
    id="letey2025-alignment", title="Letey et al. 2025 Fig. 2: e_ICL against four alignment measures (theory)",
    settings=SETTINGS, points=points, compute=compute, plot=plot, claims=claims, supports_theory_only=True,
    kind="theory",
    description="exact e_ICL of 17 tests × 5 κ against e_misalign, ⟨C F_κ⟩, ⟨C C⁻¹⟩ and 1/CKA",
    cost=lambda config: 0.5, notes={"source": f"{C.SOURCE}, Fig. 2; {C.CODE}"})
