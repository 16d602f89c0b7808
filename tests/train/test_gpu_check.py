"""benchmarks/gpu_check.py on a machine without a GPU: it checks the CPU against itself, and its comparison fails
on a perturbed loss."""

import importlib.util
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
TINY = {"d": 4, "ell": 4, "P": 24, "batch": 6}


@pytest.fixture(scope="module")
def gpu_check():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("gpu_check", BENCH / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runs_against_itself_on_cpu(gpu_check, capsys):
    assert gpu_check.main(["--seeds", "2", "--steps", "20", "--check-steps", "4", "--d", "4", "--P", "24",
                           "--batch", "6", "--precisions", "highest"]) == 0
    out = capsys.readouterr().out
    assert "checking the CPU against itself" in out and "PASS" in out and "model-steps/s" in out


def test_first_losses_are_the_training_losses(gpu_check):
    """Step 0's recorded loss is the initial model's loss on the first minibatch, rebuilt here from the keys
    (seed_keys: init, data, eval, dataset; the batch of step t from fold_in(data key, t))."""
    from bench_train import fig5_problem
    from iclab.train import seed_keys

    losses = gpu_check.first_losses(jax.devices("cpu")[0], [3, 5], 3, **TINY)
    assert losses.shape == (2, 3) and np.all(np.isfinite(losses))
    init, loss, sample, dataset, _ = fig5_problem(**TINY)
    for row, seed in zip(losses, [3, 5], strict=True):
        k = seed_keys(seed)
        with jax.default_matmul_precision("highest"):
            want = loss(init(k[0]), sample(jax.random.fold_in(k[1], 0), dataset(k[3])))
        np.testing.assert_allclose(row[0], float(want), rtol=1e-5)
        assert not np.allclose(row[0], row[1:])  # later steps see other minibatches and updated models


def test_comparison_fails_on_a_perturbed_loss(gpu_check):
    ref = np.array([[1.0, 0.5, 0.25], [2.0, 1.0, 0.5]])
    assert gpu_check.compare_losses(ref, ref) == (True, 0.0)
    ok, rel = gpu_check.compare_losses(ref * (1 + 5e-4), ref)
    assert ok and rel == pytest.approx(5e-4)
    bad = ref.copy()
    bad[1, 2] *= 1.002  # one step of one seed off by 2e-3
    ok, rel = gpu_check.compare_losses(bad, ref)
    assert not ok and rel == pytest.approx(2e-3)
    bad[0, 0] = np.nan
    assert gpu_check.compare_losses(bad, ref) == (False, float("inf"))
    with pytest.raises(ValueError, match="equal shapes"):
        gpu_check.compare_losses(ref[:, :2], ref)
