"""Shared engine of Lu et al. 2024 Figures 5–6 (the trained-Transformer experiments): attention models trained on a
fixed pretraining set of n = floor(τ d²) contexts, the interpolation threshold, and its scaling with d.

**One point = one model at one d, trained for every (x, run) of its sweep in one compiled program.** The members
differ in the size n of their pretraining set (Fig. 5, x = τ) or in the size k = round(κ d) of their task pool
(Fig. 6, x = κ). Every member holds arrays of the point's largest n and k and masks the rows it does not own, so
all members train at once, vmapped (:func:`iclab.train.train_fixed`). Within a run the pretraining sets are
nested: the member at τ uses the first n contexts of the run's set (and the first k tasks of its pool), which
lowers the noise between neighbouring τ without changing any member's distribution.

The set-up follows the authors' released Transformer code for Figs. 5–6 (the paper gives it in words):

- Data: x ~ N(0, I/d), w ~ N(0, I) (unnormalised), y = <x, w> + N(0, ρ) with ρ = 0.01 on every label, query
  included; ℓ = αd with α = 1; tokens [x_i, y_i] and the query [x_q, 0].
- Training: AdamW (optax defaults, weight decay 1e-4), MSE not halved. The authors' lr = 1e-4 with minibatches
  of 0.1 n over 10⁵ iterations is far beyond a CPU budget; here the learning rate, the step count and the batch
  (full batch by default) are settings of the figure, and the cosine decay helps the runs below the threshold
  reach interpolation in fewer steps.
- Evaluation: ``e_icl`` on fresh tasks, ``e_idg`` on tasks of the member's pool (fresh tasks at κ = ∞, so
  e_idg = e_icl in distribution), ``train_loss`` the final MSE over the whole pretraining set.
- ``lsa_reduced`` (the reduced linear-attention model ŷ = ⟨Γ, H_Z⟩ that Lu et al.'s theory solves) also
  reports the exact finite-d test errors of its Γ and of Γ* solved in closed form on the same pretraining set
  (:mod:`iclab.solvable`).

Interpolation threshold (Fig. 5D): :func:`interpolation_threshold` finds where the final training loss leaves the
interpolation floor; :func:`fit_exponent` fits log n* = a log d + b with the standard error of a.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from iclab.models import build_model
from iclab.settings import from_json_number, json_number
from iclab.solvable import predict, solve_gamma_prompts, test_error
from iclab.solvable.solve import SingularSolveWarning
from iclab.tasks.lu2024 import pool_size
from iclab.train import make_optimizer, seed_keys, train_fixed
from iclab.validation import UserInputError, check_choice, check_int, check_positive

MODELS = ("lsa_reduced", "linear_attention", "softmax_1block", "softmax_2block_mlp", "softmax_3block_mlp")
LABELS = {"lsa_reduced": "linear attention, reduced (Γ)", "linear_attention": "linear attention (K, Q, V)",
          "softmax_1block": "1 softmax block", "softmax_2block_mlp": "2 softmax blocks + MLP",
          "softmax_3block_mlp": "3 softmax blocks + MLP"}
RHO, ALPHA = 0.01, 1.0
# the doc of Figs. 5-6's ``scale`` setting: the scale's name goes into every config (for the footer), so that a
# run with --set overrides keeps the configs, and the stored results, of the scale it starts from
# Fig. 5's interpolation level: 3 decades below the largest final training loss of the (model, d, run) curve.
# Above the threshold n = p of a least-squares fit the loss grows only like (n - p)/n (0.1% of its large-n value
# one context past p at d = 16), so a 2-decade level lands a few contexts past p, beyond the test-error peak at
# n = p; 3 decades lands within one context of it (measured on the closed-form reduced model, d = 4..16).
FIG5_DECADES = 3.0
# exact finite-d errors reported for the reduced model: of the trained Γ and of Γ* on the same set
EXACT_KEYS = ("e_icl_exact", "e_idg_exact", "g_task_exact", "e_icl_gamma_star", "e_idg_gamma_star",
              "g_task_gamma_star")


# --------------------------------------------------------------------------------------------------------------
# data


def member_data(key, d: int, ell: int, rho: float, n, n_max: int, k, k_max: int, n_test: int) -> dict[str, Any]:
    """One member's pretraining set padded to n_max contexts and k_max pool tasks, and its test sets (jittable;
    n and k may be traced; k = 0 means fresh tasks, κ = ∞).

    Lu et al.'s Transformer data: x ~ N(0, I/d), w ~ N(0, I), y = <x, w> + N(0, rho). Returns the training
    rows xs (n_max, ell, d), ys, xq, yq, mask (n_max,) = [i < n]; pool (k_max, d), k; and the test sets
    ``icl`` (n_test prompts with fresh tasks) and ``idg`` (n_test prompts with tasks drawn from the member's pool;
    fresh tasks at κ = ∞). All Gaussians come from one draw and the task indices from one more, because each
    separate random call adds a threefry kernel to compile (seconds each on a busy CPU).
    """
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


# --------------------------------------------------------------------------------------------------------------
# compute


@eqx.filter_jit
def _member_sets(keys, ns, ks, *, d: int, ell: int, rho: float, n_max: int, k_max: int, n_test: int):
    """:func:`member_data` of every member: keys (M, 2), ns and ks (M,)."""
    return jax.vmap(lambda key, n, k: member_data(key, d, ell, rho, n, n_max, k, k_max, n_test))(keys, ns, ks)


def _init_model(name: str, d: int, options: dict[str, Any], key):
    return build_model(name, d, key=key, **options)


def masked_mse(model, b):
    """The member's weighted squared error: sum_i weight_i (ŷ_i - y_i)² (the weights sum to 1)."""
    err = model(b["xs"], b["ys"], b["xq"]) - b["yq"]
    return jnp.sum(b["weight"] * err**2)


def _member_batch(batch: int, key, m):
    """The training batch of one member: its whole set (``batch`` = 0) or ``batch`` rows drawn with replacement
    among its first n."""
    if batch == 0:
        return {**m, "weight": m["mask"] / jnp.sum(m["mask"])}
    idx = jax.random.randint(key, (batch,), 0, jnp.sum(m["mask"]))
    sub = {f: m[f][idx] for f in ("xs", "ys", "xq", "yq")}
    return {**sub, "weight": jnp.full((batch,), 1.0 / batch)}


def _mse(model, p):
    return jnp.mean((model(p["xs"], p["ys"], p["xq"]) - p["yq"]) ** 2)


def _member_errors(model, key, m):
    """The member's final numbers on its fixed sets (no sampling): training loss, ICL and IDG test errors."""
    full = {**m, "weight": m["mask"] / jnp.sum(m["mask"])}
    return {"train_loss": masked_mse(model, full), "e_icl": _mse(model, m["icl"]), "e_idg": _mse(model, m["idg"])}


def train_point(config: dict[str, Any], seed: int) -> dict[str, Any]:
    """Train every (x, run) member of one point; metrics are lists in member order (x-major, run-minor).

    config: model, d, alpha, rho, taus and kappas (equal-length lists: the members' x values, one of the two
    constant), runs, steps, lr, n_test, batch (0: full batch), model_options (dict), lam_star (Γ* ridge); n_pad
    and x_pad (optional): pad every set to at least n_pad contexts and the program to x_pad x values, so that a
    program of these shapes compiled before is reused.
    """
    model_name = check_choice("model", config["model"], MODELS)
    d = check_int("d", config["d"], lo=1)
    ell = max(1, int(round(float(config["alpha"]) * d)))
    rho = float(config["rho"])
    taus = [float(check_positive("tau", t)) for t in config["taus"]]
    kappas = [from_json_number(k) for k in config["kappas"]]
    if len(taus) != len(kappas):
        raise UserInputError(f"taus and kappas must have equal lengths (got {len(taus)} and {len(kappas)})")
    runs = check_int("runs", config["runs"], lo=1)
    steps = check_int("steps", config["steps"], lo=1)
    n_test = check_int("n_test", config["n_test"], lo=1)
    batch = check_int("batch", config.get("batch", 0), lo=0)
    options = dict(config.get("model_options") or {})
    # x_pad: extra copies of the last x fill the program up to x_pad members per run, so that it has the shapes
    # of one compiled before; they train and are dropped
    n_out = len(taus) * runs
    extra = max(0, int(config.get("x_pad", 0)) - len(taus))
    taus, kappas = taus + taus[-1:] * extra, kappas + kappas[-1:] * extra

    ns = np.array([pretraining_size(t, d) for t in taus])
    # k = round(κ d) as the authors' Transformer code; 0 marks κ = ∞ (fresh tasks) in the traced array
    ks = np.array([pool_size(d, k, rounding="nearest") or 0 for k in kappas])
    n_max, k_max = max(int(ns.max()), int(config.get("n_pad", 0))), max(1, int(ks.max()))
    # members: x-major, run-minor; a run's members share the dataset key (nested sets), not the init key
    member_n = np.repeat(ns, runs)
    member_k = np.repeat(ks, runs)
    member_run = np.tile(np.arange(runs) + seed * runs, len(taus))
    data_keys = jax.vmap(lambda s: seed_keys(s)[3])(jnp.asarray(member_run, jnp.uint32))
    data = _member_sets(data_keys, jnp.asarray(member_n), jnp.asarray(member_k), d=d, ell=ell, rho=rho,
                        n_max=n_max, k_max=k_max, n_test=n_test)
    members = [int(i) for i in member_run * len(taus) + np.repeat(np.arange(len(taus)), runs)]

    optimizer = make_optimizer("adamw", float(config["lr"]), steps=steps,
                               schedule_kind=config.get("schedule", "cosine"))
    res = train_fixed(Partial(_init_model, model_name, d, options), masked_mse, data, Partial(_member_batch, batch),
                      seeds=members, steps=steps, optimizer=optimizer,
                      chunk=_chunk(steps, int(config.get("chunk", 500))),
                      evaluate=_member_errors, eval_every=steps,
                      progress=f"{model_name} d={d}" if config.get("progress", False) else None)
    out = {"x_tau": np.repeat(taus, runs).tolist(),
           "x_kappa": [json_number(k) for k in np.repeat(kappas, runs)],
           "run": member_run.tolist(), "n": member_n.tolist(), "k": member_k.tolist(),
           "n_params": int(res.seed_model(0).n_params), "steps_per_s": float(res.steps_per_s)}
    for key in ("train_loss", "e_icl", "e_idg"):
        out[key] = res.history[key][:, -1].tolist()
    out["g_task"] = (res.history["e_icl"][:, -1] - res.history["e_idg"][:, -1]).tolist()
    if model_name == "lsa_reduced":
        out.update(_gamma_star_errors(res, data, ell, rho, float(config.get("lam_star", 1e-8))))
    return {k: v[:n_out] if isinstance(v, list) else v for k, v in out.items()}


def _chunk(steps: int, most: int) -> int:
    """Steps per compiled chunk: equal chunks of at most ``most`` steps, or one chunk of all of them when no
    divisor fits, because every distinct chunk length is one more compilation (3.5 s for one softmax block at
    d = 4, measured: 600 steps in chunks of 500 + 100 compiled twice)."""
    parts = -(-steps // most)
    return steps // parts if steps % parts == 0 else steps


def _gamma_star_errors(res, data, ell: int, rho: float, lam: float) -> dict[str, list[float]]:
    """Exact finite-d errors (the closed-form e(Γ) that Lu et al.'s finite-d simulations evaluate; ICL on fresh
    Gaussian tasks, IDG uniform over the member's pool, = ICL at κ = ∞) of the trained Γ and of Γ* solved on the
    same pretraining set; g_task = ICL - IDG, free of Monte-Carlo noise."""
    out: dict[str, list[float]] = {key: [] for key in EXACT_KEYS}
    for i in range(len(res.seeds)):
        n = int(np.asarray(data["mask"][i]).sum())
        k = int(np.asarray(data["k"][i]))
        rows = [np.asarray(data[f][i][:n], dtype=np.float64) for f in ("xs", "ys", "xq", "yq")]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularSolveWarning)  # at τ ≈ 1 the ridgeless solve is singular
            g_star = np.asarray(solve_gamma_prompts(*rows, lam))
        pool = np.asarray(data["pool"][i][:k], dtype=np.float64) if k > 0 else "gaussian"
        for name, gamma in (("exact", np.asarray(res.seed_model(i).gamma(), dtype=np.float64)),
                            ("gamma_star", g_star)):
            icl, idg = test_error(gamma, ell, rho, "gaussian"), test_error(gamma, ell, rho, pool)
            out[f"e_icl_{name}"].append(icl)
            out[f"e_idg_{name}"].append(idg)
            out[f"g_task_{name}"].append(icl - idg)
    return out


# --------------------------------------------------------------------------------------------------------------
# Fig. 5: the reduced model in closed form, and the adaptive τ search
#
# Why one compute owns the whole search of one (model, d), rather than successive sweep rounds: a (model, d)'s
# refinement depends only on its own coarse pass, so searches never wait for each other (sweep rounds would idle
# the process pool at every round's barrier while the slowest d finishes), the sweep engine stays a plain list of
# points, and the store still caches every finished search, so an interrupted figure resumes at (model, d)
# granularity. The price: a search killed midway restarts from its coarse pass.


def _exact_context_set(d: int, ell: int, rho: float, n: int, run: int):
    """The first n contexts of run ``run``'s pretraining set (the Transformer data of Figs. 5–6), in float64
    numpy: xs (n, ell, d), ys (n, ell), xq (n, d), yq (n,). Each array comes from its own stream, row-major, so a
    longer set extends a shorter one (nested sets across search rounds)."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence([run, d, ell]).spawn(3)]
    w = streams[0].standard_normal((n, d))
    x = streams[1].standard_normal((n, ell + 1, d)) / math.sqrt(d)
    y = np.einsum("nld,nd->nl", x, w) + math.sqrt(rho) * streams[2].standard_normal((n, ell + 1))
    return x[:, :-1], y[:, :-1], x[:, -1], y[:, -1]


def exact_point(config: dict[str, Any], seed: int) -> dict[str, Any]:
    """The reduced linear-attention model (ŷ = ⟨Γ, H_Z⟩) at convergence, per (τ, run) member, without
    training: gradient descent from Γ = 0 on the squared loss converges to the minimum-norm least-squares Γ, i.e.
    Γ* with a vanishing ridge (``lam_star``, default 1e-10) on the member's set (:func:`iclab.solvable.solve_gamma`).
    Same config and output layout as :func:`train_point`; ``e_icl`` is the exact finite-d test error, so it carries
    no Monte-Carlo noise, and ``train_loss`` the mean squared residual on the member's n contexts."""
    d = check_int("d", config["d"], lo=1)
    ell = max(1, int(round(float(config["alpha"]) * d)))
    rho = float(config["rho"])
    runs = check_int("runs", config["runs"], lo=1)
    taus = [float(check_positive("tau", t)) for t in config["taus"]]
    lam = float(config.get("lam_star", 1e-10))
    ns = [pretraining_size(t, d) for t in taus]
    out: dict[str, list] = {key: [] for key in ("x_tau", "x_kappa", "run", "n", "train_loss", "e_icl")}
    for r in range(runs):
        run = seed * runs + r
        data = _exact_context_set(d, ell, rho, max(ns), run)
        for tau, n in zip(taus, ns, strict=True):
            rows = [a[:n] for a in data]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SingularSolveWarning)  # n = p is singular by construction
                # direct solves: the n x n kernel below p, the p x p normal equations above (auto picks CG
                # near n = p, where its iteration count explodes: 100 s at d = 16 against 0.2 s)
                method = "dual" if n <= d * (d + 1) else "primal"
                gamma = np.asarray(solve_gamma_prompts(*rows, lam, method=method))
            resid = rows[3] - predict(gamma, *rows[:3])
            out["x_tau"].append(tau)
            out["x_kappa"].append("inf")
            out["run"].append(run)
            out["n"].append(n)
            out["train_loss"].append(float(np.mean(resid**2)))
            out["e_icl"].append(test_error(gamma, ell, rho, "gaussian"))
    out["e_idg"] = list(out["e_icl"])  # κ = ∞: fresh tasks in both
    out["g_task"] = [0.0] * len(out["e_icl"])
    return {**out, "n_params": d * (d + 1), "steps_per_s": math.nan}


def refine_taus(d: int, members: dict[str, list], n_threshold: int = 4) -> list[float]:
    """New τ values for the next search round of one (model, d), from the members so far (x_tau, run,
    train_loss, e_icl lists). Returns τ = n/d² for integer n not yet on the grid:

    - ``n_threshold`` points evenly inside the union over runs of the grid cells where each run's final training
      loss rises through the interpolation level (:func:`threshold_cell`);
    - the midpoints either side of the peak of the run-median test error;
    - one point beyond the grid when some run has no crossing in it: above (1.6 τ_max) when its losses are all
      small (< 1e-3: it still interpolates at the top), else below (τ_min / 2).
    """
    tau, run = np.asarray(members["x_tau"], float), np.asarray(members["run"])
    loss, err = np.asarray(members["train_loss"], float), np.asarray(members["e_icl"], float)
    grid = np.unique(tau)
    n_of = lambda t: pretraining_size(float(t), d)  # noqa: E731
    have = {n_of(t) for t in grid}
    new: set[int] = set()
    cells = []
    for r in np.unique(run):
        lo, hi, star = threshold_cell(tau[run == r], loss[run == r], min_decades=FIG5_DECADES)
        if np.isfinite(star):
            cells.append((lo, hi))
        elif np.nanmax(loss[run == r]) < 1e-3:
            new.add(n_of(1.6 * grid[-1]))
        else:
            new.add(max(1, n_of(grid[0] / 2)))
    if cells:
        n_lo, n_hi = n_of(min(c[0] for c in cells)), n_of(max(c[1] for c in cells))
        new.update(int(round(v)) for v in np.linspace(n_lo, n_hi, n_threshold + 2)[1:-1])
    med_err = np.array([np.nanmedian(err[tau == t]) for t in grid])  # as :func:`thresholds`' peak
    if np.isfinite(med_err).any():
        j = int(np.nanargmax(med_err))
        for k in (j - 1, j + 1):
            if 0 <= k < grid.size:
                new.add(int(round((n_of(grid[j]) + n_of(grid[k])) / 2)))
    return [n / d**2 for n in sorted(new - have) if n >= 1]


# A program on fewer contexts than this is compile-bound: its compilation and set-up (6 CPU-s for linear
# attention, 14-20 for the softmax models, measured) cost more than the padding that would avoid a second one. So
# such a round is not split by set size (:func:`size_groups`), and the round after it reuses its shapes
# (:func:`_next_round`); at d = 10, 2,500 steps, a split of the coarse round saves ~10 CPU-s of padding.
SPLIT_MIN_ROWS = 200
SPLIT_MIN_SAVING = 0.25


def compile_bound(n_max: int) -> bool:
    """Whether a program whose largest set has ``n_max`` contexts costs less to train than to compile."""
    return n_max < SPLIT_MIN_ROWS


def _next_round(d: int, members: dict[str, list], refine: int, last_taus: list[float]) -> tuple[list[float], dict]:
    """The next round's τ values and the padding of its program ({} or n_pad, x_pad for :func:`train_point`).

    A small last program is compile-bound (:func:`compile_bound`): a softmax block at d <= 8 trains a round in
    ~1-15 s and compiles it in ~15 s (measured). Then the round takes at most as many τ values as that
    program had (the most that fit, with at most ``refine`` threshold points) and is padded to its shapes, so that
    every compiled program is reused. The rule depends on sizes only, never on timings, so the τ grid of a search
    is reproducible."""
    new = refine_taus(d, members, refine)
    n_last = max(pretraining_size(t, d) for t in last_taus)
    if not new or not compile_bound(n_last):
        return new, {}
    fewer = (refine_taus(d, members, k) for k in range(refine - 1, 0, -1))
    fits = [t for t in (new, *fewer)
            if 0 < len(t) <= len(last_taus) and max(pretraining_size(v, d) for v in t) <= n_last]
    if not fits:
        return new, {}
    return max(fits, key=len), {"n_pad": n_last, "x_pad": len(last_taus)}  # the most points; ties: the most k


def size_groups(ns, *, min_rows: int = SPLIT_MIN_ROWS, min_saving: float = SPLIT_MIN_SAVING) -> list[list[int]]:
    """Indices of ``ns`` (the members' set sizes, one per τ) in one or two groups of neighbouring sizes, each
    trained as its own program.

    Why: all members of a program hold arrays of its largest set and mask the rest, so one program over a coarse
    grid τ = 0.5..2.5 spends 44% of its row-steps on padding. Two groups (the split that minimises
    Σ_group size x largest n) are used when they save at least ``min_saving`` of the row-steps and the largest set
    has ``min_rows`` contexts or more (smaller programs cost less than their second compilation).
    """
    order = sorted(range(len(ns)), key=lambda i: ns[i])
    sizes = [ns[i] for i in order]
    if len(sizes) < 2 or sizes[-1] < min_rows:  # compile-bound at the default min_rows
        return [order]
    one = len(sizes) * sizes[-1]
    k = min(range(1, len(sizes)), key=lambda k: k * sizes[k - 1] + (len(sizes) - k) * sizes[-1])
    two = k * sizes[k - 1] + (len(sizes) - k) * sizes[-1]
    return [order[:k], order[k:]] if two <= (1 - min_saving) * one else [order]


def search_point(config: dict[str, Any], seed: int) -> dict[str, Any]:
    """Adaptive τ search of one (model, d) for Fig. 5: the coarse grid ``taus``, then ``rounds`` refinement
    rounds (:func:`refine_taus`, ``refine`` threshold points each), every round training its (τ, run)
    members at once, in one or two programs by set size (:func:`size_groups`; :func:`train_point`, or
    :func:`exact_point` when ``solver`` is ``"exact"``). Returns the
    members of all rounds in :func:`train_point`'s layout, with ``round`` per member, and ``cpu_s``, ``wall_s``
    of the whole search (what ``Experiment.cost`` is calibrated on)."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    d = check_int("d", config["d"], lo=1)
    rounds = check_int("rounds", config.get("rounds", 1), lo=0)
    refine = check_int("refine", config.get("refine", 4), lo=1)
    evaluate = exact_point if config.get("solver") == "exact" else train_point
    new = sorted(float(check_positive("tau", t)) for t in config["taus"])
    merged: dict[str, Any] = {}
    rates = []
    pad: dict[str, int] = {}  # the next round's padding to the last program's shapes
    for r in range(rounds + 1):
        groups = ([new] if evaluate is exact_point  # the closed form pads nothing
                  else [[new[i] for i in g] for g in size_groups([pretraining_size(t, d) for t in new])])
        for taus in groups:
            part = evaluate({**config, "taus": taus, "kappas": ["inf"] * len(taus), **pad}, seed)
            part["round"] = [r] * len(part["train_loss"])
            for key, value in part.items():
                if isinstance(value, list):
                    merged.setdefault(key, []).extend(value)
                else:
                    merged[key] = value
            rates.append(part["steps_per_s"])
        if r == rounds:
            break
        new, pad = _next_round(d, merged, refine, taus)  # taus: the round's last (largest) program
        if not new:
            break
    merged["steps_per_s"] = float(np.mean(rates))
    merged["cpu_s"] = time.process_time() - cpu0
    merged["wall_s"] = time.perf_counter() - wall0
    return merged


# --------------------------------------------------------------------------------------------------------------
# interpolation threshold and the scaling fit


def _log_curve(x, loss):
    """(log10 x, log10 loss) of the finite, positive pairs, sorted by x."""
    x, loss = np.asarray(x, dtype=float), np.asarray(loss, dtype=float)
    keep = np.isfinite(x) & np.isfinite(loss) & (loss > 0) & (x > 0)
    order = np.argsort(x[keep])
    return np.log10(x[keep][order]), np.log10(loss[keep][order])


def threshold_cell(x, loss, *, level: float | None = None, min_decades: float = 2.0) -> tuple[float, float, float]:
    """(x_lo, x_hi, x*): the grid cell in which the final training loss rises through the interpolation level
    for the last time (the start of the final stretch above it), and the crossing x* interpolated linearly in
    (log x, log loss) inside it. All NaN when there is no crossing in the grid (see
    :func:`interpolation_threshold` for the level).

    Why the last crossing: below n = p the loss is zero only once the optimiser has converged, and convergence is
    slowest near p, so an unconverged member a few contexts below p can poke above the level and the next one
    fall back below it; that is an optimisation failure, not the threshold. Above p the residual of the best fit
    is positive, so the loss never returns below the level. (Measured: K, Q, V linear attention, d = 4, one run
    after 2,500 steps: loss 10^-4.1 at τ = 1.8, 10^-7.9 at 2.0, 10^-3.5 at 2.125; its parameter-count threshold
    is n = 33, τ = 2.06.)"""
    lx, ll = _log_curve(x, loss)
    nan = (math.nan, math.nan, math.nan)
    if ll.size < 2 or ll.max() - ll.min() < min_decades:
        return nan
    lev = ll.max() - min_decades if level is None else math.log10(level)
    if ll[0] > lev:
        return nan
    below = np.flatnonzero(ll <= lev)
    if below[-1] == ll.size - 1:  # the curve ends below the level: no threshold inside the grid
        return nan
    i = int(below[-1]) + 1
    frac = (lev - ll[i - 1]) / (ll[i] - ll[i - 1])
    return float(10 ** lx[i - 1]), float(10 ** lx[i]), float(10 ** (lx[i - 1] + frac * (lx[i] - lx[i - 1])))


def interpolation_threshold(x, loss, *, level: float | None = None, min_decades: float = 2.0) -> float:
    """Where the final training loss leaves the interpolation floor, from (x, loss) pairs (x = τ, n or κ).

    Works on log10 loss. The level is ``min_decades`` decades below the largest loss unless given: above the
    threshold the least-squares residual grows like (1 - p/n) times an O(1) error, so it crosses any such level
    within a fraction of a percent of n = p, while runs below the threshold that have not fully converged (their
    loss decays slowly near n = p) mostly stay below it. The threshold is the last upward crossing of the level,
    interpolated linearly in (log x, log loss). NaN when the losses span fewer than ``min_decades`` decades (no
    transition in the grid) or when the first point is already above the level (the threshold lies below the
    grid).
    """
    return threshold_cell(x, loss, level=level, min_decades=min_decades)[2]


def cumsum_threshold(x, loss, frac: float = 0.9995) -> float:
    """The authors' heuristic (their Fig. 5 scripts): with r_i = L_0 / L_i over increasing x, the first x at which
    the cumulative sum of r reaches ``frac`` of its total."""
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
    import pandas as pd  # lazily: `iclab reproduce list` imports every figure module (pandas: +0.5 s measured)

    rows = []
    for _, r in df.iterrows():
        m = len(r["train_loss"])
        for i in range(m):
            row = {"model": r["model"], "d": int(r["d"]), "run": r["run"][i], "tau": r["x_tau"][i],
                   "kappa": from_json_number(r["x_kappa"][i]), "n": r["n"][i], "n_params": r["n_params"],
                   "k": r["k"][i] if isinstance(r.get("k"), list) else 0}
            for key in ("train_loss", "e_icl", "e_idg", "g_task", "round", *EXACT_KEYS):
                if key in r and isinstance(r[key], list):
                    row[key] = r[key][i]
            rows.append(row)
    return pd.DataFrame(rows)


def bootstrap_mean(values, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Mean of ``values`` (NaNs dropped) with its bootstrap standard error and percentile interval at ``level``
    over resampled values (runs). {"mean", "se", "lo", "hi", "n"}; se, lo, hi are NaN below two values."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    out = {"mean": float(v.mean()) if v.size else math.nan, "se": math.nan, "lo": math.nan, "hi": math.nan,
           "n": int(v.size)}
    if v.size >= 2:
        means = np.random.default_rng(seed).choice(v, (n_boot, v.size)).mean(axis=1)
        q = (1 - level) / 2
        out.update(se=float(means.std(ddof=1)), lo=float(np.quantile(means, q)), hi=float(np.quantile(means, 1 - q)))
    return out


SHIFT_RANGE = (-0.9, 3.0)  # the shift s of the corrected fit, in units of the smallest d (d + s > 0)


def _fit_log(d, n_star, shift: float | None):
    """Least squares of log n* on [log(d + shift), 1] (``shift`` None: on [log d, 1]): (a, b, residual sum of
    squares)."""
    X = np.c_[np.log(d + (shift or 0.0)), np.ones(len(d))]
    Y = np.log(n_star)
    coef, *_ = np.linalg.lstsq(X, Y, rcond=None)
    resid = Y - X @ coef
    return float(coef[0]), float(coef[1]), float(resid @ resid)


def _fit_shifted(d, n_star, correction: bool) -> tuple[float, float, float, float]:
    """(a, b, s, regression SE of a) of log n* = a log(d + s) + b (s = 0 without ``correction``). s is found by
    profiling: for fixed s the fit is linear in (a, b), and the residual sum of squares is minimised over s in
    SHIFT_RANGE x min(d) (scipy's bounded Brent). The SE comes from the residuals and the Jacobian of all fitted
    parameters, [log(d + s), 1, a/(d + s)] (NaN without degrees of freedom)."""
    s = 0.0
    if correction:
        from scipy.optimize import minimize_scalar  # lazily: scipy costs a worker start-up ~0.3 s

        lo, hi = (f * float(np.min(d)) for f in SHIFT_RANGE)
        s = float(minimize_scalar(lambda v: _fit_log(d, n_star, v)[2], bounds=(lo, hi), method="bounded",
                                  options={"xatol": 1e-6}).x)
    a, b, rss = _fit_log(d, n_star, s)
    cols = [np.log(d + s), np.ones(len(d))] + ([a / (d + s)] if correction else [])
    J = np.stack(cols, axis=1)
    dof = len(d) - J.shape[1]
    se = float(np.sqrt(rss / dof * np.linalg.inv(J.T @ J)[0, 0])) if dof > 0 else math.nan
    return a, b, s, se


def fit_exponent_runs(per_run, *, correction: bool = True, n_boot: int = 400, seed: int = 0) -> dict[str, float]:
    """The exponent a of n* = e^b (d + s)^a (s = 0 without ``correction``) fitted to the run-mean thresholds of
    each d.

    per_run: rows (d, n_star), several runs per d. Why the shift s: every model's threshold is a parameter count,
    a polynomial c2 d² + c1 d + c0 in d (h = d) = c2 (d + c1/(2 c2))² + O(1), so n* ∝ d² means a = 2 with
    s = c1/(2 c2) and an error of relative order 1/d² only; the plain log-log slope over d ≤ 16 is biased by the
    linear term (the exact reduced-model threshold d(d+1) gives a plain slope of 1.89 over d = 4..16), and so is
    a fit with a c/d term in the log when c1/c2 is large (K, Q, V linear attention interpolates up to
    n ≈ d² + 4d + 1, measured at d = 4..16, where a c/d fit gives 1.89, the shifted fit 1.94 ± 0.07).
    Returns a, b, c (the shift s; 0 without ``correction``), se_a = sqrt(se_boot² + se_fit²): se_boot from refits
    to run-resampled means (the bootstrap over runs), se_fit the regression SE from the residuals about the fit
    (what the fitted form leaves out); and the number of d values used.
    """
    d = np.asarray(per_run["d"], dtype=float)
    n_star = np.asarray(per_run["n_star"], dtype=float)
    ok = np.isfinite(n_star) & (n_star > 0)
    d, n_star = d[ok], n_star[ok]
    ds = np.unique(d)
    k = 3 if correction else 2
    out = {"a": math.nan, "b": math.nan, "c": math.nan, "se_a": math.nan, "se_boot": math.nan,
           "se_fit": math.nan, "n_d": int(ds.size), "correction": bool(correction)}
    if ds.size < k:
        return out
    groups = [n_star[d == v] for v in ds]
    a, b, shift, se_fit = _fit_shifted(ds, np.array([g.mean() for g in groups]), correction)
    rng = np.random.default_rng(seed)
    means = np.stack([rng.choice(g, (n_boot, g.size)).mean(axis=1) for g in groups], axis=1)  # (n_boot, n_d)
    boots = [_fit_shifted(ds, m, correction)[0] for m in means]
    se_boot = float(np.std(boots, ddof=1))
    out.update(a=a, b=b, c=shift, se_boot=se_boot, se_fit=se_fit,
               se_a=float(math.hypot(se_boot, se_fit if np.isfinite(se_fit) else 0.0)))
    return out


def thresholds(members, *, n_boot: int = 2000) -> tuple[Any, Any, Any]:
    """Interpolation thresholds and test-error peaks of Fig. 5.

    Returns (per_run: model, d, run, tau_star, cell_lo, cell_hi (its grid cell), tau_star_cumsum, n_star;
    per_d: model, d, runs, tau_star (run mean), tau_se, tau_lo, tau_hi (bootstrap 95% CI over runs), thr_lo,
    thr_hi (that CI joined with the runs' cells: the threshold's interval), n_star,
    tau_peak (argmax of the run-median test error), peak_lo, peak_hi (its bracket: the neighbouring grid points);
    fits: model, a, se_a, se_boot, se_fit, b, c (the shift s of n* = e^b (d + s)^a), a_plain, se_plain (s = 0),
    n_d)."""
    import pandas as pd  # lazily: `iclab reproduce list` imports every figure module (pandas: +0.5 s measured)

    per_run = []
    for (model, d, run), g in members.groupby(["model", "d", "run"]):
        lo, hi, t = threshold_cell(g["tau"], g["train_loss"], min_decades=FIG5_DECADES)
        per_run.append({"model": model, "d": d, "run": run, "tau_star": t, "cell_lo": lo, "cell_hi": hi,
                        "tau_star_cumsum": cumsum_threshold(g["tau"], g["train_loss"]), "n_star": t * d * d})
    per_run = pd.DataFrame(per_run)
    per_d = []
    for (model, d), g in per_run.groupby(["model", "d"]):
        b = bootstrap_mean(g["tau_star"], n_boot=n_boot, seed=int(d))
        m = members[(members["model"] == model) & (members["d"] == d)]
        # the median over runs: near n = p the test error is heavy-tailed across runs (a least-squares fit's error
        # grows like 1/σ_min² of its design), so one run can move the mean's argmax by cells (linear attention,
        # d = 6: one run's 50 against a median of 11 at the cell past the threshold)
        err = m.groupby("tau")["e_icl"].median()
        j = int(np.argmax(err.to_numpy()))
        grid = err.index.to_numpy()
        # the peak's bracket: a unimodal curve whose largest sample is at grid[j] has its maximum between the
        # neighbouring samples, not within half a cell (that holds only for a peak symmetric about its maximum)
        peak_lo = grid[j - 1] if j > 0 else grid[j]
        peak_hi = grid[j + 1] if j + 1 < grid.size else grid[j]
        # the threshold is known only to within its grid cell: its interval is the bootstrap CI joined with the
        # runs' crossing cells (at integer resolution the loss is 0 at n = p and > 0 at p + 1, nothing between)
        thr_lo, thr_hi = np.nanmin([b["lo"], g["cell_lo"].min()]), np.nanmax([b["hi"], g["cell_hi"].max()])
        per_d.append({"model": model, "d": d, "runs": b["n"], "tau_star": b["mean"], "tau_se": b["se"],
                      "tau_lo": b["lo"], "tau_hi": b["hi"], "thr_lo": thr_lo, "thr_hi": thr_hi,
                      "n_star": b["mean"] * d * d,
                      "tau_peak": float(grid[j]), "peak_lo": float(peak_lo), "peak_hi": float(peak_hi)})
    fits = []
    for model, g in per_run.groupby("model"):
        full, plain = fit_exponent_runs(g), fit_exponent_runs(g, correction=False)
        fits.append({"model": model, **{k: full[k] for k in ("a", "se_a", "se_boot", "se_fit", "b", "c", "n_d")},
                     "a_plain": plain["a"], "se_plain": plain["se_a"]})
    return per_run, pd.DataFrame(per_d), pd.DataFrame(fits)


def save_table(df, out_dir: Path, name: str) -> Path:
    path = Path(out_dir) / f"{name}.csv"
    df.to_csv(path, index=False)
    return path
