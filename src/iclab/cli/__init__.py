"""The ``iclab`` command.

Every command lives in a small module of this package and registers itself on the apps of :mod:`.apps`.
``main`` returns the exit code (the console script passes it to ``sys.exit``). It turns a
:class:`~iclab.validation.UserInputError` (bad parameter, malformed spec, unknown id, a run too large for the
machine) and a usage error of the command line into one line on stderr with exit code 2. Every other exception is
a bug and propagates with its traceback (exit code 1 from the console script), so that it gets reported; except
an OS error about a path the user named (exists, missing, a folder, a file, no permission), which is input too.

The command modules stay thin: they parse options, call the library and print. What ``iclab --help`` does not
need (the theory, the simulations, the sweep engine and summaries, the experiments and their settings; scipy,
JAX, pandas, YAML) they import inside the command functions, so that help and a mistyped command answer without
loading it (measured with ``python -X importtime -c "import iclab.cli"``). What the option definitions need
(typer, rich's console, numpy through :mod:`iclab.validation`, the store's default path) and the small helpers
(:mod:`iclab.grid`, :mod:`iclab.resources`, this package's modules) are imported at the top.
"""

from __future__ import annotations

import errno
import os
import sys

import typer

try:  # typer >= 0.20 vendors click; its usage errors derive from TyperException
    from typer.exceptions import TyperException as _UsageError
except ImportError:  # pragma: no cover - older typer on top of click
    from click import ClickException as _UsageError

from iclab.cli import (  # noqa: F401  (each module registers its commands)
    explore,
    letey,
    mahankali,
    reproduce,
    simulate,
    sweep,
    theory,
    train,
    yang,
)
from iclab.cli.apps import app
from iclab.resources import MEMORY_ENV, POINTS_ENV, TASKS_ENV, parse_count, parse_size
from iclab.runtime import configure_process
from iclab.validation import UserInputError

_PATH_ERRNOS = {errno.EEXIST, errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EROFS,
                errno.ENAMETOOLONG, errno.ELOOP}
LIMIT_OPTIONS = {"--max-memory": MEMORY_ENV, "--max-points": POINTS_ENV, "--max-tasks": TASKS_ENV}
app.info.help += ("\n\nResource limits, given before or after the command: --max-memory SIZE (default: the "
                  "available memory), --max-points N (theory grid points, default 1e7), --max-tasks N (sweep tasks, "
                  "default 1e6).")


def _take_limits(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """Remove the resource-limit options (``--max-memory 8GiB`` or ``--max-memory=8GiB``) from ``argv``; returns
    the rest and the environment variables that carry them (to sweep workers too)."""
    rest, env = [], {}
    it = iter(argv)
    for arg in it:
        name, eq, value = arg.partition("=")
        if name not in LIMIT_OPTIONS:
            rest.append(arg)
            continue
        if not eq:
            value = next(it, None)
            if value is None:
                raise UserInputError(f"{name} needs a value")
        if name == "--max-memory":
            parse_size(name, value)
        else:
            parse_count(name, value)
        env[LIMIT_OPTIONS[name]] = value
    return rest, env


def main(argv: list[str] | None = None) -> int:
    configure_process()  # the process entry point: one BLAS thread, a heap that keeps freed memory
    saved = dict(os.environ)
    try:
        argv, env = _take_limits(sys.argv[1:] if argv is None else list(argv))
        os.environ.update(env)
        return _run(argv)
    except UserInputError as e:
        print(f"iclab: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    except OSError as e:  # a path the user gave is of the wrong kind or not accessible: input, not a bug
        if e.filename is None or e.errno not in _PATH_ERRNOS:
            raise
        print(f"iclab: error: {e.strerror or type(e).__name__}: {e.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # what was kept has been reported by the command (rows stored, last checkpoint)
        print("iclab: interrupted", file=sys.stderr)
        return 130
    finally:  # in-process callers (tests, notebooks) keep their environment
        for key in LIMIT_OPTIONS.values():
            if key in saved:
                os.environ[key] = saved[key]
            else:
                os.environ.pop(key, None)


def _run(argv: list[str]) -> int:
    try:
        result = app(args=argv, standalone_mode=False, prog_name="iclab")
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:  # click turns Ctrl-C (KeyboardInterrupt) into Abort
        print("iclab: interrupted", file=sys.stderr)
        return 130
    except _UsageError as e:  # unknown option, bad type, missing argument
        msg = e.format_message() if hasattr(e, "format_message") else str(e)
        print(f"iclab: error: {msg}", file=sys.stderr)
        return getattr(e, "exit_code", 2) or 2
    return result if isinstance(result, int) else 0
