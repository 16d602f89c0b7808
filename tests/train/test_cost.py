"""Training-cost estimates: the FLOP count against the architecture written out by hand, and the step model."""

import pytest

from iclab.train.cost import GPU_STEPS_PER_S, cpu_seconds, forward_flops, gpu_seconds, step_seconds
from iclab.validation import UserInputError


def softmax_flops(d, ell, blocks, mlp_width_factor):
    """lu2024.md §8.2 post-LN blocks, width h = d, T = ell + 1 tokens of size d + 1; the final block for the query
    token only (what the model computes): embed, blocks, readout."""
    t, n, h = ell + 1, d + 1, d
    mlp = 2 * mlp_width_factor * h * h
    full = 3 * 2 * t * h * h + 2 * 2 * t * t * h + t * mlp
    last = 2 * 2 * t * h * h + 2 * h * h + 2 * 2 * t * h + mlp
    return 2 * t * n * h + (blocks - 1) * full + last + 2 * h


@pytest.mark.parametrize("name,d,ell,blocks,mlp", [("softmax_2block_mlp", 20, 20, 2, 1),
                                                   ("softmax_3block_mlp", 8, 12, 3, 1), ("softmax_1block", 6, 6, 1, 0)])
def test_forward_flops_of_the_softmax_models(name, d, ell, blocks, mlp):
    assert forward_flops(name, d, ell) == softmax_flops(d, ell, blocks, mlp)
    assert forward_flops("softmax_2block_mlp", 20, 20) == 157_040  # Lu Fig. 5C: 3,861 parameters


def test_step_model_reproduces_the_calibration():
    """The every-token Fig. 5C step (222,640 FLOPs per prompt forward) measured 3.0 ms at batch 80 (333 steps/s);
    iclab's model predicts 157,040 / 222,640 of the batch term."""
    every_token = 1.5e-4 + 3 * 80 * 222_640 / 18e9
    assert every_token == pytest.approx(3.0e-3, rel=0.05)
    assert step_seconds("softmax_2block_mlp", 20, 20, 80) == pytest.approx(1.5e-4 + (every_token - 1.5e-4) *
                                                                           157_040 / 222_640)


def test_cpu_seconds_scale_and_bad_input():
    one = cpu_seconds("softmax_2block_mlp", 20, 20, 80, 1000)
    assert cpu_seconds("softmax_2block_mlp", 20, 20, 80, 3000, seeds=4) == pytest.approx(12 * one)
    assert cpu_seconds("softmax_2block_mlp", 20, 20, 160, 1000) > 1.9 * one - 1000 * 1.5e-4
    assert cpu_seconds("softmax_2block_mlp", 40, 40, 80, 1000) > 4 * one  # FLOPs grow like d^3 at ell = d
    assert gpu_seconds("softmax_2block_mlp", 20, 20, 80, 1000) is None
    GPU_STEPS_PER_S[("lsa", 4, 4, 8)] = 2000.0
    try:
        assert gpu_seconds("lsa", 4, 4, 8, 1000, seeds=2) == pytest.approx(1.0)
    finally:
        del GPU_STEPS_PER_S[("lsa", 4, 4, 8)]
    with pytest.raises(UserInputError, match="model must be one of"):
        cpu_seconds("gpt", 4, 4, 8, 10)
    with pytest.raises(ValueError, match="steps"):
        cpu_seconds("lsa", 4, 4, 8, 0)
