"""Pieces shared by the Letey et al. 2025 figures (pretrain–test task alignment): the settings fields of the
simulation figures, the simulation point, its cost model, simulation statistics against the exact theory, and the
authors' stored simulation means.

A simulation point is one structured Γ* per seed (:func:`iclab.solvable.structured.simulate_structured`) with its
exact errors on every test covariance of the figure and every test length; covariances travel in the configs as
family strings (``pl:0.5``, ``spike:0:2`` ...), so configs stay JSON and hashable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from iclab.experiments.figures import footer_text, mean_sem, pyplot, save_figure, scale_name
from iclab.settings import param
from iclab.solvable.structured import simulate_structured
from iclab.theory.letey2025 import family_from_spec

SOURCE = "Letey, Zavatone-Veth, Lu, Pehlevan 2025 (arXiv 2509.26551)"
CODE = "Pehlevan-Group/task_alignment_governs_icl_preprint"
"""The authors' repository: figure scripts and stored simulation runs (the paper body gives no tables)."""

# The authors' stored simulation means (simulation_m.txt of their runs in CODE) and, in the comments, where they
# come from. Keys: κ (F1, F2) or α_test (F4); one entry per test column.
F1_STORED = {  # Fig. 1: Error_Against_Kappa/ICLR_FIGURE1_theoryvalidation, run PREPRINT_halfmanifold_large80_d80:
    # d = 80, α = τ = 80, lowrank(40) train; tests C_train, I, pl(.5), rev pl(.5), d e_2e_2ᵀ; 30 runs
    0.2: (.6878, .8779, .8063, .9483, .6585),
    0.5: (.0741, .5540, .3787, .7296, .0643),
    1.0: (.01682, .52487, .33834, .71141, .01679),
    2.2: (.01655, .52560, .33875, .71200, .01653),
}
F2_STORED = {  # spiked_signal, run NIPS_piano_d120_final_30avg: d = 120, α = 2, τ = 4, piano train;
    # tests d e_je_jᵀ, j = 1, 79, 99, 109, 120, and C_train; 30 runs
    0.1: (1.0267, 1.1131, 1.1494, 1.1682, 1.1768, 1.0654),
    0.5: (.5957, .9104, 1.0412, 1.1746, 1.3269, .7398),
    1.0: (.4457, .7271, .9145, 1.0907, 1.3441, .5654),
    2.1: (.3668, .6035, .8219, .9865, 1.3697, .4735),
}
F4_STORED = {  # test_time_scaling, run d150_tryagain: d = 150, α = 2, τ = 4, κ = 1, λ = 1e-4;
    # C_test = C_train ∈ {I, pl(1), pl(1.5)}; 10 runs
    0.1: (4.9777, 3.6450, 2.3056),
    10**0.2: (.7068, .4500, .2420),
    10.0: (.4810, .2811, .1329),
    1000.0: (.4391, .2497, .1126),
}


@dataclass(frozen=True)
class SimSettings:
    """The settings every Letey simulation figure has."""

    d: int = param(40, lo=1, doc="dimension")
    runs: int = param(5, lo=1, doc="Γ* runs (seeds) per point")


@dataclass(frozen=True)
class KappaSettings(SimSettings):
    """The settings of the figures that sweep the task diversity κ."""

    kappa: tuple[float, ...] = param((0.5, 1.0, 2.0), lo=0, lo_open=True, doc="task diversities κ = k/d simulated")
    lam: float = param(1e-6, lo=0, lo_open=True, doc="ridge λ of the simulations (the authors' 1e-6)")


def cov(spec: str, d: int) -> np.ndarray:
    """The spectrum (d,) of a family string (the covariance families of Letey et al. 2025, trace d)."""
    return family_from_spec(spec, d)


def sim_config(d: int, tau: float, alpha: float, kappa: float, rho: float, lam: float, train: str,
               tests: tuple[str, ...], alpha_test: tuple[float, ...] | None = None,
               assignment: str = "uniform") -> dict[str, Any]:
    return {"kind": "sim", "d": d, "tau": tau, "alpha": alpha, "kappa": kappa, "rho": rho, "lam": lam,
            "train": train, "tests": list(tests), "alpha_test": None if alpha_test is None else list(alpha_test),
            "assignment": assignment}


def compute_sim(config: dict[str, Any], seed: int) -> dict[str, Any]:
    """One Γ* of the structured model; ``e_icl`` is a (tests × α_test) nested list (α_test default: α)."""
    d = config["d"]
    at = config.get("alpha_test")
    out = simulate_structured(d, config["tau"], config["alpha"], config["kappa"], config["rho"],
                              cov(config["train"], d), [cov(t, d) for t in config["tests"]], lam=config["lam"],
                              alpha_test=None if at is None else np.asarray(at), seed=seed,
                              assignment=config.get("assignment", "uniform"))
    return {"e_icl": np.atleast_2d(out["e_icl"].T).T.tolist(), "e_idg": out["e_idg"]}


def sim_cost(config: dict[str, Any]) -> float:
    """Estimated CPU seconds of one Γ* and its errors: ≈ 0.05 + n·p/1e8, n = τd², p = d(d+1) (fitted to 0.1–2.3 s
    measured at d = 40–100, τ = 0.5–2 on a loaded core)."""
    d = config["d"]
    return 0.05 + config["tau"] * d * d * d * (d + 1) / 1e8


def sim_stats(df, key: str = "kappa"):
    """Per simulation point (grouped by ``key``): mean and standard error over seeds of e_icl (tests × α_test)
    and e_idg. Returns a list of dicts sorted by ``key``."""
    sims = df[df["kind"] == "sim"] if "kind" in df else df.iloc[0:0]
    out = []
    for val, g in sims.groupby(key):
        e = np.array([np.asarray(v, dtype=float) for v in g["e_icl"]])     # (seeds, tests, α_test)
        n = len(e)
        out.append({key: val if isinstance(val, str) else float(val), "n": n, "mean": e.mean(0),
                    "sem": e.std(0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(e.shape[1:]),
                    "idg": mean_sem(g["e_idg"].to_numpy(dtype=float)), "config": g.iloc[0].to_dict()})
    return sorted(out, key=lambda r: r[key])


def relative_excess(sim_mean, sim_sem, theory):
    """(sim − theory)/theory and its standard error, arrays of the broadcast shape."""
    theory = np.asarray(theory, dtype=float)
    return (np.asarray(sim_mean) - theory) / theory, np.asarray(sim_sem) / theory


def footer(fig, text: str) -> None:
    fig.text(0.5, 0.005, text, ha="center", va="bottom", fontsize=8, color="dimgray")


def scale_footer(df, settings_by_scale: dict[str, Any], text: str) -> str:
    """``text`` after "scale: NAME · d = … · N runs" (:func:`iclab.experiments.figures.footer_text`): the scale is
    the one whose settings match the table's d and runs per point (``plot`` sees only the table)."""
    d = int(df["d"].iloc[0]) if "d" in df and len(df) else None
    runs = int(df["seed"].nunique()) if "seed" in df and len(df) else None
    settings = {name: asdict(s) for name, s in settings_by_scale.items()}
    observed = {"d": d, "runs": runs if any("runs" in v for v in settings.values()) else None}
    scale = scale_name(settings, observed)
    return footer_text(scale, f"d = {d}" if d is not None else "",
                       f"{runs} runs per point" if runs is not None and observed["runs"] is not None else "", text)


def plot_against_kappa(df, out_dir, stem: str, labels, theory, stored: dict, stored_d: int, stored_theory,
                       title: str, foot: str, ylim=None, decorate=None, settings=None):
    """The two panels of the κ figures: Γ* simulations (mean ± SE) against the exact theory at the simulation's
    spectra (``theory(d, kappa) -> (tests, κ)``), and the authors' stored means against the exact theory at their
    parameters (``stored_theory(kappa)``). ``decorate(ax)`` adds reference lines; ``settings`` (the figure's settings
    per scale) puts the scale, d and runs in the footer. Returns the written files."""
    plt = pyplot()
    stats = sim_stats(df)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    records = []
    kgrid = np.linspace(0.05, 2.3, 200)
    if stats:
        d = int(stats[0]["config"]["d"])
        th = theory(d, kgrid)
        kap = np.array([r["kappa"] for r in stats])
        mean, sem = (np.array([r[k][:, 0] for r in stats]).T for k in ("mean", "sem"))
        for i, lab in enumerate(labels):
            axes[0].plot(kgrid, th[i], color=colors[i % 10], label=f"theory, {lab}")
            axes[0].errorbar(kap, mean[i], yerr=sem[i], fmt="o", ms=4, color=colors[i % 10],
                             label=f"simulation, {lab}")
            records += [{"panel": "sim", "series": "theory", "test": lab, "kappa": k, "e_icl": e}
                        for k, e in zip(kgrid, th[i], strict=True)]
            records += [{"panel": "sim", "series": "simulation", "test": lab, "kappa": k, "e_icl": m, "sem": s}
                        for k, m, s in zip(kap, mean[i], sem[i], strict=True)]
        c = stats[0]["config"]
        axes[0].set_title(f"Γ* simulations: d = {d}, α = {c['alpha']:g}, τ = {c['tau']:g}, {stats[0]['n']} runs "
                          f"per κ\nvs exact theory (d → ∞ at these spectra)", fontsize=10)
    kap = np.array(sorted(stored))
    st = np.array([stored[k] for k in kap]).T
    th_grid = stored_theory(kgrid)
    th_st = stored_theory(kap)
    for i, lab in enumerate(labels):
        axes[1].plot(kgrid, th_grid[i], color=colors[i % 10], label=f"theory, {lab}")
        axes[1].plot(kap, st[i], "x", ms=7, color=colors[i % 10], label=f"authors' stored mean, {lab}")
        records += [{"panel": "stored", "series": "authors_stored", "test": lab, "kappa": k, "e_icl": e, "theory": t}
                    for k, e, t in zip(kap, st[i], th_st[i], strict=True)]
    axes[1].set_title(f"authors' stored simulation means (d = {stored_d})\nvs exact theory at their parameters",
                      fontsize=10)
    for ax in axes:
        if decorate is not None:
            decorate(ax)
        ax.set(xlabel="κ = k/d", ylim=ylim)
        ax.legend(fontsize=6, ncol=2)
    axes[0].set_ylabel("e_ICL")
    fig.suptitle(title)
    footer(fig, foot if settings is None else scale_footer(df, settings, "") + "\n" + foot)
    return save_figure(fig, records, out_dir, stem)


def stored_deviation(stored: dict, stored_theory):
    """κ (K,) and (stored − theory)/theory (tests, K) for a stored table."""
    kap = np.array(sorted(stored))
    st = np.array([stored[k] for k in kap]).T
    th = stored_theory(kap)
    return kap, (st - th) / th


def sim_deviation(df, theory):
    """κ (K,), relative deviation (tests, K) of the simulation means from the theory, and z-scores."""
    stats = sim_stats(df)
    if not stats:
        return None
    kap = np.array([r["kappa"] for r in stats])
    th = theory(int(stats[0]["config"]["d"]), kap)
    mean, sem = (np.array([r[k][:, 0] for r in stats]).T for k in ("mean", "sem"))
    z = (mean - th) / np.where(sem > 0, sem, np.nan)
    return kap, (mean - th) / th, z, mean, sem
