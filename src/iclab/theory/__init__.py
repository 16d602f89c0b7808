"""Closed-form learning curves of the papers, one module per paper (pure numpy, float64, broadcasting).

- :mod:`iclab.theory.lu2024`: Lu et al. 2024, asymptotic ICL/IDG errors of the solvable linear-attention model;
- :mod:`iclab.theory.mahankali2023`, :mod:`iclab.theory.yang2024`: the other papers' closed forms (own modules).
"""
