"""Training-engine speed: a vmapped seed ensemble against sequential single-seed runs, measured in the same run.

    python benchmarks/bench_train.py [--seeds 8] [--steps 300] [--d 10] [--batch 256]

1. An S-seed ensemble (one compiled vmap-over-seeds program) vs S sequential single-seed runs of the same model,
   and vs one seed. Two sequential baselines: the usual training script (a jitted step called from a Python loop,
   one seed after another, as in the papers' code) and iclab's own compiled lax.scan loop run once per seed.
   Compilation is excluded everywhere. Targets (issue 7): ensemble <= 2.5x one seed, >= 3x faster than
   sequential (S = 8). Measured for a small model (LSA; its step is mostly the threefry draws of the prompts)
   and a softmax block (bound by XLA CPU's element-wise loops over short axes, ~0.3 GFLOP/s of matmul
   work against ~57 GFLOP/s for a large matmul on the same core: per-element cost, which vmap cannot
   amortise).
2. Steps per second of a 2-block softmax + MLP model (lu2024.md §8.2 model_type 3) at d = 20, batch 256.

3. With ``--parts``: the cost of each part of a step (sampling, forward+backward on a fixed batch, optimiser, full
   step), 1 seed vs S seeds, each timed as a compiled lax.scan of 100 steps: where the time goes and which parts
   the vmap amortises.

Fresh prompts every step (Lu et al. convention, ell = d). Prints a table; writes nothing. On a shared machine pin it
to one core (``taskset -c 1 python ...``) so that both timings see the same threads.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import optax

from iclab.models import build_model
from iclab.tasks import LinearRegression
from iclab.train import train_ensemble


def setup(model: str, d: int, batch: int):
    task = LinearRegression.lu2024(d, d, 0.01, prior="gaussian")

    def init(key):
        return build_model(model, d, key=key)

    def loss(m, b):
        return jnp.mean((m(b.xs, b.ys, b.xq) - b.yq) ** 2)

    def sample(key):
        return task.sample(key, batch)

    return init, loss, sample, optax.adamw(1e-3, weight_decay=1e-4)


def timed(fns, seeds, steps, chunk):
    init, loss, sample, opt = fns
    train_ensemble(init, loss, sample, seeds=seeds, steps=chunk, optimizer=opt, chunk=chunk, progress=False)  # compile
    t = time.perf_counter()
    res = train_ensemble(init, loss, sample, seeds=seeds, steps=steps, optimizer=opt, chunk=chunk, progress=False)
    jax.block_until_ready(jax.tree_util.tree_leaves(res.model))
    return time.perf_counter() - t


def python_loop(fns, seed: int, steps: int) -> float:
    """The usual script: a jitted step (sampling included) called from Python, one seed; returns seconds."""
    import equinox as eqx

    from iclab.train import seed_keys

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
    import equinox as eqx

    from iclab.train import seed_keys

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
        res = train_ensemble(*fns[:3], seeds=[s], steps=steps, optimizer=fns[3], chunk=chunk, progress=False)
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
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--parts", action="store_true", help="time the parts of a step (1 seed vs --seeds) instead")
    args = ap.parse_args(argv)
    if args.parts:
        parts("lsa", 10, 64, args.seeds)
        parts("softmax_1block", 10, args.batch, args.seeds)
        return
    chunk = min(100, args.steps)
    print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}); fresh prompts every step; "
          f"compilation excluded")
    compare("lsa", 10, 64, args.seeds, args.steps, chunk)
    compare("softmax_1block", 10, args.batch, args.seeds, args.steps, chunk)
    fns = setup("softmax_2block_mlp", 20, 256)
    t2 = timed(fns, [0], args.steps, chunk)
    print(f"\nsoftmax_2block_mlp (model_type 3), d=20, batch 256, 1 seed: {args.steps / t2:.1f} steps/s")


if __name__ == "__main__":
    main()
