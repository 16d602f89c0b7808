"""Shared engine of Lu et al. 2024 Figures 5–6 (``papers/lu2024.md`` §8): attention models trained on a fixed
pretraining set of n = floor(τ d²) contexts, the interpolation threshold, and its scaling with d.

**One point = one model at one d, trained for every (x, run) of its sweep in one compiled program.** The members
differ in the size n of their pretraining set (Fig. 5, x = τ) or in the size k = round(κ d) of their task pool
(Fig. 6, x = κ). Every member holds arrays of the point's largest n and k and masks the rows it does not own, so
all members train at once, vmapped (:func:`iclab.train.train_ensemble` with a prebuilt ``dataset``). Within a run
the pretraining sets are nested: the member at τ uses the first n contexts of the run's set (and the first k tasks
of its pool), which lowers the noise between neighbouring τ without changing any member's distribution.

- Data (§8.1): x ~ N(0, I/d), w ~ N(0, I) (unnormalised), y = <x, w> + N(0, ρ) with ρ = 0.01 on every label,
  query included; ℓ = αd with α = 1; tokens [x_i, y_i] and the query [x_q, 0].
- Training (§8.3): AdamW (optax defaults, weight decay 1e-4), MSE not halved. The authors' lr = 1e-4 with
  minibatches of 0.1 n over 10⁵ iterations is far beyond a CPU budget; here the learning rate, the step count and
  the batch (full batch by default) are settings of the figure, and the cosine decay helps the runs below the
  threshold reach interpolation in fewer steps.
- Evaluation (§8.4): ``e_icl`` on fresh tasks, ``e_idg`` on tasks of the member's pool (fresh tasks at κ = ∞,
  so e_idg = e_icl in distribution), ``train_loss`` the final MSE over the whole pretraining set.
- ``lsa_reduced`` (the reduced linear-attention class of §2.2, exactly Lu's Γ model) also reports the exact errors
  of its Γ and of Γ* solved in closed form on the same pretraining set (:mod:`iclab.solvable`).

Interpolation threshold (§8.5 panel D): :func:`interpolation_threshold` finds where the final training loss
leaves the interpolation floor; :func:`fit_exponent` fits log n* = a log d + b with the standard error of a.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from iclab.experiments import lu2024_common as C
from iclab.validation import UserInputError, check_choice, check_int, check_positive

MODELS = ("lsa_reduced", "linear_attention", "softmax_1block", "softmax_2block_mlp", "softmax_3block_mlp")
LABELS = {"lsa_reduced": "linear attention, reduced (Γ)", "linear_attention": "linear attention (K, Q, V)",
          "softmax_1block": "1 softmax block", "softmax_2block_mlp": "2 softmax blocks + MLP",
          "softmax_3block_mlp": "3 softmax blocks + MLP"}
RHO, ALPHA = 0.01, 1.0


# --------------------------------------------------------------------------------------------------------------
# data


def member_data(key, d: int, ell: int, rho: float, n, n_max: int, k, k_max: int, n_test: int) -> dict[str, Any]:
    """One member's pretraining set padded to n_max contexts and k_max pool tasks, and its test sets (jittable;
    n and k may be traced; k = 0 means fresh tasks, κ = ∞).

    Lu et al.'s Transformer data (§8.1): x ~ N(0, I/d), w ~ N(0, I), y = <x, w> + N(0, rho). Returns the training
    rows xs (n_max, ell, d), ys, xq, yq, mask (n_max,) = [i < n]; pool (k_max, d), k; and the test sets
    ``icl`` (n_test prompts with fresh tasks) and ``idg`` (n_test prompts with tasks drawn from the member's pool;
    fresh tasks at κ = ∞). All Gaussians come from one draw and the task indices from one more, because each
    separate random call adds a threefry kernel to compile (seconds each on a busy CPU).
    """
    import jax
    import jax.numpy as jnp

    k_z, k_idx = jax.random.split(key)
    m = n_max + 2 * n_test  # prompts, in order: training rows | ICL test | IDG test
    shapes = {"pool": (k_max, d), "fresh": (m, d), "x": (m, ell + 1, d), "eps": (m, ell + 1)}
    sizes = [math.prod(v) for v in shapes.values()]
    parts = jnp.split(jax.random.normal(k_z, (sum(sizes),)), np.cumsum(sizes)[:-1])
    z = {name: part.reshape(shape) for (name, shape), part in zip(shapes.items(), parts, strict=True)}
    idx = jax.random.randint(k_idx, (m,), 0, jnp.maximum(k, 1))
    row = jnp.arange(m)
    from_pool = (k > 0) & ((row < n_max) | (row >= n_max + n_test))  # training rows and the IDG test set
    w = jnp.where(from_pool[:, None], z["pool"][idx], z["fresh"])
    x = z["x"] / math.sqrt(d)
    y = jnp.einsum("mld,md->ml", x, w) + math.sqrt(rho) * z["eps"]
    rows = {"xs": x[:, :-1], "ys": y[:, :-1], "xq": x[:, -1], "yq": y[:, -1]}
    cut = lambda a, b: {f: v[a:b] for f, v in rows.items()}
    return {**cut(0, n_max), "mask": row[:n_max] < n, "pool": z["pool"], "k": k,
            "icl": cut(n_max, n_max + n_test), "idg": cut(n_max + n_test, m)}


def pretraining_size(tau: float, d: int) -> int:
    return max(1, int(math.floor(tau * d * d + 1e-9)))


def pool_size(kappa: float, d: int) -> int:
    """k = round(κ d) tasks; 0 for κ = ∞ (fresh tasks)."""
    return 0 if math.isinf(kappa) else max(1, int(round(kappa * d)))


# --------------------------------------------------------------------------------------------------------------
# compute


def train_point(config: dict[str, Any], seed: int) -> dict[str, Any]:
    """Train every (x, run) member of one point; metrics are lists in member order (x-major, run-minor).

    config: model, d, alpha, rho, taus and kappas (equal-length lists: the members' x values, one of the two
    constant), runs, steps, lr, n_test, batch (0: full batch), model_options (dict), lam_star (Γ* ridge).
    """
    import jax
    import jax.numpy as jnp

    from iclab.models import build_model
    from iclab.train import make_optimizer, seed_keys, train_ensemble

    model_name = check_choice("model", config["model"], MODELS)
    d = check_int("d", config["d"], lo=1)
    ell = max(1, int(round(float(config["alpha"]) * d)))
    rho = float(config["rho"])
    taus = [float(check_positive("tau", t)) for t in config["taus"]]
    kappas = [C.kappa_value(k) for k in config["kappas"]]
    if len(taus) != len(kappas):
        raise UserInputError(f"taus and kappas must have equal lengths (got {len(taus)} and {len(kappas)})")
    runs = check_int("runs", config["runs"], lo=1)
    steps = check_int("steps", config["steps"], lo=1)
    n_test = check_int("n_test", config["n_test"], lo=1)
    batch = check_int("batch", config.get("batch", 0), lo=0)
    options = dict(config.get("model_options") or {})

    ns = np.array([pretraining_size(t, d) for t in taus])
    ks = np.array([pool_size(k, d) for k in kappas])
    n_max, k_max = int(ns.max()), max(1, int(ks.max()))
    # members: x-major, run-minor; a run's members share the dataset key (nested sets), not the init key
    member_n = np.repeat(ns, runs)
    member_k = np.repeat(ks, runs)
    member_run = np.tile(np.arange(runs) + seed * runs, len(taus))
    data_keys = jax.vmap(lambda s: seed_keys(s)[3])(jnp.asarray(member_run, jnp.uint32))
    build = jax.jit(jax.vmap(lambda key, n, k: member_data(key, d, ell, rho, n, n_max, k, k_max, n_test)))
    data = build(data_keys, jnp.asarray(member_n), jnp.asarray(member_k))
    members = [int(i) for i in member_run * len(taus) + np.repeat(np.arange(len(taus)), runs)]

    def init(key):
        return build_model(model_name, d, key=key, **options)

    def masked_mse(model, b):
        err = model(b["xs"], b["ys"], b["xq"]) - b["yq"]
        return jnp.sum(b["weight"] * err**2)

    def sample(key, m):
        if batch == 0:
            return {**m, "weight": m["mask"] / jnp.sum(m["mask"])}
        idx = jax.random.randint(key, (batch,), 0, jnp.sum(m["mask"]))  # with replacement, among the first n
        sub = {f: m[f][idx] for f in ("xs", "ys", "xq", "yq")}
        return {**sub, "weight": jnp.full((batch,), 1.0 / batch)}

    def mse(model, p):
        return jnp.mean((model(p["xs"], p["ys"], p["xq"]) - p["yq"]) ** 2)

    def evaluate(model, key, m):  # the member's fixed test sets: no sampling here
        full = {**m, "weight": m["mask"] / jnp.sum(m["mask"])}
        return {"train_loss": masked_mse(model, full), "e_icl": mse(model, m["icl"]), "e_idg": mse(model, m["idg"])}

    optimizer = make_optimizer("adamw", float(config["lr"]), steps=steps, schedule_kind=config.get("schedule",
                                                                                                   "cosine"))
    res = train_ensemble(init, masked_mse, sample, seeds=members, steps=steps, optimizer=optimizer,
                         chunk=min(steps, int(config.get("chunk", 500))), evaluate=evaluate, eval_every=steps,
                         dataset=data, progress=bool(config.get("progress", False)),
                         description=f"{model_name} d={d}")
    out = {"x_tau": np.repeat(taus, runs).tolist(),
           "x_kappa": [("inf" if math.isinf(k) else k) for k in np.repeat(kappas, runs)],
           "run": member_run.tolist(), "n": member_n.tolist(), "k": member_k.tolist(),
           "n_params": int(res.seed_model(0).n_params), "steps_per_s": float(res.steps_per_s)}
    for key in ("train_loss", "e_icl", "e_idg"):
        out[key] = res.history[key][:, -1].tolist()
    out["g_task"] = (res.history["e_icl"][:, -1] - res.history["e_idg"][:, -1]).tolist()
    if model_name == "lsa_reduced":
        out.update(_gamma_star_errors(res, data, ell, rho, float(config.get("lam_star", 1e-8))))
    return out


def _gamma_star_errors(res, data, ell: int, rho: float, lam: float) -> dict[str, list[float]]:
    """Exact ICL errors (lu2024.md §3.3, fresh Gaussian tasks) of the trained Γ and of Γ* on the same set."""
    import warnings

    from iclab.solvable import solve_gamma_prompts, test_error
    from iclab.solvable.solve import SingularSolveWarning

    trained, star = [], []
    for i in range(len(res.seeds)):
        gamma = np.asarray(res.seed_model(i).gamma(), dtype=np.float64)
        trained.append(test_error(gamma, ell, rho, "gaussian"))
        n = int(np.asarray(data["mask"][i]).sum())
        rows = [np.asarray(data[f][i][:n], dtype=np.float64) for f in ("xs", "ys", "xq", "yq")]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularSolveWarning)  # at τ ≈ 1 the ridgeless solve is singular
            g_star = solve_gamma_prompts(*rows, lam)
        star.append(test_error(np.asarray(g_star), ell, rho, "gaussian"))
    return {"e_icl_exact": trained, "e_icl_gamma_star": star}


# --------------------------------------------------------------------------------------------------------------
# interpolation threshold and the scaling fit


def interpolation_threshold(x, loss, *, level: float | None = None, min_decades: float = 2.0) -> float:
    """Where the final training loss leaves the interpolation floor, from (x, loss) pairs (x = τ, n or κ).

    Works on log10 loss. The level is ``min_decades`` decades below the largest loss unless given: above the
    threshold the least-squares residual grows like (1 - p/n) times an O(1) error, so it crosses any such level
    within a fraction of a percent of n = p, while runs below the threshold that have not fully converged (their
    loss decays slowly near n = p) stay below it. The threshold is the first upward crossing of the level,
    interpolated linearly in (log x, log loss). NaN when the losses span fewer than ``min_decades`` decades (no
    transition in the grid) or when the first point is already above the level (the threshold lies below the
    grid).
    """
    x, loss = np.asarray(x, dtype=float), np.asarray(loss, dtype=float)
    keep = np.isfinite(x) & np.isfinite(loss) & (loss > 0) & (x > 0)
    order = np.argsort(x[keep])
    lx, ll = np.log10(x[keep][order]), np.log10(loss[keep][order])
    if ll.size < 2 or ll.max() - ll.min() < min_decades:
        return math.nan
    lev = ll.max() - min_decades if level is None else math.log10(level)
    if ll[0] > lev:
        return math.nan
    above = np.flatnonzero((ll[1:] > lev) & (ll[:-1] <= lev))
    if above.size == 0:
        return math.nan
    i = int(above[0]) + 1
    frac = (lev - ll[i - 1]) / (ll[i] - ll[i - 1])
    return float(10 ** (lx[i - 1] + frac * (lx[i] - lx[i - 1])))


def cumsum_threshold(x, loss, frac: float = 0.9995) -> float:
    """The authors' heuristic (lu2024.md §8.5): with r_i = L_0 / L_i over increasing x, the first x at which the
    cumulative sum of r reaches ``frac`` of its total."""
    x, loss = np.asarray(x, dtype=float), np.asarray(loss, dtype=float)
    order = np.argsort(x)
    x, loss = x[order], loss[order]
    r = loss[0] / loss
    c = np.cumsum(r)
    return float(x[np.searchsorted(c, frac * c[-1])])


def fit_exponent(d, n_star) -> dict[str, float]:
    """Least-squares fit log n* = a log d + b over all finite points; standard errors from the residuals
    (NaN with fewer than 3 points or a single d)."""
    d, n_star = np.asarray(d, dtype=float), np.asarray(n_star, dtype=float)
    keep = np.isfinite(n_star) & (n_star > 0)
    X, Y = np.log(d[keep]), np.log(n_star[keep])
    out = {"a": math.nan, "b": math.nan, "se_a": math.nan, "se_b": math.nan, "n_points": int(keep.sum())}
    if X.size < 2 or np.ptp(X) == 0:
        return out
    A = np.c_[X, np.ones_like(X)]
    coef, *_ = np.linalg.lstsq(A, Y, rcond=None)
    out["a"], out["b"] = float(coef[0]), float(coef[1])
    if X.size >= 3:
        resid = Y - A @ coef
        s2 = resid @ resid / (X.size - 2)
        cov = s2 * np.linalg.inv(A.T @ A)
        out["se_a"], out["se_b"] = float(np.sqrt(cov[0, 0])), float(np.sqrt(cov[1, 1]))
    return out


# --------------------------------------------------------------------------------------------------------------
# tables for the plots


def member_table(df):
    """One row per trained member: model, d, run, tau, kappa, n, train_loss, e_icl, e_idg, g_task (+ exact)."""
    import pandas as pd

    rows = []
    for _, r in df.iterrows():
        m = len(r["train_loss"])
        for i in range(m):
            row = {"model": r["model"], "d": int(r["d"]), "run": r["run"][i], "tau": r["x_tau"][i],
                   "kappa": C.kappa_value(r["x_kappa"][i]), "n": r["n"][i], "n_params": r["n_params"]}
            for key in ("train_loss", "e_icl", "e_idg", "g_task", "e_icl_exact", "e_icl_gamma_star"):
                if key in r and isinstance(r[key], list):
                    row[key] = r[key][i]
            rows.append(row)
    return pd.DataFrame(rows)


def thresholds(members) -> tuple[Any, Any]:
    """Per (model, d, run) interpolation thresholds τ* (and n* = τ* d²), and per model the fit of n* against d.

    Returns (per_run DataFrame: model, d, run, tau_star, tau_star_cumsum, n_star; fits DataFrame: model, a,
    se_a, b, se_b, n_points)."""
    import pandas as pd

    per_run = []
    for (model, d, run), g in members.groupby(["model", "d", "run"]):
        t = interpolation_threshold(g["tau"], g["train_loss"])
        per_run.append({"model": model, "d": d, "run": run, "tau_star": t,
                        "tau_star_cumsum": cumsum_threshold(g["tau"], g["train_loss"]), "n_star": t * d * d})
    per_run = pd.DataFrame(per_run)
    fits = [{"model": m, **fit_exponent(g["d"], g["n_star"])} for m, g in per_run.groupby("model")]
    return per_run, pd.DataFrame(fits)


def save_table(df, out_dir: Path, name: str) -> Path:
    path = Path(out_dir) / f"{name}.csv"
    df.to_csv(path, index=False)
    return path
