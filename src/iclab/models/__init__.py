"""Trainable attention models (Equinox modules). Every model maps a batch in the package's prompt layout,
``model(xs (b, ell, d), ys (b, ell), xq (b, d)) -> (b,)``, and has ``n_params`` and a short ``repr``.

- :class:`LinearSelfAttention` (:mod:`.lsa`): merged W_KQ / W_PV, optional query mask and 1/ell, reduced class
- :class:`LinearAttention` (:mod:`.linear_attention`): separate K, Q, V with biases (lu2024 model_type 1)
- :class:`SoftmaxAttentionModel` (:mod:`.softmax`): post-LN softmax blocks (lu2024 model_type 2, 3, 4)
- :class:`Transformer` (:mod:`.transformer`): a standard pre-LN stack (Yang et al.'s 4-layer baseline)

:func:`build_model` builds one by registry name (:data:`MODELS`) with keyword options.

:class:`TemplateAttention` (:mod:`.template_attention`, Yang et al.'s one-layer multi-head softmax attention over a
fixed dictionary) predicts all K tokens from the N labelled ones, ``model(tokens (K, d), y (..., N)) -> (..., K)``:
a different layout, so it is not in the regression registry.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from iclab.models.linear_attention import LinearAttention
from iclab.models.lsa import LinearSelfAttention
from iclab.models.softmax import SoftmaxAttentionModel
from iclab.models.template_attention import TemplateAttention
from iclab.models.tokens import param_count, tokens
from iclab.models.transformer import Transformer
from iclab.validation import UserInputError, check_choice

# name -> (class, preset options). The lu2024 presets are the Transformers of Lu et al. 2024, Figs. 5-6, as the
# authors' code builds them (width h = d, one head).
MODELS: dict[str, tuple[Callable, dict]] = {
    "lsa": (LinearSelfAttention, {}),
    "lsa_reduced": (LinearSelfAttention, {"reduced": True}),
    "linear_attention": (LinearAttention, {}),  # model_type 1
    "softmax": (SoftmaxAttentionModel, {}),
    "softmax_1block": (SoftmaxAttentionModel, {"n_blocks": 1, "causal": True, "mlp": "none"}),  # model_type 2
    "softmax_2block_mlp": (SoftmaxAttentionModel, {"n_blocks": 2, "causal": True, "mlp": "linear"}),  # type 3
    "softmax_3block_mlp": (SoftmaxAttentionModel, {"n_blocks": 3, "causal": True, "mlp": "linear"}),  # type 4
    "transformer": (Transformer, {}),
}


def model_options(name: str) -> list[str]:
    """The keyword options accepted by model ``name`` (besides d and key)."""
    cls, _ = MODELS[check_choice("model", name, MODELS)]
    return [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "d", "key")]


def build_model(name: str, d: int, *, key, **options):
    """Model ``name`` of :data:`MODELS` in dimension d; ``options`` override the preset (unknown ones raise)."""
    cls, preset = MODELS[check_choice("model", name, MODELS)]
    allowed = model_options(name)
    for opt in options:
        if opt not in allowed:
            raise UserInputError(f"option of model {name} must be one of {', '.join(allowed)} (got {opt!r})")
    return cls(d, key=key, **{**preset, **options})


__all__ = ["MODELS", "LinearAttention", "LinearSelfAttention", "SoftmaxAttentionModel", "TemplateAttention",
           "Transformer",
           "build_model", "model_options", "param_count", "tokens"]
