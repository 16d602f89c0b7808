"""Closed-form learning curves of the papers, one module per paper (numpy/scipy only, float64, broadcasting; no JAX:
the trainable models that these formulas describe live in :mod:`iclab.models`).

- :mod:`iclab.theory.lu2024`: Lu et al. 2024, asymptotic ICL/IDG errors of the solvable linear-attention model;
- :mod:`iclab.theory.mahankali2023`: Mahankali et al. 2023, the optimal one-layer LSA is one (preconditioned) GD
  step: eta*, preconditioners, minimal losses, the nonlinear eta*;
- :mod:`iclab.theory.letey2025`: Letey et al. 2025, structured task covariances: pretrain–test alignment, e_ICL =
  e_bias + e_misalign, effective ridge, test-time context scaling, covariance families;
- :mod:`iclab.theory.yang2024`: Yang et al. 2024, ridge over the basis, Lemma 5 population loss, gap, L*.
"""
