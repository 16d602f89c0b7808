"""Trainable attention models (Equinox modules). Every model maps a batch in the DESIGN.md layout,
``model(xs (b, ell, d), ys (b, ell), xq (b, d)) -> (b,)``, and has ``n_params`` and a short ``repr``.

- :class:`LinearSelfAttention` (:mod:`.lsa`): merged W_KQ / W_PV, optional query mask and 1/ell
"""

from iclab.models.lsa import LinearSelfAttention
from iclab.models.tokens import param_count, tokens

__all__ = ["LinearSelfAttention", "param_count", "tokens"]
