"""GPU readiness: train the Lu Fig. 5C model at paper settings on the accelerator, check its first steps against
the CPU, and print steps/s.

    pip install -e ".[cuda]"
    python benchmarks/gpu_check.py [--seeds 4] [--steps 3000] [--check-steps 20] [--rtol 1e-3]

The model and data are the authors' settings of Lu et al. 2024, Fig. 5C: 2 softmax blocks + linear MLP (3,861
parameters), d = 20, alpha = 1 (ell = 20), P = 800 fixed contexts per seed (tau = 2), minibatch 0.1 P = 80, AdamW
1e-4 with weight decay 1e-4 (``bench_train.fig5_problem``). Steps:

1. the per-step minibatch losses of the first ``--check-steps`` steps of every seed, on the default device and on
   the CPU, from the same explicit keys; the check passes when every relative difference is <= ``--rtol``. Both
   runs use float32 matmuls at full precision (``jax.default_matmul_precision("highest")``): on recent NVIDIA
   GPUs the default would be TF32, about 1e-3 relative by itself;
2. ``--steps`` steps of the seed ensemble on the default device (compiled chunks, no evaluation), timed after
   compiling: steps/s and model-steps/s, at full float32 precision and at the backend's default precision.

Without an accelerator the default device is the CPU, and the script checks the CPU against itself (a test in
tests/train runs it so, with tiny settings). Exit status 1 when the check fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import FIG5, fig5_problem  # noqa: E402
from iclab.train import per_seed, train_fixed  # noqa: E402


def first_losses(device, seeds: list[int], steps: int, **problem) -> np.ndarray:
    """(seeds, steps) minibatch losses of the first ``steps`` steps on ``device`` (one record per step)."""
    init, loss, sample, dataset, opt = fig5_problem(**problem)
    with jax.default_device(device), jax.default_matmul_precision("highest"):
        res = train_fixed(init, loss, per_seed(dataset, seeds), sample, seeds=seeds, steps=steps, optimizer=opt,
                          chunk=steps, eval_every=1)
    return np.asarray(res.history["train_loss"], dtype=np.float64)


def compare_losses(test: np.ndarray, reference: np.ndarray, rtol: float = 1e-3) -> tuple[bool, float]:
    """(passes, largest relative difference) of two (seeds, steps) loss arrays; non-finite values fail."""
    test, reference = np.asarray(test, np.float64), np.asarray(reference, np.float64)
    if test.shape != reference.shape:
        raise ValueError(f"loss arrays must have equal shapes (got {test.shape} and {reference.shape})")
    if not (np.isfinite(test).all() and np.isfinite(reference).all()):
        return False, float("inf")
    rel = float(np.max(np.abs(test - reference) / np.maximum(np.abs(reference), np.finfo(np.float32).tiny)))
    return rel <= rtol, rel


def throughput(device, seeds: list[int], steps: int, precision: str, chunk: int = 500, **problem) -> float:
    """Steps/s of the seed ensemble on ``device`` (after compiling; one program of ``len(seeds)`` models)."""
    init, loss, sample, dataset, opt = fig5_problem(**problem)
    chunk = min(chunk, steps)
    with jax.default_device(device), jax.default_matmul_precision(precision):
        data = per_seed(dataset, seeds)
        run = lambda n: train_fixed(init, loss, data, sample, seeds=seeds, steps=n, optimizer=opt, chunk=chunk)
        run(chunk)  # compile
        start = time.perf_counter()
        res = run(steps)
        jax.block_until_ready(jax.tree_util.tree_leaves(res.model))
    return steps / (time.perf_counter() - start)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--steps", type=int, default=3000, help="timed training steps")
    ap.add_argument("--check-steps", type=int, default=20, help="first steps compared with the CPU")
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--d", type=int, default=FIG5["d"])
    ap.add_argument("--P", type=int, default=FIG5["P"], help="fixed contexts per seed")
    ap.add_argument("--batch", type=int, default=FIG5["batch"])
    ap.add_argument("--precisions", default="highest,default", help="matmul precisions of the timed runs")
    args = ap.parse_args(argv)
    problem = {"d": args.d, "ell": args.d, "P": args.P, "batch": args.batch}
    seeds = list(range(args.seeds))
    device, cpu = jax.devices()[0], jax.devices("cpu")[0]
    print(f"device: {device.platform} ({device.device_kind}); reference: cpu; jax {jax.__version__}")
    if device.platform == "cpu":
        print("no accelerator: checking the CPU against itself")
    test = first_losses(device, seeds, args.check_steps, **problem)
    ref = first_losses(cpu, seeds, args.check_steps, **problem)
    ok, rel = compare_losses(test, ref, args.rtol)
    print(f"first {args.check_steps} steps x {args.seeds} seeds: max relative loss difference {rel:.2e} "
          f"(<= {args.rtol:g}): {'PASS' if ok else 'FAIL'}")
    for precision in args.precisions.split(","):
        sps = throughput(device, seeds, args.steps, precision, **problem)
        print(f"{args.steps} steps, {args.seeds} seeds, matmul precision {precision}: {sps:.0f} steps/s, "
              f"{sps * args.seeds:.0f} model-steps/s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
