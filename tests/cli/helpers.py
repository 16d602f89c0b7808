"""What the CLI tests share: one in-process call of ``iclab`` with its exit code and captured output."""

from iclab.cli import main


def run_cli(capsys, *argv):
    """``(exit code, stdout, stderr)`` of ``iclab ARGV`` run in-process."""
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err
