"""train_fresh / train_fixed: ensemble = plain optax loops, vmapped ensemble = separate runs, bit-exact resume,
key streams, NaN stop, stop_when budgets, and compiled programs reused across calls."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from iclab.models import LinearSelfAttention
from iclab.tasks import LinearRegression
from iclab.tasks.linear import normal
from iclab.train import (
    Checkpointing,
    NonFiniteLossError,
    fixed_sampler,
    loss_target,
    make_optimizer,
    minibatches,
    per_seed,
    seed_keys,
    step_budget,
    time_budget,
    train_fixed,
    train_fresh,
)
from iclab.train.data import distinct_indices

D, ELL = 3, 6
TASK = LinearRegression.lu2024(D, ELL, 0.01)
OPT = optax.adam(1e-2)  # one object, so repeated runs reuse the compiled program


def init(key):
    return LinearSelfAttention(D, key=key, init_scale=0.3)


def loss(model, b):
    return jnp.mean((model(b.xs, b.ys, b.xq) - b.yq) ** 2)


def sample(key):
    return TASK.sample(key, 32)


def evaluate(model, key):
    return {"test": loss(model, TASK.sample(key, 256))}


def leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def run(**kw):
    args = dict(seeds=[0, 1, 2], steps=60, optimizer=OPT, chunk=20)
    return train_fresh(init, loss, sample, **{**args, **kw})


def reference_fresh(seed, steps, every):
    """One seed trained by a plain Python loop of optax steps, written from the loop's contract (Sec. "keys" of
    iclab.train.loop): keys split(PRNGKey(seed), 4) = (init, data, eval, dataset); the batch of step t is
    sample(fold_in(data key, t)); a record every ``every`` steps holds the window's mean loss and evaluate(model,
    eval key). No vmap, no scan, no chunks. Returns (params, [train_loss per record], [test per record])."""
    k_init, k_data, k_eval, _ = jax.random.split(jax.random.PRNGKey(seed), 4)
    params, static = eqx.partition(init(k_init), eqx.is_inexact_array)
    state = OPT.init(params)
    grad = jax.jit(jax.value_and_grad(lambda p, b: loss(eqx.combine(p, static), b)))
    window, train, test = [], [], []
    for t in range(steps):
        value, g = grad(params, sample(jax.random.fold_in(k_data, t)))
        updates, state = OPT.update(g, state, params)
        params = optax.apply_updates(params, updates)
        window.append(float(value))
        if (t + 1) % every == 0:
            train.append(np.mean(window))
            window = []
            test.append(float(evaluate(eqx.combine(params, static), k_eval)["test"]))
    return params, train, test


def test_ensemble_equals_explicit_optax_loop():
    """Every seed of the vmapped, scanned, chunked ensemble equals its own plain optax loop to float32 tolerance:
    parameters, window losses and held-out losses at each record."""
    res = run(evaluate=evaluate, eval_every=20)
    assert res.history["step"][0].tolist() == [20, 40, 60] and res.steps == 60
    for i, seed in enumerate(res.seeds):
        params, train, test = reference_fresh(seed, 60, 20)
        got = eqx.partition(res.seed_model(i), eqx.is_inexact_array)[0]
        for x, y in zip(leaves(got), leaves(params), strict=True):
            np.testing.assert_allclose(x, y, rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(res.history["train_loss"][i], train, rtol=2e-4)
        np.testing.assert_allclose(res.history["test"][i], test, rtol=2e-4)
        np.testing.assert_allclose(res.final_loss[i], train[-1], rtol=2e-4)
    assert res.history["test"][:, -1].mean() < res.history["test"][:, 0].mean()  # it learns


def test_ensemble_member_equals_single_seed_run():
    ens = run()
    one = run(seeds=[1])
    for x, y in zip(leaves(ens.model), leaves(one.model), strict=True):
        np.testing.assert_allclose(x[1], y[0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(leaves(ens.model)[0][0], leaves(ens.model)[0][1])  # seeds differ


def test_resume_equals_uninterrupted_bit_for_bit(tmp_path):
    full = run(steps=80, evaluate=evaluate, eval_every=20, checkpoint=Checkpointing(tmp_path / "a"))
    part = run(steps=40, evaluate=evaluate, eval_every=20, checkpoint=Checkpointing(tmp_path / "b"))
    assert json.loads((tmp_path / "b" / "meta.json").read_text())["step"] == 40
    rest = run(steps=80, evaluate=evaluate, eval_every=20, checkpoint=Checkpointing(tmp_path / "b"))
    assert part.steps == 40 and rest.history["step"][0].tolist() == [20, 40, 60, 80]
    for x, y in zip(leaves(full.model), leaves(rest.model), strict=True):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(leaves(full.opt_state), leaves(rest.opt_state), strict=True):
        np.testing.assert_array_equal(x, y)
    for k in full.history:
        np.testing.assert_array_equal(full.history[k], rest.history[k])
    assert len(list((tmp_path / "b").glob("state_*.eqx"))) == 1
    with pytest.raises(ValueError, match="seeds must match the checkpoint"):
        run(steps=100, seeds=[0, 1], checkpoint=Checkpointing(tmp_path / "b"))


def test_train_and_test_streams_differ():
    """Per seed, the eval key is none of the training step keys and yields different prompts."""
    keys = seed_keys(0)
    init_k, data_k, eval_k, ds_k = (np.asarray(k) for k in keys)
    assert len({tuple(k) for k in (init_k, data_k, eval_k, ds_k)}) == 4
    step_keys = {tuple(k) for k in np.asarray(jax.vmap(lambda t: jax.random.fold_in(keys[1], t))(jnp.arange(1000)))}
    assert tuple(eval_k) not in step_keys and tuple(ds_k) not in step_keys
    draw = jax.jit(jax.vmap(sample))
    batches = draw(jnp.stack([keys[1], keys[2]]))
    assert not np.allclose(batches.xs[0], batches.xs[1])
    assert not np.array_equal(np.asarray(seed_keys(1)), np.asarray(seed_keys(0)))


def test_fresh_prompts_equal_the_multi_axis_normal_draws():
    """tasks.linear draws its normals flat (faster on CPU); the numbers must be jax.random.normal's, bit for bit."""
    key = jax.random.PRNGKey(7)
    for shape in [(5, ELL + 1, D), (4, 3), (2, 3, 4, 5)]:
        np.testing.assert_array_equal(normal(key, shape), jax.random.normal(key, shape))
    keys = jax.random.split(key, 3)
    np.testing.assert_array_equal(jax.jit(jax.vmap(lambda k: normal(k, (6, D))))(keys),
                                  jax.vmap(lambda k: jax.random.normal(k, (6, D)))(keys))

    @jax.jit
    def reference(key):  # the inputs as drawn before the flat draw (same jit, so same rounding of the scaling)
        return jax.random.normal(jax.random.split(key, 3)[1], (32, ELL + 1, D)) * jnp.sqrt(TASK.x_scale)

    b, x = jax.jit(sample)(key), reference(key)
    np.testing.assert_array_equal(b.xs, x[:, :-1])
    np.testing.assert_array_equal(b.xq, x[:, -1])


class Counter(eqx.Module):
    v: jax.Array


def test_nan_stops_with_message_and_keeps_checkpoint(tmp_path):
    """SGD with lr 1 on loss -v moves v by 1 per step, so v = t at step t; the loss turns NaN from step 30."""
    count_loss = lambda m, b: -m.v + jnp.where(m.v > 29.5, jnp.nan, 0.0)
    with pytest.raises(NonFiniteLossError, match=r"step 30 for seed\(s\) \[0, 1\]; last good checkpoint: step 30"):
        train_fresh(lambda k: Counter(jnp.zeros(())), count_loss, lambda k: 0.0, seeds=2, steps=60,
                    optimizer=optax.sgd(1.0), chunk=10, eval_every=10, checkpoint=Checkpointing(tmp_path))
    assert json.loads((tmp_path / "meta.json").read_text())["step"] == 30


def reference_fixed(seed, build, pick, steps):
    """One seed of train_fixed by a plain optax loop: its dataset is build(4th key of split(PRNGKey(seed), 4)), the
    minibatch of step t its rows pick(fold_in(data key, t), n). Returns (params, mean loss of the last 5 steps)."""
    k_init, k_data, _, k_set = jax.random.split(jax.random.PRNGKey(seed), 4)
    data = build(k_set)
    n = data.xs.shape[0]
    params, static = eqx.partition(init(k_init), eqx.is_inexact_array)
    state = OPT.init(params)
    grad = jax.jit(jax.value_and_grad(lambda p, b: loss(eqx.combine(p, static), b)))
    values = []
    for t in range(steps):
        idx = pick(jax.random.fold_in(k_data, t), n)
        value, g = grad(params, jax.tree_util.tree_map(lambda x, i=idx: x[i], data))
        updates, state = OPT.update(g, state, params)
        params = optax.apply_updates(params, updates)
        values.append(float(value))
    return params, np.mean(values[-5:])


def test_fixed_dataset_per_seed_and_shared():
    data = jax.jit(sample)(jax.random.PRNGKey(5))  # 32 prompts
    draw = jax.jit(lambda k: (fixed_sampler(data)(k), fixed_sampler(data, 10)(k)))
    full, mb = draw(jax.random.PRNGKey(1))
    np.testing.assert_array_equal(full.xs, data.xs)
    assert mb.xs.shape == (10, ELL, D)
    rows = [tuple(r) for r in np.asarray(data.xq)]
    picked = [rows.index(tuple(r)) for r in np.asarray(mb.xq)]  # every row comes from the dataset ...
    assert len(set(picked)) == 10  # ... without replacement
    np.testing.assert_array_equal(mb.ys, np.asarray(data.ys)[picked])

    res = train_fixed(init, loss, per_seed(sample, 2), minibatches(8), seeds=2, steps=10, optimizer=OPT, chunk=5)
    for seed in (0, 1):  # seed s trains on sample(its dataset key), 8 rows drawn by jax.random.choice per step
        ref, ref_loss = reference_fixed(seed, sample, lambda k, n: jax.random.choice(k, n, (8,), replace=False), 10)
        for x, y in zip(leaves(eqx.partition(res.seed_model(seed), eqx.is_inexact_array)[0]), leaves(ref),
                        strict=True):
            np.testing.assert_allclose(x, y, rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(res.final_loss[seed], ref_loss, rtol=2e-4)
    with pytest.raises(ValueError, match="leading seed axis of length 3"):
        train_fixed(init, loss, per_seed(sample, 2), minibatches(8), seeds=3, steps=10, optimizer=OPT)
    with pytest.raises(ValueError, match="batch_size must be <="):
        fixed_sampler(data, 100)(jax.random.PRNGKey(0))


def test_bad_arguments():
    for kw, msg in [({"steps": 0}, "steps must be"), ({"seeds": 0}, "seeds must be"), ({"chunk": 0}, "chunk"),
                    ({"seeds": [1, 1]}, "distinct"), ({"eval_every": -1}, "eval_every"),
                    ({"steps": None}, "steps must be given unless stop_when")]:
        with pytest.raises(ValueError, match=msg):
            run(**kw)


@pytest.mark.parametrize("n,k", [(300, 30), (800, 80), (1025, 10), (12, 12)])
def test_distinct_indices_are_distinct_and_uniform(n, k):
    """Without replacement: every draw holds k distinct indices in [0, n); over many draws each index appears
    with frequency k/n (chi-square per degree of freedom near its expectation 1 - k/n, far from it if biased)."""
    draws = np.asarray(jax.jit(jax.vmap(lambda key: distinct_indices(key, n, k)))(
        jax.random.split(jax.random.PRNGKey(3), 4000)))
    assert draws.shape == (4000, k) and draws.min() >= 0 and draws.max() < n
    assert all(len(set(row)) == k for row in draws)
    counts = np.bincount(draws.ravel(), minlength=n)
    chi2 = ((counts - draws.size / n) ** 2 / (draws.size / n)).sum() / max(n - 1, 1)
    assert abs(chi2 - (1 - k / n)) < 4 * np.sqrt(2 / max(n - 1, 1)) + 1e-9
    first = np.bincount(draws[:, 0], minlength=n)  # the first slot alone is uniform too
    assert ((first - 4000 / n) ** 2 / (4000 / n)).sum() / (n - 1) < 1 + 4 * np.sqrt(2 / (n - 1))


def test_feistel_minibatches_train_and_default_draw_unchanged():
    data = jax.jit(lambda k: TASK.sample(k, 300))(jax.random.PRNGKey(5))
    key = jax.random.PRNGKey(1)
    default = fixed_sampler(data, 10)(key)
    idx = np.asarray(jax.random.choice(key, 300, (10,), replace=False))  # the existing draw, numbers unchanged
    np.testing.assert_array_equal(default.ys, np.asarray(data.ys)[idx])
    fast = fixed_sampler(data, 10, draw="feistel")(key)
    rows = [tuple(r) for r in np.asarray(data.xq)]
    assert len({rows.index(tuple(r)) for r in np.asarray(fast.xq)}) == 10
    build = jax.jit(lambda k: TASK.sample(k, 300))
    res = train_fixed(init, loss, per_seed(build, [3]), minibatches(8, draw="feistel"), seeds=[3], steps=10,
                      optimizer=OPT, chunk=5)
    ref, ref_loss = reference_fixed(3, build, lambda k, n: distinct_indices(k, n, 8), 10)
    for x, y in zip(leaves(eqx.partition(res.seed_model(0), eqx.is_inexact_array)[0]), leaves(ref), strict=True):
        np.testing.assert_allclose(x, y, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(res.final_loss[0], ref_loss, rtol=2e-4)
    with pytest.raises(ValueError, match="draw must be one of"):
        minibatches(8, draw="fast")


# ---- stop_when ---------------------------------------------------------------------------------------------------


def test_stop_when_budgets():
    """Each budget ends the run at the first record that meets it; the records before are those of a full run."""
    full = run(steps=100, eval_every=20)
    short = run(steps=100, eval_every=20, stop_when=step_budget(40))
    assert short.steps == 40 and short.history["step"][0].tolist() == [20, 40]
    np.testing.assert_array_equal(short.history["train_loss"], full.history["train_loss"][:, :2])
    # loss target: the first record whose window loss is <= the target for every seed (found in the full run)
    target = float(full.history["train_loss"][:, 2].max())
    first = int(np.flatnonzero((full.history["train_loss"] <= target).all(axis=0))[0])
    hit = run(steps=100, eval_every=20, stop_when=loss_target(target))
    assert hit.steps == 20 * (first + 1)
    # wall clock: at least one record, and every record but the last ends before the budget
    timed = run(steps=None, eval_every=20, stop_when=time_budget(1e-9))
    assert timed.steps == 20 and timed.record_time.shape == (1,) and timed.compile_time >= 0
    timed = run(steps=None, eval_every=20, stop_when=time_budget(0.3))
    assert timed.record_time[-1] >= 0.3 and (timed.record_time[:-1] < 0.3).all()
    assert timed.steps == 20 * len(timed.record_time)
    with pytest.raises(ValueError, match="seconds must be"):
        time_budget(0)


# ---- compiled programs are reused across calls --------------------------------------------------------------------

TRACES = {"loss": 0, "sample": 0, "evaluate": 0}


def traced_loss(model, b):
    TRACES["loss"] += 1  # Python side effects run once per trace, never when a compiled program runs
    return loss(model, b)


def traced_sample(key, data):
    TRACES["sample"] += 1
    return minibatches(8)(key, data)


def traced_evaluate(model, key, data):
    TRACES["evaluate"] += 1
    return {"test": loss(model, data)}


def test_second_call_compiles_nothing():
    """Same functions, hyper-parameters and shapes: the second call (other seeds, other data of the same shapes,
    a fresh but equal optimiser and sampler) traces nothing, so it compiles nothing; a new chunk length does."""
    def go(seeds, data_seed, chunk=10):
        data = per_seed(lambda k: TASK.sample(jax.random.fold_in(k, data_seed), 40), seeds)
        return train_fixed(init, traced_loss, data, traced_sample, seeds=seeds, steps=20, chunk=chunk,
                           optimizer=make_optimizer("adam", 1e-2), evaluate=traced_evaluate, eval_every=10)

    first = go([0, 1], 0)
    after_first = dict(TRACES)
    assert after_first["loss"] >= 1 and after_first["sample"] >= 1 and after_first["evaluate"] >= 1
    second = go([5, 6], 1)
    assert TRACES == after_first
    assert not np.array_equal(first.final_loss, second.final_loss)  # it did train other seeds on other data
    go([0, 1], 0, chunk=5)  # another chunk length is another program
    assert TRACES["loss"] > after_first["loss"]
