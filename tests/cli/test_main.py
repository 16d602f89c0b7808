"""The CLI contract: usage errors and bad parameters are one line on stderr with exit code 2; a bug keeps its
traceback and another exit code."""

import subprocess
import sys

import numpy as np
import pytest

from iclab.cli import main
from iclab.theory import lu2024

SIMULATE = ["simulate", "lu2024", "--d", "6", "--tau", "1", "--alpha", "2", "--kappa", "0.5", "--seeds", "2"]


def _console(code: str, argv: list[str]) -> subprocess.CompletedProcess:
    """``iclab ARGV`` in a fresh interpreter after ``code`` (which may inject a bug), as the console script runs it:
    its real stderr and exit code."""
    entry = f"{code}; from iclab.cli import main; import sys; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", entry, *argv], capture_output=True, text=True, timeout=300)


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

    def broken(*args, **kwargs):
        return np.ones(3) + np.ones(4)  # ValueError: operands could not be broadcast together

    monkeypatch.setattr(lu2024, "evaluate", broken)
    argv = ["theory", "lu2024", "--tau", "1", "--alpha", "1", "--kappa", "1", "--rho", "0"]
    with pytest.raises(ValueError, match="broadcast"):
        main(argv)
    # through the console entry point: a traceback on stderr and exit code 1, not 2
    proc = _console("import numpy as np; from iclab.theory import lu2024; "
                    "lu2024.evaluate = lambda *a, **k: np.ones(3) + np.ones(4)", argv)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr and "broadcast" in proc.stderr


def test_a_bug_inside_a_sweep_compute_keeps_its_traceback():
    """A shape error inside the compute that ``simulate lu2024`` runs through the sweep engine (which records a
    failed run instead of stopping) still ends the command with a traceback naming the error, and exit code 1."""
    inject = ("import numpy as np, iclab.experiments.solvable_points as s; real = s.simulate_point; "
              "s.simulate_point = lambda config, seed: (real(config, seed), np.ones(3) + np.ones(4))")
    proc = _console(inject, [*SIMULATE, "--rho", "0.1"])
    assert proc.returncode not in (0, 2), proc.stderr
    assert "Traceback (most recent call last)" in proc.stderr
    assert "ValueError: operands could not be broadcast together" in proc.stderr
    assert not proc.stderr.startswith("iclab: error:")


def test_bad_input_through_the_console_is_exactly_one_line_naming_the_parameter():
    proc = _console("pass", [*SIMULATE, "--rho", "-0.5"])
    assert proc.returncode == 2
    assert proc.stderr == "iclab: error: rho must be >= 0 (got -0.5)\n" and proc.stdout == ""
