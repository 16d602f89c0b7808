"""Training-engine speed at the authors' Lu Fig. 5 settings, and a vmapped ensemble against sequential runs.

    python benchmarks/bench_train.py [--cores 2] [--rounds 3] [--seconds 4]     # Fig. 5 throughput (default)
    python benchmarks/bench_train.py --fig5-parts                                 # where a Fig. 5 step goes
    python benchmarks/bench_train.py --ensemble [--seeds 8] [--steps 300]         # sections 1-2 below
    python benchmarks/bench_train.py --parts

0. Throughput (issue 12, deliverable 5). 2 softmax blocks + linear MLP (3,861 parameters), d = 20, alpha = 1
   (ell = 20), a fixed set of P = 800 contexts per model, minibatch 80, AdamW 1e-4. Aggregated model-steps/s on
   ``--cores`` cores, one process pinned per core, each configuration run in interleaved rounds (so every
   configuration sees the same load) and reported as the median over rounds of its ratio to the baseline of
   the same round. Baselines, written here independently of iclab:
   (a) the plain papers'-style loop: the authors' computation (every block on every token) as plain JAX
       functions of a parameter dict, one jitted step per Python iteration, minibatch indices drawn on the host
       (numpy, without replacement), optax AdamW; one seed per process;
   (b) the same loop with the authors' metrics pass: the loss over all P contexts after every iteration of
       11 steps (Lu et al. 2024's Fig. 5 training loop), kept as a running mean on the device.
   iclab: :func:`iclab.train.train_fixed` with S seeds per process (per-seed data sets, minibatch indices
   drawn in the compiled loop), on iclab's model (whose final block computes the query token only).
   Compilation and process start are excluded everywhere.

1. An S-seed ensemble (one compiled vmap-over-seeds program) vs S sequential single-seed runs of the same model,
   and vs one seed. Two sequential baselines: the usual training script (a jitted step called from a Python loop,
   one seed after another, as in the papers' code) and iclab's own compiled lax.scan loop run once per seed.
   Compilation is excluded everywhere. Targets (issue 7): ensemble <= 2.5x one seed, >= 3x faster than
   sequential (S = 8). Measured for a small model (LSA; its step is mostly the threefry draws of the prompts)
   and a softmax block (bound by XLA CPU's element-wise loops over short axes, ~0.3 GFLOP/s of matmul
   work against ~57 GFLOP/s for a large matmul on the same core: per-element cost, which vmap cannot
   amortise).
2. Steps per second of a 2-block softmax + MLP model (the authors' model_type 3, Lu et al. 2024 Fig. 5C) at d = 20,
   batch 256.

3. With ``--parts``: the cost of each part of a step (sampling, forward+backward on a fixed batch, optimiser, full
   step), 1 seed vs S seeds, each timed as a compiled lax.scan of 100 steps: where the time goes and which parts
   the vmap amortises.

Fresh prompts every step (Lu et al. convention, ell = d). Prints a table; writes nothing. On a shared machine pin it
to one core (``taskset -c 1 python ...``) so that both timings see the same threads.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from functools import lru_cache, partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from iclab.models import build_model
from iclab.tasks import LinearRegression
from iclab.train import per_seed, seed_keys, train_fixed, train_fresh

# ------------------------------------------------------------------------------------------------------------
# 0. Lu Fig. 5 throughput (issue 12)

FIG5 = {"model": "softmax_2block_mlp", "d": 20, "ell": 20, "P": 800, "batch": 80, "lr": 1e-4, "rho": 0.01}
ITERATION = 11  # optimiser steps per authors' iteration: 1 + P // (0.1 P) (their Fig. 5 training loop)


@lru_cache(maxsize=8)
def fig5_problem(d: int = FIG5["d"], ell: int = FIG5["ell"], P: int = FIG5["P"], batch: int = FIG5["batch"],
                 lr: float = FIG5["lr"], model: str = FIG5["model"]):
    """iclab's Fig. 5 training problem: (init, loss, sample, dataset, optimizer) for :func:`train_fixed` (the data:
    ``per_seed(dataset, seeds)``).

    Per seed a fixed set of P prompts (Lu et al. 2024's Transformer data: x ~ N(0, I/d), w ~ N(0, I),
    rho = 0.01) from the seed's dataset key; each step draws ``batch`` indices with replacement in the compiled
    loop (as the Fig. 5 module does); AdamW with the optax defaults and weight decay 1e-4 (the authors'). Cached,
    so that repeated calls return the same functions and the training programs compiled for them are reused."""
    task = LinearRegression.lu2024(d, ell, FIG5["rho"], prior="gaussian")

    def init(key):
        return build_model(model, d, key=key)

    def loss(m, b):
        return jnp.mean((m(b.xs, b.ys, b.xq) - b.yq) ** 2)

    def dataset(key):
        return task.sample(key, P)

    def sample(key, data):
        idx = jax.random.randint(key, (batch,), 0, P)
        return jax.tree_util.tree_map(lambda x: x[idx], data)

    return init, loss, sample, dataset, optax.adamw(lr, weight_decay=1e-4)


def _lecun(key, shape):  # flax's default kernel init: truncated normal, variance 1/fan_in
    return jax.random.truncated_normal(key, -2.0, 2.0, shape) * (1.0 / shape[0]) ** 0.5 / 0.87962566


def plain_init(key, d: int, n_blocks: int = 2):
    """The authors' model_type 3 as a plain parameter dict (Lu et al. 2024 Fig. 5C; width h = d): 3,861
    parameters."""
    h = d
    keys = iter(jax.random.split(key, 2 + 4 * n_blocks))
    p = {"embed_w": _lecun(next(keys), (d + 1, h)), "embed_b": jnp.zeros(h),
         "read_w": _lecun(next(keys), (h, 1)), "read_b": jnp.zeros(1), "blocks": []}
    for _ in range(n_blocks):
        p["blocks"].append({"q": _lecun(next(keys), (h, h)), "k": _lecun(next(keys), (h, h)),
                            "v": _lecun(next(keys), (h, h)), "mlp_w": _lecun(next(keys), (h, h)),
                            "mlp_b": jnp.zeros(h), "ln1": (jnp.ones(h), jnp.zeros(h)),
                            "ln2": (jnp.ones(h), jnp.zeros(h))})
    return p


def plain_forward(p, xs, ys, xq):
    """Every block on every token, as the authors' flax module computes it: tokens [x, y] and [x_q, 0];
    a = causal softmax attention + residual; y = LN(a); out = LN(y + Dense(y)); readout of the last token."""
    z = jnp.concatenate([jnp.concatenate([xs, ys[..., None]], -1),
                         jnp.concatenate([xq, jnp.zeros_like(xq[:, :1])], -1)[:, None]], 1)
    x = z @ p["embed_w"] + p["embed_b"]
    t, h = x.shape[1], x.shape[2]
    mask = jnp.tril(jnp.ones((t, t), bool))

    def ln(v, sb):
        mu = v.mean(-1, keepdims=True)
        return (v - mu) * jax.lax.rsqrt(((v - mu) ** 2).mean(-1, keepdims=True) + 1e-6) * sb[0] + sb[1]

    for b in p["blocks"]:
        s = jnp.einsum("bsh,bth->bst", x @ b["q"], x @ b["k"]) / h**0.5
        a = jnp.einsum("bst,bth->bsh", jax.nn.softmax(jnp.where(mask, s, -jnp.inf), -1), x @ b["v"]) + x
        y = ln(a, b["ln1"])
        x = ln(y + y @ b["mlp_w"] + b["mlp_b"], b["ln2"])
    return (x[:, -1] @ p["read_w"] + p["read_b"])[:, 0]


def plain_worker(seed: int, seconds: float, metrics: bool) -> float:
    """The papers'-style loop on one core; returns its model-steps/s (after compiling)."""
    d, P, B = FIG5["d"], FIG5["P"], FIG5["batch"]
    task = LinearRegression.lu2024(d, FIG5["ell"], FIG5["rho"], prior="gaussian")
    k_init, k_data = jax.random.split(jax.random.PRNGKey(seed))
    data = jax.device_get(task.sample(k_data, P))
    params = plain_init(k_init, d)
    opt = optax.adamw(FIG5["lr"], weight_decay=1e-4)
    state = opt.init(params)
    rng = np.random.default_rng(seed)

    def mse(p, xs, ys, xq, yq):
        return jnp.mean((plain_forward(p, xs, ys, xq) - yq) ** 2)

    @jax.jit
    def step(p, s, xs, ys, xq, yq):
        value, g = jax.value_and_grad(mse)(p, xs, ys, xq, yq)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, value

    @jax.jit
    def running_mean(acc, i, p):  # the authors' per-iteration loss over all P contexts
        return acc + (mse(p, data.xs, data.ys, data.xq, data.yq) - acc) / (i + 1)

    acc = jnp.zeros(())

    def iteration(p, s, acc, i):
        for _ in range(ITERATION):
            idx = rng.choice(P, B, replace=False)
            p, s, _ = step(p, s, data.xs[idx], data.ys[idx], data.xq[idx], data.yq[idx])
        if metrics:
            acc = running_mean(acc, i, p)
        return p, s, acc

    params, state, acc = iteration(params, state, acc, 0)  # compile
    jax.block_until_ready(acc if metrics else params)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        params, state, acc = iteration(params, state, acc, n + 1)
        n += 1
        if n % 10 == 0:
            jax.block_until_ready(params)
    jax.block_until_ready((params, acc))
    return n * ITERATION / (time.perf_counter() - start)


def iclab_worker(seed: int, seconds: float, n_seeds: int, chunk: int = 100) -> float:
    """iclab's ensemble engine on one core: ``n_seeds`` seeds in one compiled program; model-steps/s."""
    init, loss, sample, dataset, opt = fig5_problem()
    seeds = [seed * n_seeds + i for i in range(n_seeds)]
    data = per_seed(dataset, seeds)
    run = lambda steps: train_fixed(init, loss, data, sample, seeds=seeds, steps=steps, optimizer=opt, chunk=chunk)
    run(chunk)  # compile
    start = time.perf_counter()
    run(chunk)
    rate = chunk / (time.perf_counter() - start)
    steps = max(chunk, int(rate * seconds) // chunk * chunk)
    start = time.perf_counter()
    res = run(steps)
    jax.block_until_ready(jax.tree_util.tree_leaves(res.model))
    return n_seeds * steps / (time.perf_counter() - start)


CONFIGS = {"plain": ("plain loop (papers' style)", {"kind": "plain", "metrics": False}),
           "plain+metrics": ("plain loop + metrics pass (authors')", {"kind": "plain", "metrics": True}),
           "iclab-1": ("iclab train_fixed, 1 seed/process", {"kind": "iclab", "n_seeds": 1}),
           "iclab-4": ("iclab train_fixed, 4 seeds/process", {"kind": "iclab", "n_seeds": 4}),
           "iclab-8": ("iclab train_fixed, 8 seeds/process", {"kind": "iclab", "n_seeds": 8})}


def _worker_main(spec: str) -> None:
    cfg = json.loads(spec)
    os.sched_setaffinity(0, {cfg["core"]})
    if cfg["kind"] == "plain":
        rate = plain_worker(cfg["core"], cfg["seconds"], cfg["metrics"])
    else:
        rate = iclab_worker(cfg["core"], cfg["seconds"], cfg["n_seeds"])
    print(json.dumps({"rate": rate}))


def run_config(name: str, cores: int, seconds: float) -> float:
    """Aggregated model-steps/s of configuration ``name``: one pinned process per core, started together."""
    spec = CONFIGS[name][1]
    env = {**os.environ, "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")}
    procs = [subprocess.Popen([sys.executable, __file__, "--worker",
                               json.dumps({**spec, "core": c % os.cpu_count(), "seconds": seconds})],
                              stdout=subprocess.PIPE, text=True, env=env) for c in range(cores)]
    rates = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"worker for {name} failed (exit {proc.returncode})")
        rates.append(json.loads(out.strip().splitlines()[-1])["rate"])
    return sum(rates)


def fig5_throughput(names, cores: int, rounds: int, seconds: float) -> dict[str, list[float]]:
    """Interleaved rounds; prints each configuration's median aggregated rate and its median ratio to the
    baselines of the same rounds."""
    rates: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for n in names:
            rates[n].append(run_config(n, cores, seconds))
        print(f"  round {r + 1}: " + ", ".join(f"{n} {rates[n][-1]:.0f}" for n in names), flush=True)
    print(f"\nLu Fig. 5 settings ({FIG5}), {cores} process(es), one per core; model-steps/s aggregated; "
          f"median over {rounds} interleaved rounds (min-max of the ratio)")
    print(f"  {'':44s}{'steps/s':>9s}{'vs plain':>20s}{'vs plain+metrics':>22s}")
    for n in names:
        row = f"  {CONFIGS[n][0]:44s}{np.median(rates[n]):9.0f}"
        for base in ("plain", "plain+metrics"):
            if base in rates:
                q = np.asarray(rates[n]) / np.asarray(rates[base])
                row += f"{np.median(q):10.2f}x ({q.min():.2f}-{q.max():.2f})"
        print(row)
    return rates


def fig5_parts(n_seeds: int) -> None:
    """Per-part cost of a Fig. 5 step (index draw + gather, forward+backward, AdamW, full step) for 1 and S
    seeds, and forward+backward of iclab's model against the every-token computation."""
    for s in (1, n_seeds):
        out = _fig5_part_times(s)
        print(f"\nLu Fig. 5 step, {s} seed(s): ms per step (best of 5 interleaved, 100-step compiled scans)")
        for name, ms in out.items():
            print(f"  {name:32s}{ms:9.3f} ms{ms / s * 1e3:10.0f} us per model-step")


def _fig5_part_times(s: int) -> dict[str, float]:
    init, loss, sample, dataset, opt = fig5_problem()
    keys = jax.vmap(seed_keys)(jnp.arange(s, dtype=jnp.uint32))
    params, static = eqx.partition(eqx.filter_vmap(init)(keys[:, 0]), eqx.is_inexact_array)
    state, dk, data = jax.vmap(opt.init)(params), keys[:, 1], jax.vmap(dataset)(keys[:, 3])
    fixed = jax.vmap(sample)(dk, data)
    grad = jax.grad(lambda q, b: loss(eqx.combine(q, static), b))
    full_fwd = jax.grad(lambda q, b: jnp.mean((plain_forward(_as_plain(eqx.combine(q, static)), b.xs, b.ys,
                                                                     b.xq) - b.yq) ** 2))

    def draw(acc, t):
        b = jax.vmap(lambda k, d: sample(jax.random.fold_in(k, t), d))(dk, data)
        return acc + sum(x.sum() for x in jax.tree_util.tree_leaves(b))

    def fwd_bwd(p, t, g=grad):
        return jax.tree_util.tree_map(lambda a, u: a - 1e-6 * u, p, jax.vmap(g)(p, fixed))

    def update(c, t):
        u, st = jax.vmap(opt.update)(c[0], c[1], c[0])
        return optax.apply_updates(c[0], u), st

    def full(c, t):
        def one(p, st, k, d):
            u, st = opt.update(grad(p, sample(jax.random.fold_in(k, t), d)), st, p)
            return optax.apply_updates(p, u), st
        return jax.vmap(one)(c[0], c[1], dk, data)

    return _scan_times({"draw indices + gather": (draw, jnp.zeros(())),
                        "forward+backward": (fwd_bwd, params),
                        "forward+backward, every token": (partial(fwd_bwd, g=full_fwd), params),
                        "AdamW update": (update, (params, state)), "full step": (full, (params, state))})


def _as_plain(m):
    """iclab's softmax_2block_mlp as plain_forward's parameter dict (same numbers)."""
    blocks = [{"q": b.attention.q.weight, "k": b.attention.k.weight, "v": b.attention.v.weight,
               "mlp_w": b.mlp.layers[0].weight, "mlp_b": b.mlp.layers[0].bias, "ln1": (b.ln1.scale, b.ln1.shift),
               "ln2": (b.ln2.scale, b.ln2.shift)} for b in m.blocks]
    return {"embed_w": m.embed.weight, "embed_b": m.embed.bias, "read_w": m.readout.weight,
            "read_b": m.readout.bias, "blocks": blocks}


def _scan_times(parts: dict, steps: int = 100, reps: int = 5) -> dict[str, float]:
    runs = {}
    for name, (body, carry) in parts.items():
        run = jax.jit(lambda c, body=body: jax.lax.scan(lambda c, t: (body(c, t), None), c, jnp.arange(steps))[0])
        jax.block_until_ready(run(carry))
        runs[name] = (run, carry)
    best = dict.fromkeys(parts, float("inf"))
    for _ in range(reps):
        for name, (run, carry) in runs.items():
            start = time.perf_counter()
            jax.block_until_ready(run(carry))
            best[name] = min(best[name], time.perf_counter() - start)
    return {k: v / steps * 1e3 for k, v in best.items()}


# ------------------------------------------------------------------------------------------------------------
# 1-3. ensemble against sequential runs (issue 7)


def setup(model: str, d: int, batch: int):
    task = LinearRegression.lu2024(d, d, 0.01, prior="gaussian")
    init, loss, *_ = fig5_problem(d=d, ell=d, model=model)  # the same model and MSE; fresh prompts below

    def sample(key):
        return task.sample(key, batch)

    return init, loss, sample, optax.adamw(1e-3, weight_decay=1e-4)


def timed(fns, seeds, steps, chunk):
    init, loss, sample, opt = fns
    train_fresh(init, loss, sample, seeds=seeds, steps=chunk, optimizer=opt, chunk=chunk)  # compile
    t = time.perf_counter()
    res = train_fresh(init, loss, sample, seeds=seeds, steps=steps, optimizer=opt, chunk=chunk)
    jax.block_until_ready(jax.tree_util.tree_leaves(res.model))
    return time.perf_counter() - t


def python_loop(fns, seed: int, steps: int) -> float:
    """The usual script: a jitted step (sampling included) called from Python, one seed; returns seconds."""
    init, loss, sample, opt = fns
    keys = seed_keys(seed)
    model = init(keys[0])
    params, static = eqx.partition(model, eqx.is_inexact_array)
    state = opt.init(params)

    @jax.jit
    def step(p, s, t):
        batch = sample(jax.random.fold_in(keys[1], t))
        value, g = jax.value_and_grad(lambda q: loss(eqx.combine(q, static), batch))(p)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, value

    p, s, v = step(params, state, 0)  # compile
    jax.block_until_ready(v)
    t0 = time.perf_counter()
    for t in range(steps):
        params, state, v = step(params, state, t)
    jax.block_until_ready(v)
    return time.perf_counter() - t0


def part_times(fns, n_seeds: int, steps: int = 100) -> dict[str, float]:
    """Milliseconds per step of each part of the training step for an n_seeds vmapped ensemble (best of 3)."""
    init, loss, sample, opt = fns
    keys = jax.vmap(seed_keys)(jnp.arange(n_seeds, dtype=jnp.uint32))
    params, static = eqx.partition(eqx.filter_vmap(init)(keys[:, 0]), eqx.is_inexact_array)
    state, data_keys = jax.vmap(opt.init)(params), keys[:, 1]
    fixed = jax.vmap(sample)(data_keys)
    grad = jax.grad(lambda q, b: loss(eqx.combine(q, static), b))

    def draw(acc, t):  # the batch is reduced to a scalar so that nothing is dead code
        b = jax.vmap(lambda k: sample(jax.random.fold_in(k, t)))(data_keys)
        return acc + sum(x.sum() for x in jax.tree_util.tree_leaves(b))

    def fwd_bwd(p, t):
        return jax.tree_util.tree_map(lambda a, g: a - 1e-6 * g, p, jax.vmap(grad)(p, fixed))

    def update(c, t):  # the parameters stand in for the gradients
        u, s = jax.vmap(opt.update)(c[0], c[1], c[0])
        return optax.apply_updates(c[0], u), s

    def full(c, t):
        def one(p, s, k):
            u, s = opt.update(grad(p, sample(jax.random.fold_in(k, t))), s, p)
            return optax.apply_updates(p, u), s
        return jax.vmap(one)(c[0], c[1], data_keys)

    out = {}
    for name, body, carry in (("sampling", draw, jnp.zeros(())), ("forward+backward", fwd_bwd, params),
                              ("optimiser", update, (params, state)), ("full step", full, (params, state))):
        run = jax.jit(lambda c, body=body: jax.lax.scan(lambda c, t: (body(c, t), None), c, jnp.arange(steps))[0])
        jax.block_until_ready(run(carry))  # compile
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            jax.block_until_ready(run(carry))
            best = min(best, time.perf_counter() - start)
        out[name] = best / steps * 1e3
    return out


def parts(model: str, d: int, batch: int, n_seeds: int):
    fns = setup(model, d, batch)
    one, ens = part_times(fns, 1), part_times(fns, n_seeds)
    print(f"\n{model}, d={d}, batch {batch}: ms per step, by part")
    print(f"  {'':20s}{'1 seed':>9s}{f'{n_seeds} seeds':>10s}{'ratio':>8s}")
    for name in one:
        print(f"  {name:20s}{one[name]:9.3f}{ens[name]:10.3f}{ens[name] / one[name]:8.2f}")


def compare(model: str, d: int, batch: int, n_seeds: int, steps: int, chunk: int):
    fns = setup(model, d, batch)
    t_one = timed(fns, [0], steps, chunk)
    t_ens = timed(fns, list(range(n_seeds)), steps, chunk)
    t_scan = 0.0
    for s in range(n_seeds):  # the single-seed program is compiled already (same functions and shapes)
        t = time.perf_counter()
        res = train_fresh(*fns[:3], seeds=[s], steps=steps, optimizer=fns[3], chunk=chunk)
        jax.block_until_ready(jax.tree_util.tree_leaves(res.model))
        t_scan += time.perf_counter() - t
    t_loop = sum(python_loop(fns, s, steps) for s in range(n_seeds))
    print(f"\n{model}, d={d}, batch {batch}, {steps} steps, {n_seeds} seeds")
    print(f"  {'':40s}{'seconds':>9s}{'seed-steps/s':>14s}")
    for name, t, k in (("1 seed (compiled scan)", t_one, 1), ("sequential, jitted step + Python loop", t_loop, n_seeds),
                       ("sequential, compiled scan per seed", t_scan, n_seeds), ("vmapped ensemble", t_ens, n_seeds)):
        print(f"  {name:40s}{t:9.2f}{k * steps / t:14.1f}")
    print(f"  ensemble / one seed = {t_ens / t_one:.2f}x (target <= 2.5x); speed-up over sequential: "
          f"{t_loop / t_ens:.2f}x vs the Python loop, {t_scan / t_ens:.2f}x vs scan per seed (target >= 3x)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=os.cpu_count(), help="processes, one pinned per core")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the Fig. 5 comparison")
    ap.add_argument("--seconds", type=float, default=4.0, help="timed seconds per worker and round")
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"comma list of {', '.join(CONFIGS)}")
    ap.add_argument("--fig5-parts", action="store_true", help="time the parts of a Fig. 5 step instead")
    ap.add_argument("--ensemble", action="store_true", help="the ensemble vs sequential comparison (issue 7)")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--parts", action="store_true", help="time the parts of a step (1 seed vs --seeds) instead")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return _worker_main(args.worker)
    print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}); compilation excluded; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.fig5_parts:
        fig5_parts(args.seeds)
        return
    if args.parts:
        parts("lsa", 10, 64, args.seeds)
        parts("softmax_1block", 10, args.batch, args.seeds)
        return
    if not args.ensemble:
        names = [n.strip() for n in args.configs.split(",") if n.strip()]
        unknown = [n for n in names if n not in CONFIGS]
        if unknown:
            ap.error(f"--configs must name some of {', '.join(CONFIGS)} (got {unknown[0]!r})")
        fig5_throughput(names, args.cores, args.rounds, args.seconds)
        return
    chunk = min(100, args.steps)
    print("fresh prompts every step")
    compare("lsa", 10, 64, args.seeds, args.steps, chunk)
    compare("softmax_1block", 10, args.batch, args.seeds, args.steps, chunk)
    fns = setup("softmax_2block_mlp", 20, 256)
    t2 = timed(fns, [0], args.steps, chunk)
    print(f"\nsoftmax_2block_mlp (model_type 3), d=20, batch 256, 1 seed: {args.steps / t2:.1f} steps/s")


if __name__ == "__main__":
    main()
