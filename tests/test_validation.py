import math

import numpy as np
import pytest

from iclab.validation import check_choice, check_int, check_positive, check_real


def test_check_positive_accepts_and_returns_array():
    np.testing.assert_array_equal(check_positive("tau", [1.0, 2.0]), [1.0, 2.0])


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, [1.0, -2.0]])
def test_check_positive_rejects(bad):
    with pytest.raises(ValueError, match="^tau must"):
        check_positive("tau", bad)


def test_inf_allowed_only_when_asked():
    assert np.isinf(check_positive("kappa", math.inf, allow_inf=True))
    with pytest.raises(ValueError, match="kappa must be > 0"):
        check_positive("kappa", -math.inf, allow_inf=True)


def test_range_message_names_both_bounds():
    with pytest.raises(ValueError, match=r"rho must be >= 0 and <= 1 \(got 2.0\)"):
        check_real("rho", 2.0, lo=0, hi=1)


def test_check_int_and_choice():
    assert check_int("d", 4, lo=2) == 4
    assert check_int("d", 4.0, lo=2) == 4
    for bad in (1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="^d must be an integer"):
            check_int("d", bad, lo=2)
    with pytest.raises(ValueError, match="scale must be one of quick, paper"):
        check_choice("scale", "huge", ["quick", "paper"])
