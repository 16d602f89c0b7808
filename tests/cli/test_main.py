"""The CLI contract: usage errors and bad parameters are one line on stderr with exit code 2."""

from iclab.cli import main


def test_unknown_option_is_one_line_exit_2(capsys):
    assert main(["reproduce", "--bogus", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("iclab: error:") and err.count("\n") == 1


def test_unknown_figure_is_one_line_exit_2(capsys):
    assert main(["reproduce", "no-such-figure"]) == 2
    err = capsys.readouterr().err
    assert "experiment must be one of" in err and err.count("\n") == 1


def test_help_exits_0():
    assert main(["--help"]) == 0


def test_bad_value_is_one_line_exit_2(capsys):
    assert main(["theory", "lu2024", "--tau", "-1", "--alpha", "1", "--kappa", "1", "--rho", "0"]) == 2
    err = capsys.readouterr().err
    assert err == "iclab: error: tau must be > 0 (got -1.0)\n"


def test_a_bug_keeps_its_traceback(monkeypatch):
    """A ValueError that is not a UserInputError (here numpy's broadcasting error, injected into the theory) is a
    bug: it must propagate with its traceback, not be shown as a one-line usage error with exit code 2."""
    import subprocess
    import sys

    import numpy as np
    import pytest

    from iclab.theory import lu2024

    def broken(*args, **kwargs):
        return np.ones(3) + np.ones(4)  # ValueError: operands could not be broadcast together

    monkeypatch.setattr(lu2024, "evaluate", broken)
    argv = ["theory", "lu2024", "--tau", "1", "--alpha", "1", "--kappa", "1", "--rho", "0"]
    with pytest.raises(ValueError, match="broadcast"):
        main(argv)
    # through the console entry point: a traceback on stderr and exit code 1, not 2
    code = ("import numpy as np, sys; from iclab.theory import lu2024; "
            "lu2024.evaluate = lambda *a, **k: np.ones(3) + np.ones(4); "
            "from iclab.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr and "broadcast" in proc.stderr
