"""Shared pieces of the Yang et al. 2024 figures: the settings groups, the dictionary of a seed, training of the
one-layer model (exact population loss or sampled prompts) and of the 4-layer transformer baseline (fixed steps, or
a FLOP or wall-clock budget for Fig. 5), and their evaluation.

Settings groups (frozen dataclasses; a figure's ``Settings`` inherits one and adds its own fields):
:class:`DictionarySettings` (the dictionary and its representations), :class:`DataSettings` (+ the prompts),
:class:`OneLayerSettings` (+ the one-layer model's training) and :class:`FourLayerSettings` (+ the 4-layer stack).

Randomness per seed s (keys of :func:`iclab.train.seed_keys`): the dictionary comes from the "dataset" key, the
model initialisation from the "init" key, training prompts from fold_in(data key, t), and the held-out test sets
(in-domain and OOD, ``n_test`` prompts each, the same at every evaluation) from the "eval" key.

Losses follow ``iclab.theory.yang2024``: training loss (1/2K) E sum_k (yhat_k - y_k)^2 over all K tokens (the
paper's population loss, eq. (9)); inference loss (1/K) |yhat - yhat*|^2 averaged over the test prompts, yhat* =
ridge over the basis with m tau (Theorem 2).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.tree_util import Partial

from iclab.models.template_attention import TemplateAttention
from iclab.models.transformer import Transformer
from iclab.settings import param
from iclab.tasks.templates import BASES, TemplateTask, make_dictionary
from iclab.theory import yang2024 as Y
from iclab.train import seed_keys, time_budget, train_fresh
from iclab.validation import UserInputError, check_int

# ---- settings groups -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DictionarySettings:
    """The fixed dictionary: K tokens in R^d with m-dimensional representations (Yang et al. 2024, Sec. 5: tokens
    and representations drawn from standard Gaussians), noise tau per representation coordinate."""

    K: int = param(200, lo=2, doc="dictionary size (tokens)")
    d: int = param(100, lo=1, doc="token dimension")
    m: int = param(20, lo=1, doc="basis functions (size of a representation)")
    tau: float = param(0.01, lo=0, doc="noise variance per representation coordinate")
    basis: str = param("gaussian", choices=BASES, doc="representations: gaussian (the paper's) or a function basis")
    unit_norm: bool = param(True, doc="unit-norm tokens (the theory's assumption)")

    def __post_init__(self):
        if self.basis != "gaussian" and self.unit_norm and self.d < 2:
            raise UserInputError("d must be >= 2 for unit-norm tokens with an explicit basis (got d = 1; "
                                 "--set unit_norm=false for scalar inputs)")


@dataclass(frozen=True)
class DataSettings(DictionarySettings):
    """The prompts: the first N tokens labelled (N < K), and the size of the held-out test sets. Defaults: Fig. 2's
    N = 30, K = 200, d = 100, m = 20; tau is not stated in the paper, 0.01 is Fig. 3's value."""

    N: int = param(30, lo=1, doc="labelled tokens per prompt (< K)")
    n_test: int = param(200, lo=1, doc="prompts in each held-out test set (in domain, out of domain)")

    def __post_init__(self):
        super().__post_init__()
        check_int("N", self.N, lo=1, hi=self.K - 1)


@dataclass(frozen=True)
class OneLayerSettings(DataSettings):
    """The one-layer model's training (Yang et al. 2024, Sec. 3: Adam at lr 1e-4, Q entries N(0, beta²), w = 0, on
    the population loss (9); or the two-rate GD of eq. (10))."""

    beta: float = param(1.0, lo=0, lo_open=True, doc="scale of the initial Q entries, N(0, beta²)")
    optimizer: str = param("adam", choices=("adam", "gd"), doc="adam, or gd: the two-rate GD of eq. (10)")
    lr: float = param(1e-3, lo=0, lo_open=True, doc="learning rate (eta_Q for gd)")
    gamma: float = param(1.0, lo=0, lo_open=True, doc="gd only: eta_w = gamma² eta_Q")
    loss: str = param("population", choices=("population", "sampled"),
                      doc="population: the exact loss (9); sampled: fresh prompts every step")
    batch: int = param(256, lo=1, doc="prompts per step (loss=sampled)")
    steps: int = param(3000, lo=1, doc="optimiser steps")


@dataclass(frozen=True)
class FourLayerSettings(DataSettings):
    """The 4-layer transformer baseline's stack (Yang et al. 2024, Sec. 5: d_model = 256, d_ff = 512)."""

    layers: int = param(4, lo=1, doc="transformer layers")
    d_model: int = param(256, lo=1, doc="model width (divisible by the heads)")
    d_ff: int = param(512, lo=1, doc="MLP width")


# the doc of each trained figure's ``scale`` field: the scale's name goes into every config (for the footer), so
# that a run with --set overrides keeps the configs, and the stored results, of the scale it starts from


def data_config(s: DataSettings) -> dict[str, Any]:
    """The data-model part of a point's config (its keys and their order are part of stored configs)."""
    return {"N": s.N, "K": s.K, "d": s.d, "m": s.m, "tau": s.tau, "basis": s.basis, "unit_norm": s.unit_norm,
            "n_test": s.n_test}


def check_heads(d_model: int, heads, name: str = "every H") -> None:
    """Every head count must divide d_model (the 4-layer stack splits d_model among its heads)."""
    for H in heads:
        if d_model % H:
            raise UserInputError(f"d_model must be divisible by {name} (got d_model {d_model}, H {H})")


# ---- one seed's task ---------------------------------------------------------------------------------------------


def build_task(cfg: dict[str, Any], seed: int):
    """The dictionary and prompt distribution of one seed: (TemplateTask, reps as float64 numpy (K, m))."""
    dic = make_dictionary(seed_keys(seed)[3], cfg["K"], cfg["d"], cfg["m"], basis=cfg["basis"],
                          unit_norm=cfg["unit_norm"])
    return TemplateTask(dic, cfg["N"], cfg["tau"]), np.asarray(dic.reps, dtype=np.float64)


@lru_cache(maxsize=16)
def two_rate_gd(eta_q: float, gamma: float) -> optax.GradientTransformation:
    """Plain GD with the paper's two step sizes (eq. 10): eta_Q on every Q_h, eta_w = gamma^2 eta_Q on w.
    Memoised, like :func:`adam`, so that equal step sizes reuse the compiled training program."""

    def update(grads, state, params=None):
        step = jax.tree_util.tree_map(lambda g: -eta_q * g, grads)
        return eqx.tree_at(lambda m: m.w, step, replace_fn=lambda w: gamma**2 * w), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


adam = lru_cache(maxsize=16)(optax.adam)  # optax.adam(lr), the same object for the same lr (see two_rate_gd)


def _test_sets(task, key, n_test: int):
    k_in, k_ood = jax.random.split(key)
    return task.sample(k_in, n_test, domain="in").y, task.sample(k_ood, n_test, domain="ood").y


def _inference(pred, y, A):
    """mean over prompts of (1/K)|pred - yhat*|^2 and of (1/K)|yhat*|^2."""
    star = y[:, : A.shape[0]] @ A
    K = A.shape[1]
    return jnp.mean(jnp.sum((pred - star) ** 2, -1)) / K, jnp.mean(jnp.sum(star**2, -1)) / K


def _labels(task, batch: int, key):
    """sample(key): the labels (batch, K) of ``batch`` fresh in-domain prompts."""
    return task.sample(key, batch).y


def _history(result, L_star: float | None = None) -> dict[str, Any]:
    out = {k: v[0].tolist() for k, v in result.history.items()}
    out["wall_train"] = float(result.wall_time)
    out["steps_per_s"] = float(result.steps_per_s)
    if L_star is not None:
        out["L_star"] = L_star
    return out


def stack_runs(histories) -> np.ndarray:
    """The per-seed history lists of one column (e.g. ``train_loss``) as a float array (seeds, records)."""
    return np.stack([np.asarray(v, dtype=float) for v in histories])


# ---- the one-layer model -----------------------------------------------------------------------------------------
# Module-level functions with their data as Partial arguments (not closures): a second seed of the same shapes
# reuses the compiled training program (see iclab.train.loop).


def _one_layer(d: int, K: int, N: int, heads: int, beta: float, key):
    return TemplateAttention(d, key=key, K=K, N=N, heads=heads, beta=beta)


def _population_loss(tokens, A, G, L_star, model, batch):
    return Y.excess_loss(model.coefficients(tokens), A, G) + L_star


def _sampled_loss(tokens, model, y):
    return Y.sampled_loss(model.coefficients(tokens), y)


def _no_batch(key):
    return jnp.zeros(())  # the population loss needs no prompts


def _one_layer_metrics(tokens, A, G, L_star, S_in, S_ood, y_in, y_ood, model, key):
    N, K = A.shape
    coef = model.coefficients(tokens)
    D = coef - A
    excess = Y.excess_loss(coef, A, G)
    inf_in, star_in = _inference(y_in[:, :N] @ coef, y_in, A)
    inf_ood, star_ood = _inference(y_ood[:, :N] @ coef, y_ood, A)
    return {"population_loss": excess + L_star, "excess": excess, "inference_in": inf_in,
            "inference_ood": inf_ood, "inference_in_exact": jnp.sum(D * (S_in @ D)) / K,
            "inference_ood_exact": jnp.sum(D * (S_ood @ D)) / K,
            "ystar_in": star_in, "ystar_ood": star_ood}


def train_one_layer(cfg: dict[str, Any], seed: int, *, progress: bool = False) -> dict[str, Any]:
    """Train the one-layer model (Yang et al. 2024, eq. (8)) on the exact population loss (``loss="population"``,
    as the paper did) or on fresh prompts (``"sampled"``, ``batch`` per step). Returns the per-record history
    (lists): ``step``, ``train_loss`` (window mean), ``population_loss`` (exact L at the record), ``excess``
    (L - L*), test-set inference losses ``inference_in`` / ``inference_ood``, their exact expectations ``*_exact``,
    the test-set (1/K)|yhat*|^2 ``ystar_in`` / ``ystar_ood``; and ``L_star``."""
    task, reps = build_task(cfg, seed)
    N, K, tau = cfg["N"], cfg["K"], cfg["tau"]
    prob = Y.problem(reps, N, tau)
    tokens = task.dictionary.tokens
    A, G = jnp.asarray(prob.A, jnp.float32), jnp.asarray(prob.G, jnp.float32)
    L_star = jnp.asarray(prob.L_star, jnp.float32)
    S_in = jnp.asarray(Y.label_second_moment(reps, N, tau, 0.0, 1.0), jnp.float32)
    S_ood = jnp.asarray(Y.label_second_moment(reps, N, tau, 1.0, 4.0), jnp.float32)
    y_in, y_ood = _test_sets(task, seed_keys(seed)[2], cfg["n_test"])

    if cfg["loss"] == "population":
        loss, sample = Partial(_population_loss, tokens, A, G, L_star), _no_batch
    else:
        loss, sample = Partial(_sampled_loss, tokens), Partial(_labels, task, cfg["batch"])
    opt = adam(cfg["lr"]) if cfg["optimizer"] == "adam" else two_rate_gd(cfg["lr"], cfg["gamma"])
    result = train_fresh(Partial(_one_layer, cfg["d"], K, N, cfg["H"], cfg["beta"]), loss, sample, seeds=[seed],
                         steps=cfg["steps"], optimizer=opt, chunk=min(cfg["eval_every"], cfg["steps"]),
                         evaluate=Partial(_one_layer_metrics, tokens, A, G, L_star, S_in, S_ood, y_in, y_ood),
                         eval_every=cfg["eval_every"], progress=f"1-layer H={cfg['H']}" if progress else None)
    return _history(result, prob.L_star)


# ---- the 4-layer baseline ----------------------------------------------------------------------------------------


def four_layer_inputs(tokens, y, N: int):
    """Token matrices of the 4-layer baseline: rows [v_k, y_k] for the N prompt tokens and [v_k, 0] for the rest.
    tokens (K, d), y (b, K) -> (b, K, d + 1)."""
    labels = jnp.where(jnp.arange(y.shape[-1]) < N, y, 0.0)
    return jnp.concatenate([jnp.broadcast_to(tokens, (*y.shape, tokens.shape[-1])), labels[..., None]], -1)


def _four_layer(d: int, layers: int, d_model: int, d_ff: int, heads: int, key):
    return Transformer(d, key=key, n_layers=layers, d_model=d_model, d_ff=d_ff, heads=heads, n_in=d + 1)


def _four_layer_loss(tokens, N: int, model, y):
    pred = model.forward_tokens(four_layer_inputs(tokens, y, N))
    return jnp.mean(jnp.sum((pred - y) ** 2, -1)) / (2 * y.shape[-1])


def _four_layer_metrics(tokens, A, y_in, y_ood, model, key):
    N, K = A.shape
    out = {}
    for name, y in (("in", y_in), ("ood", y_ood)):
        pred = jax.lax.map(lambda yy: model.forward_tokens(four_layer_inputs(tokens, yy[None], N))[0], y,
                           batch_size=min(25, len(y)))
        out[f"inference_{name}"], out[f"ystar_{name}"] = _inference(pred, y, A)
        out[f"test_loss_{name}"] = jnp.mean(jnp.sum((pred - y) ** 2, -1)) / (2 * K)
    return out


def _four_layer_setup(cfg: dict[str, Any], seed: int):
    """(init, loss, sample, evaluate, L*) of the 4-layer baseline on one seed's dictionary."""
    task, reps = build_task(cfg, seed)
    N = cfg["N"]
    prob = Y.problem(reps, N, cfg["tau"])
    tokens = task.dictionary.tokens
    A = jnp.asarray(prob.A, jnp.float32)
    y_in, y_ood = _test_sets(task, seed_keys(seed)[2], cfg["n_test"])
    init = Partial(_four_layer, cfg["d"], cfg["layers"], cfg["d_model"], cfg["d_ff"], cfg["H"])
    return (init, Partial(_four_layer_loss, tokens, N), Partial(_labels, task, cfg["batch"]),
            Partial(_four_layer_metrics, tokens, A, y_in, y_ood), prob.L_star)


def train_four_layer(cfg: dict[str, Any], seed: int, *, progress: bool = False) -> dict[str, Any]:
    """Train the 4-layer baseline (a pre-LN transformer, Yang et al. 2024, Sec. 5) on fresh prompts (Adam) for
    ``steps`` steps. History as :func:`train_one_layer`, with ``test_loss_in`` / ``test_loss_ood`` (the training
    loss on the test prompts) instead of the exact quantities, which this model has none of."""
    init, loss, sample, evaluate, L_star = _four_layer_setup(cfg, seed)
    result = train_fresh(init, loss, sample, seeds=[seed], steps=cfg["steps"], optimizer=adam(cfg["lr"]),
                         chunk=min(cfg["eval_every"], cfg["steps"]), evaluate=evaluate,
                         eval_every=cfg["eval_every"], progress=f"4-layer H={cfg['H']}" if progress else None)
    return _history(result, L_star)


def train_four_layer_budget(cfg: dict[str, Any], seed: int, *, budget_s: float | None = None,
                            max_steps: int | None = None) -> dict[str, Any]:
    """Train the 4-layer baseline for a wall-clock budget of ``budget_s`` seconds (Fig. 5, compilation excluded)
    and/or at most ``max_steps`` steps (a compute budget: see :func:`four_layer_step_flops`), in whole chunks of
    ``eval_every`` steps, at least one; at least one of the two must be given.

    Returns ``step``, ``time`` (seconds of training) and ``train_loss`` per chunk, the final evaluation,
    ``L_star``, ``final_train_loss``, ``steps_done``, ``wall_train`` and ``cpu_s`` (this run's CPU-seconds,
    compilation included, all threads).
    """
    if budget_s is None and max_steps is None:
        raise ValueError("train_four_layer_budget needs budget_s or max_steps")
    cpu0 = time.process_time()
    init, loss, sample, evaluate, L_star = _four_layer_setup(cfg, seed)
    chunk = cfg["eval_every"]
    steps = None if max_steps is None else max(max_steps, chunk) // chunk * chunk
    result = train_fresh(init, loss, sample, seeds=[seed], steps=steps, optimizer=adam(cfg["lr"]), chunk=chunk,
                         eval_every=chunk, stop_when=None if budget_s is None else time_budget(budget_s))
    final = {k: float(v) for k, v in eqx.filter_jit(evaluate)(result.seed_model(0), seed_keys(seed)[2]).items()}
    hist = {"step": result.history["step"][0].tolist(), "time": result.record_time.tolist(),
            "train_loss": result.history["train_loss"][0].tolist()}
    return {**hist, **final, "L_star": L_star, "final_train_loss": hist["train_loss"][-1],
            "steps_done": result.steps, "wall_train": hist["time"][-1], "cpu_s": time.process_time() - cpu0}


def draw_reps(seed: int, draws: int, K: int, d: int, m: int, basis: str = "gaussian",
              unit_norm: bool = True) -> np.ndarray:
    """Representations of ``draws`` independent dictionaries: (draws, K, m) float64 (keys split from seed)."""
    draws = check_int("draws", draws, lo=1)
    keys = jax.random.split(jax.random.PRNGKey(seed), draws)
    reps = jax.vmap(lambda k: make_dictionary(k, K, d, m, basis=basis, unit_norm=unit_norm).reps)(keys)
    return np.asarray(reps, dtype=np.float64)


# ---- claims helpers (numbers the figures' claims are computed from) ------------------------------------------------

def steps_to_reach(steps, ratio, level: float) -> float:
    """The first recorded step at which ``ratio`` (e.g. L / L*) is <= ``level``; ``inf`` if it never is.
    steps, ratio: (records,)."""
    steps, ratio = np.asarray(steps, dtype=float), np.asarray(ratio, dtype=float)
    hit = np.flatnonzero(ratio <= level)
    return float(steps[hit[0]]) if hit.size else float("inf")


def mean_sem(values) -> tuple[float, float | None]:
    """Mean and standard error over seeds; the SE is ``None`` for a single seed (the run cannot give one).
    An infinite value (e.g. a level never reached) makes the mean infinite and the SE ``None``."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return float("nan"), None
    mean = float(v.mean())
    if v.size < 2 or not np.isfinite(v).all():
        return mean, None
    return mean, float(v.std(ddof=1) / np.sqrt(v.size))


def fall(values) -> float:
    """How many times a loss fell over a run: first record / last record (records after the first window, so
    the fall from the initialisation is larger still). values: (records,)."""
    v = np.asarray(values, dtype=float)
    return float(v[0] / v[-1])


# ---- compute budget of the 4-layer baseline (Fig. 5) ----------------------------------------------------------------

# Floating-point operations per attention-score element for the softmax, forward + backward, counting an exp as
# one: forward 1/sqrt(d_head) scale, max, subtract, exp, sum, divide (6); backward: product with the incoming
# gradient, row sum, subtract, product with the probabilities, scale (5). XLA's cost analysis of the compiled step
# gives 9.6 (T = 50, D = 16, H = 1..16) to 11.9 (T = 40, H = 1..8) per element, flops + transcendentals.
SOFTMAX_FLOPS = 11


def matmul_flops(T: int, n_in: int, d_model: int, d_ff: int, layers: int, batch: int) -> int:
    """Matrix-product FLOPs (2 per multiply-add) of one training step of the pre-LN transformer (``iclab.models.
    transformer``): forward + backward, batch prompts of T tokens of size n_in.

    Forward, per prompt: embed 2 T n_in D; per layer Q, K, V and output projections 4 * 2 T D^2, scores and
    attention-weighted values 2 * 2 T^2 D (the sum over heads of T^2 D/H each, so independent of H), MLP
    2 * 2 T D d_ff; readout 2 T D. The backward pass costs twice the forward's products (input and weight
    gradients), except the embedding, whose input needs no gradient (once)."""
    D = d_model
    per_layer = 8 * T * D * D + 4 * T * T * D + 4 * T * D * d_ff
    forward = 2 * T * n_in * D + layers * per_layer + 2 * T * D
    return batch * (3 * forward - 2 * T * n_in * D)


def step_flops(T: int, n_in: int, d_model: int, d_ff: int, layers: int, heads: int, batch: int) -> int:
    """FLOPs of one training step (forward + backward) of the 4-layer baseline: the matrix products
    (:func:`matmul_flops`) plus the H softmaxes over T x T scores per layer (``SOFTMAX_FLOPS`` each). The layer
    norms, GELU, residual adds and Adam update (independent of H, about 20% of XLA's count at small sizes) are
    left out. This is what makes the budget depend on H: the products do not."""
    return matmul_flops(T, n_in, d_model, d_ff, layers, batch) + SOFTMAX_FLOPS * layers * batch * heads * T * T


def four_layer_step_flops(cfg: dict[str, Any]) -> int:
    """:func:`step_flops` of a Fig. 2 / Fig. 5 4-layer config (T = K tokens of size d + 1)."""
    return step_flops(cfg["K"], cfg["d"] + 1, cfg["d_model"], cfg["d_ff"], cfg["layers"], cfg["H"], cfg["batch"])
