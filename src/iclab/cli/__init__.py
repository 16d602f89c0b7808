"""The ``iclab`` command.

Every command lives in a small module of this package and registers itself on the apps of :mod:`.apps`.
``main`` returns the exit code (the console script passes it to ``sys.exit``). It turns a
:class:`~iclab.validation.UserInputError` (bad parameter, malformed spec, unknown id, a run too large for the
machine) and a usage error of the command line into one line on stderr with exit code 2. Every other exception is
a bug and propagates with its traceback (exit code 1 from the console script), so that it gets reported.
"""

from __future__ import annotations

import sys

import typer

try:  # typer >= 0.20 vendors click; its usage errors derive from TyperException
    from typer.exceptions import TyperException as _UsageError
except ImportError:  # pragma: no cover - older typer on top of click
    from click import ClickException as _UsageError

from iclab.cli import mahankali, reproduce, simulate, sweep, theory, train, yang  # noqa: F401  (registers commands)
from iclab.cli.apps import app
from iclab.validation import UserInputError


def main(argv: list[str] | None = None) -> int:
    try:
        result = app(args=argv, standalone_mode=False, prog_name="iclab")
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        print("iclab: aborted", file=sys.stderr)
        return 130
    except _UsageError as e:  # unknown option, bad type, missing argument
        msg = e.format_message() if hasattr(e, "format_message") else str(e)
        print(f"iclab: error: {msg}", file=sys.stderr)
        return getattr(e, "exit_code", 2) or 2
    except UserInputError as e:
        print(f"iclab: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0
