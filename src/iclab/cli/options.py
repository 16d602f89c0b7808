"""Options that several commands share, defined once: the value-grammar help, the results store, the output
format and the executor options of the commands that run through the sweep engine.

Each ``*_option`` returns a fresh ``typer.Option`` (one per use, as Typer expects) to be used as a parameter's
default, e.g. ``store: Path = store_option()``.
"""

from __future__ import annotations

import typer

from iclab.cli.output import FORMATS
from iclab.sweep.store import DEFAULT_PATH
from iclab.validation import UserInputError

# How a VALUES option is read (iclab.grid.parse_values); the help of the first VALUES option of a command says it.
VALUES_GRAMMAR = "a number, a comma list, start:stop:num, log:start:stop:num or logspace(a,b,num)"
STORE_HELP = "results store (SQLite)"
EXECUTORS_HELP = "local | process | dask | dask-local"  # iclab.sweep.executors.EXECUTORS


def values_option(help: str, default=..., *, name: str | None = None, grammar: bool = False):
    """A parameter that takes a list of values (``--tau 0.5,1,2``): ``help`` says what it is and its range;
    ``grammar`` adds how a list is written; ``name`` (e.g. ``--N``) when it is not the parameter's, lower-cased."""
    return typer.Option(default, *([name] if name else []), metavar="VALUES",
                        help=f"{help}: {VALUES_GRAMMAR}" if grammar else help)


# The scaled parameters of Lu et al. 2024 (n/d², ℓ/d, k/d held fixed as d -> inf: the scaling regime of its
# abstract), shared by the theory and simulation commands of Lu et al. and Letey et al.
LU_PARAMETERS = {
    "tau": "pretraining contexts per parameter n/d² (> 0)",
    "alpha": "context length per dimension ℓ/d (> 0)",
    "kappa": "task-pool size per dimension k/d (> 0; inf = a fresh task per context)",
    "rho": "label-noise variance (≥ 0)",
    "lam": "ridge λ (≥ 0; 0 = the ridgeless / min-norm limit)",
}


def lu_option(name: str, default=...):
    """The VALUES option of one of :data:`LU_PARAMETERS`; ``tau``, listed first by every command, also says how a
    list is written."""
    return values_option(LU_PARAMETERS[name], default, grammar=name == "tau")


def format_option(formats: tuple[str, ...] = FORMATS, default: str = "table"):
    """``--format``: how the rows are printed (:func:`iclab.cli.output.print_rows`)."""
    return typer.Option(default, "--format", metavar="|".join(formats), help="output format")


def store_option(default: object = DEFAULT_PATH, help: str = STORE_HELP, metavar: str = "FILE"):
    """``--store``: the results store; ``default`` None for commands that store nothing unless asked."""
    return typer.Option(default, "--store", metavar=metavar, help=help)


def executor_option():
    return typer.Option("local", help=EXECUTORS_HELP)


def workers_option():
    return typer.Option(None, help="worker processes (default: all cores)")


def scheduler_option():
    return typer.Option(None, metavar="ADDRESS", help="Dask scheduler address tcp://HOST:PORT")


def progress_option(default: bool = True):
    return typer.Option(default, help="show a progress bar")


def parse_overrides(items: list[str], option: str = "--set") -> dict:
    """The values of a repeatable KEY=VALUE ``option`` (``--set``, ``--where``): ``["N=40", "basis=fourier"]`` ->
    ``{"N": 40, "basis": "fourier"}`` (values read as YAML scalars)."""
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserInputError(f"{option} must look like KEY=VALUE (got {item!r})")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise UserInputError(f"{option} {key.strip()} must be a number or a word (got {value!r})") from None
    return out
