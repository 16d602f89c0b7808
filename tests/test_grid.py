import numpy as np
import pytest

from iclab.grid import parse_values


@pytest.mark.parametrize(("text", "expected"), [
    ("0.5", [0.5]),
    ("1,2,3", [1, 2, 3]),
    ("0:1:5", [0, 0.25, 0.5, 0.75, 1]),
    ("log:0.01:1:3", [0.01, 0.1, 1]),
    ("logspace(-1,1,3)", [0.1, 1, 10]),
    ("0.1, 0:1:3, inf", [0.1, 0, 0.5, 1, np.inf]),
])
def test_parse_values(text, expected):
    np.testing.assert_allclose(parse_values("tau", text), expected)


@pytest.mark.parametrize("text", ["", "a", "1,,2", "0:1", "0:1:0", "0:1:2.5", "log:0:1:3", "nan", "1:2:3:4"])
def test_malformed_values_name_the_parameter(text):
    with pytest.raises(ValueError, match="^tau"):
        parse_values("tau", text)
