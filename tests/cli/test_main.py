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
