"""Shared pieces of the Yang et al. 2024 figures (``papers/yang2024.md`` §5): configs with ``--set`` overrides,
the dictionary of a seed, training of the one-layer model (exact population loss or sampled prompts) and of the
4-layer transformer baseline (fixed steps, or a fixed wall-clock budget for Fig. 5), and their evaluation.

Randomness per seed s (keys of :func:`iclab.train.seed_keys`): the dictionary comes from the "dataset" key, the
model initialisation from the "init" key, training prompts from fold_in(data key, t), and the held-out test sets
(in-domain and OOD, ``n_test`` prompts each, the same at every evaluation) from the "eval" key.

Losses follow ``iclab.theory.yang2024``: training loss (1/2K) E sum_k (yhat_k - y_k)^2 over all K tokens;
inference loss (1/K) |yhat - yhat*|^2 averaged over the test prompts, yhat* = ridge over the basis with m tau.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from iclab.validation import UserInputError, check_choice, check_int, check_nonnegative, check_positive

# The data model shared by every figure (Fig. 2 sizes: N = 30, K = 200, d = 100, m = 20; tau is not stated in
# the paper, 0.01 is Fig. 3's value).
DATA = {"N": 30, "K": 200, "d": 100, "m": 20, "tau": 0.01, "basis": "gaussian", "unit_norm": True, "n_test": 200}
ONE_LAYER = {"H": 64, "beta": 1.0, "optimizer": "adam", "lr": 1e-3, "gamma": 1.0, "loss": "population",
             "batch": 256, "steps": 3000, "eval_every": 100}
FOUR_LAYER = {"H": 8, "layers": 4, "d_model": 256, "d_ff": 512, "lr": 1e-4, "batch": 256, "steps": 5000,
              "eval_every": 100}
# quick scale (a 2-core laptop): a narrower 4-layer stack and smaller batches; paper scale is the paper's
# d_model = 256, d_ff = 512, batch 256. Measured (Fig. 2(b)): the former quick stack (d_model 32, d_ff 64,
# batch 16, lr 3e-3, 300 steps) stays at the loss of copying the N prompt labels (about 40 L*); this one falls
# 11x (training loss) and 16x (in-domain inference loss) in 2000 steps.
FOUR_LAYER_QUICK = {"d_model": 64, "d_ff": 128, "lr": 1e-3, "batch": 32, "steps": 2000, "eval_every": 100}
# Fig. 5 runs 18 of these (6 H x 3 seeds), so its quick stack is the narrower, cheaper one
FOUR_LAYER_TINY = {"d_model": 32, "d_ff": 64, "lr": 3e-3, "batch": 16}


def merge(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Apply the user's ``--set`` overrides to a figure's defaults; unknown keys raise ``ValueError``."""
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise UserInputError(f"--set key must be one of {', '.join(sorted(defaults))} (got {unknown[0]!r})")
    out = dict(defaults)
    for key, value in overrides.items():
        out[key] = _coerce(key, value, defaults[key])
    return out


def _coerce(key: str, value, default):
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise UserInputError(f"{key} must be true or false (got {value!r})")
        return value
    if isinstance(default, int):
        return check_int(key, value)
    if isinstance(default, float):
        if isinstance(value, bool):
            raise UserInputError(f"{key} must be a real number (got {value!r})")
        return float(check_nonnegative(key, value))
    if isinstance(default, list):
        from iclab.grid import parse_values

        vals = value if isinstance(value, list) else parse_values(key, str(value)).tolist()
        return [check_int(key, v) if isinstance(default[0], int) else float(v) for v in vals]
    return value


def validate(cfg: dict[str, Any]) -> dict[str, Any]:
    """Check the data-model parameters (N < K, m >= 1, tau >= 0, a known basis, ...) before anything runs."""
    from iclab.tasks.templates import BASES

    K = check_int("K", cfg["K"], lo=2)
    check_int("N", cfg["N"], lo=1, hi=K - 1)
    check_int("m", cfg["m"], lo=1)
    d = check_int("d", cfg["d"], lo=1)
    check_nonnegative("tau", cfg["tau"])
    if check_choice("basis", cfg["basis"], BASES) != "gaussian" and cfg["unit_norm"] and d < 2:
        raise UserInputError("d must be >= 2 for unit-norm tokens with an explicit basis (got d = 1; "
                         "--set unit_norm=false for scalar inputs)")
    check_int("n_test", cfg["n_test"], lo=1)
    for key in ("H", "steps", "batch", "eval_every", "layers", "d_model", "d_ff"):
        if key in cfg:
            check_int(key, cfg[key], lo=1)
    for key in ("lr", "beta", "gamma"):
        if key in cfg:
            check_positive(key, cfg[key])
    if "optimizer" in cfg:
        check_choice("optimizer", cfg["optimizer"], ("adam", "gd"))
    if "loss" in cfg:
        check_choice("loss", cfg["loss"], ("population", "sampled"))
    return cfg


def build_task(cfg: dict[str, Any], seed: int):
    """The dictionary and prompt distribution of one seed: (TemplateTask, reps as float64 numpy (K, m))."""
    from iclab.tasks.templates import TemplateTask, make_dictionary
    from iclab.train import seed_keys

    dic = make_dictionary(seed_keys(seed)[3], cfg["K"], cfg["d"], cfg["m"], basis=cfg["basis"],
                          unit_norm=cfg["unit_norm"])
    return TemplateTask(dic, cfg["N"], cfg["tau"]), np.asarray(dic.reps, dtype=np.float64)


def two_rate_gd(eta_q: float, gamma: float):
    """Plain GD with the paper's two step sizes (eq. 10): eta_Q on every Q_h, eta_w = gamma^2 eta_Q on w."""
    import equinox as eqx
    import jax
    import optax

    def update(grads, state, params=None):
        step = jax.tree_util.tree_map(lambda g: -eta_q * g, grads)
        return eqx.tree_at(lambda m: m.w, step, replace_fn=lambda w: gamma**2 * w), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def _test_sets(task, key, n_test: int):
    import jax

    k_in, k_ood = jax.random.split(key)
    return task.sample(k_in, n_test, domain="in").y, task.sample(k_ood, n_test, domain="ood").y


def _inference(pred, y, A):
    """mean over prompts of (1/K)|pred - yhat*|^2 and of (1/K)|yhat*|^2."""
    import jax.numpy as jnp

    star = y[:, : A.shape[0]] @ A
    K = A.shape[1]
    return jnp.mean(jnp.sum((pred - star) ** 2, -1)) / K, jnp.mean(jnp.sum(star**2, -1)) / K


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


def train_one_layer(cfg: dict[str, Any], seed: int, *, progress: bool = False) -> dict[str, Any]:
    """Train the one-layer model of §2.3 on the exact population loss (``loss="population"``, as the paper did)
    or on fresh prompts (``"sampled"``, ``batch`` per step). Returns the per-record history (lists): ``step``,
    ``train_loss`` (window mean), ``population_loss`` (exact L at the record), ``excess`` (L - L*), test-set
    inference losses ``inference_in`` / ``inference_ood``, their exact expectations ``*_exact``, the test-set
    (1/K)|yhat*|^2 ``ystar_in`` / ``ystar_ood``; and ``L_star``."""
    import jax.numpy as jnp
    import optax

    from iclab.models.template_attention import TemplateAttention
    from iclab.theory import yang2024 as Y
    from iclab.train import seed_keys, train_ensemble

    task, reps = build_task(cfg, seed)
    N, K, tau = cfg["N"], cfg["K"], cfg["tau"]
    prob = Y.problem(reps, N, tau)
    tokens = task.dictionary.tokens
    A, G = jnp.asarray(prob.A, jnp.float32), jnp.asarray(prob.G, jnp.float32)
    S_in = jnp.asarray(Y.label_second_moment(reps, N, tau, 0.0, 1.0), jnp.float32)
    S_ood = jnp.asarray(Y.label_second_moment(reps, N, tau, 1.0, 4.0), jnp.float32)
    y_in, y_ood = _test_sets(task, seed_keys(seed)[2], cfg["n_test"])

    def init(key):
        return TemplateAttention(cfg["d"], key=key, K=K, N=N, heads=cfg["H"], beta=cfg["beta"])

    if cfg["loss"] == "population":
        def loss(model, batch):
            return Y.excess_loss(model.coefficients(tokens), A, G) + prob.L_star

        def sample(key):
            return jnp.zeros(())
    else:
        def loss(model, y):
            return Y.sampled_loss(model.coefficients(tokens), y)

        def sample(key):
            return task.sample(key, cfg["batch"]).y

    def evaluate(model, key):
        coef = model.coefficients(tokens)
        D = coef - A
        excess = Y.excess_loss(coef, A, G)
        inf_in, star_in = _inference(y_in[:, :N] @ coef, y_in, A)
        inf_ood, star_ood = _inference(y_ood[:, :N] @ coef, y_ood, A)
        return {"population_loss": excess + prob.L_star, "excess": excess, "inference_in": inf_in,
                "inference_ood": inf_ood, "inference_in_exact": jnp.sum(D * (S_in @ D)) / K,
                "inference_ood_exact": jnp.sum(D * (S_ood @ D)) / K,
                "ystar_in": star_in, "ystar_ood": star_ood}

    opt = optax.adam(cfg["lr"]) if cfg["optimizer"] == "adam" else two_rate_gd(cfg["lr"], cfg["gamma"])
    result = train_ensemble(init, loss, sample, seeds=[seed], steps=cfg["steps"], optimizer=opt,
                            chunk=min(cfg["eval_every"], cfg["steps"]), evaluate=evaluate,
                            eval_every=cfg["eval_every"], progress=progress, description=f"1-layer H={cfg['H']}")
    return _history(result, prob.L_star)


def four_layer_inputs(tokens, y, N: int):
    """Token matrices of the 4-layer baseline: rows [v_k, y_k] for the N prompt tokens and [v_k, 0] for the rest.
    tokens (K, d), y (b, K) -> (b, K, d + 1)."""
    import jax.numpy as jnp

    labels = jnp.where(jnp.arange(y.shape[-1]) < N, y, 0.0)
    return jnp.concatenate([jnp.broadcast_to(tokens, (*y.shape, tokens.shape[-1])), labels[..., None]], -1)


def _four_layer_setup(cfg: dict[str, Any], seed: int):
    import jax
    import jax.numpy as jnp

    from iclab.models.transformer import Transformer
    from iclab.theory import yang2024 as Y
    from iclab.train import seed_keys

    task, reps = build_task(cfg, seed)
    N, K = cfg["N"], cfg["K"]
    prob = Y.problem(reps, N, cfg["tau"])
    tokens = task.dictionary.tokens
    A = jnp.asarray(prob.A, jnp.float32)
    y_in, y_ood = _test_sets(task, seed_keys(seed)[2], cfg["n_test"])

    def init(key):
        return Transformer(cfg["d"], key=key, n_layers=cfg["layers"], d_model=cfg["d_model"], d_ff=cfg["d_ff"],
                           heads=cfg["H"], n_in=cfg["d"] + 1)

    def loss(model, y):
        pred = model.forward_tokens(four_layer_inputs(tokens, y, N))
        return jnp.mean(jnp.sum((pred - y) ** 2, -1)) / (2 * K)

    def sample(key):
        return task.sample(key, cfg["batch"]).y

    def evaluate(model, key):
        out = {}
        for name, y in (("in", y_in), ("ood", y_ood)):
            pred = jax.lax.map(lambda yy: model.forward_tokens(four_layer_inputs(tokens, yy[None], N))[0], y,
                               batch_size=min(25, len(y)))
            out[f"inference_{name}"], out[f"ystar_{name}"] = _inference(pred, y, A)
            out[f"test_loss_{name}"] = jnp.mean(jnp.sum((pred - y) ** 2, -1)) / (2 * K)
        return out

    return init, loss, sample, evaluate, prob.L_star


def train_four_layer(cfg: dict[str, Any], seed: int, *, progress: bool = False) -> dict[str, Any]:
    """Train the 4-layer baseline (pre-LN transformer, §2.5) on fresh prompts (Adam) for ``steps`` steps.
    History as :func:`train_one_layer`, with ``test_loss_in`` / ``test_loss_ood`` (the training loss on the test
    prompts) instead of the exact quantities, which this model has none of."""
    import optax

    from iclab.train import train_ensemble

    init, loss, sample, evaluate, L_star = _four_layer_setup(cfg, seed)
    result = train_ensemble(init, loss, sample, seeds=[seed], steps=cfg["steps"], optimizer=optax.adam(cfg["lr"]),
                            chunk=min(cfg["eval_every"], cfg["steps"]), evaluate=evaluate,
                            eval_every=cfg["eval_every"], progress=progress, description=f"4-layer H={cfg['H']}")
    return _history(result, L_star)


def train_four_layer_budget(cfg: dict[str, Any], seed: int, budget_s: float | None,
                            max_steps: int | None = None) -> dict[str, Any]:
    """Train the 4-layer baseline for a fixed wall-clock budget (Fig. 5, compilation excluded) and/or at most
    ``max_steps`` steps (a compute budget: see :func:`four_layer_step_flops`); at least one must be given.

    :func:`iclab.train.train_ensemble` runs a fixed number of steps, so this runs its own compiled chunks of
    ``eval_every`` steps (same keys and data stream: batch t from fold_in(data key, t)) until the budget is spent.
    Returns ``step``, ``time`` and ``train_loss`` per chunk, the final evaluation and ``L_star``.
    """
    if budget_s is None and max_steps is None:
        raise ValueError("train_four_layer_budget needs budget_s or max_steps")
    cpu0 = time.process_time()
    import equinox as eqx
    import jax
    import optax

    from iclab.train import seed_keys

    init, loss, sample, evaluate, L_star = _four_layer_setup(cfg, seed)
    k_init, k_data, k_eval, _ = seed_keys(seed)
    params, static = eqx.partition(init(k_init), eqx.is_inexact_array)
    opt = optax.adam(cfg["lr"])
    state = opt.init(params)
    chunk = cfg["eval_every"]

    def run(p, s, t0):
        def body(carry, t):
            p, s = carry
            value, grads = jax.value_and_grad(lambda q: loss(eqx.combine(q, static), sample(
                jax.random.fold_in(k_data, t))))(p)
            updates, s = opt.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), value

        (p, s), values = jax.lax.scan(body, (p, s), t0 + jax.numpy.arange(chunk))
        return p, s, values.mean()

    step_fn = jax.jit(run).lower(params, state, 0).compile()
    hist: dict[str, list] = {"step": [], "time": [], "train_loss": []}
    t_start, t = time.perf_counter(), 0
    while ((budget_s is None or time.perf_counter() - t_start < budget_s)
           and (max_steps is None or t + chunk <= max(max_steps, chunk))):
        params, state, value = step_fn(params, state, t)
        value = float(value)
        if not np.isfinite(value):
            raise RuntimeError(f"training diverged: non-finite loss at step {t} (H = {cfg['H']}, seed {seed})")
        t += chunk
        hist["step"].append(t)
        hist["time"].append(time.perf_counter() - t_start)
        hist["train_loss"].append(value)
    final = {k: float(v) for k, v in jax.jit(evaluate)(eqx.combine(params, static), k_eval).items()}
    cpu = time.process_time() - cpu0  # this run's CPU-seconds, compilation included (all threads)
    return {**hist, **final, "L_star": L_star, "final_train_loss": hist["train_loss"][-1], "steps_done": t,
            "wall_train": hist["time"][-1], "cpu_s": cpu}


def draw_reps(seed: int, draws: int, K: int, d: int, m: int, basis: str = "gaussian",
              unit_norm: bool = True) -> np.ndarray:
    """Representations of ``draws`` independent dictionaries: (draws, K, m) float64 (keys split from seed)."""
    import jax

    from iclab.tasks.templates import make_dictionary

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
