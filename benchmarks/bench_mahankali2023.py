"""Mahankali et al. baselines: speed ratios measured in the same run (these machines are noisy).

1. The closed-form preconditioner Gamma* against the Monte-Carlo least-squares fit it replaces (the spec's §4.6
   method), at equal d, n, sigma2: seconds, and the fit's relative Frobenius error.
2. The Bayes-ridge curve against n from one sample of the longest prompts cut into prefixes (what the experiments do)
   against a fresh sample per n.

Run: python benchmarks/bench_mahankali2023.py [--prompts 200000]. Writes nothing.
"""

import argparse
import time

import jax
import numpy as np

from iclab.experiments import mahankali2023_common as common
from iclab.tasks import LinearRegression
from iclab.theory import mahankali2023 as th


def timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=200_000)
    args = ap.parse_args()
    d, n, s2 = 4, 10, 0.5
    cov = th.make_cov(d, 10.0, rotate=True, seed=0)
    task = LinearRegression.mahankali2023(d, n, s2, cov=cov, prior_cov="identity")

    def fit():
        p = task.sample(jax.random.PRNGKey(0), args.prompts)
        xs, ys, xq, yq = (np.asarray(a, dtype=float) for a in (p.xs, p.ys, p.xq, p.yq))
        v = np.einsum("bi,bid->bd", ys, xs) / n
        feats = np.einsum("ba,bc->bac", xq, v).reshape(len(yq), d * d)
        return np.linalg.lstsq(feats, yq, rcond=None)[0].reshape(d, d)

    t_closed, gamma = timed(lambda: th.preconditioner(cov, n, s2, "identity"), repeat=20)
    t_fit, fitted = timed(fit, repeat=2)
    print(f"preconditioner, d={d} n={n}: closed form {t_closed * 1e6:.0f} us, MC fit ({args.prompts} prompts) "
          f"{t_fit:.2f} s  -> ratio {t_fit / t_closed:.0f}x; fit error {th.relative_frobenius(fitted, gamma):.3f}")

    ns = common.n_grid([40])
    n_test = 8192

    def prefixes():
        p = LinearRegression.mahankali2023(d, max(ns), s2).sample(common.test_key(max(ns)), n_test)
        return [common.ridge_test_loss(common.prefix(p, m), s2) for m in ns]

    def fresh():
        return [common.ridge_test_loss(LinearRegression.mahankali2023(d, m, s2).sample(common.test_key(m), n_test), s2)
                for m in ns]

    t_pre, _ = timed(prefixes, repeat=2)
    t_fresh, _ = timed(fresh, repeat=2)
    print(f"Bayes-ridge curve over {len(ns)} context lengths: prefixes {t_pre:.2f} s, fresh sample per n "
          f"{t_fresh:.2f} s -> ratio {t_fresh / t_pre:.2f}x (warm; the first cold call also compiles each shape)")


if __name__ == "__main__":
    main()
