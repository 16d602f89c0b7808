"""The Typer application objects, kept apart so that command modules can register on them.

Every group is an :class:`IclabGroup`, which gives each option of its commands a readable metavar in ``--help``
(``NUMBER``, ``INT``, ``PATH``, the option's name in capitals for text, nothing for on/off flags) unless the
command sets one, instead of Typer's ``<str>`` / ``<bool>``.
"""

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from iclab import __version__


def _metavar(param: TyperOption) -> str:
    """A readable metavar for an option that has none: what kind of value it takes, in capitals."""
    if param.is_flag or param.count:
        return ""
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    name = getattr(annotation, "__name__", "")
    if name == "int":
        return "INT"
    if name == "float":
        return "NUMBER"
    if name in ("Path", "PosixPath", "WindowsPath"):
        return "PATH"
    return (param.name or "value").rstrip("_").upper()


def _no_type(ctx) -> None:
    return None


def set_metavars(command, ctx) -> None:
    """Fill in the metavar of every option of ``command`` that has none (see the module docstring)."""
    for param in [*getattr(command, "params", ()), command.get_help_option(ctx)]:
        if isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = _metavar(param)
        elif isinstance(param, TyperArgument):  # its name is shown already; Typer would add "<str>" beside it
            param.display_type_rich = _no_type


class IclabGroup(TyperGroup):
    """A Typer group whose commands (and itself) show readable option metavars in ``--help``."""

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            set_metavars(command, ctx)
        return command

    def format_help(self, ctx, formatter):
        set_metavars(self, ctx)
        super().format_help(ctx, formatter)


app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, cls=IclabGroup,
                  help="iclab: closed-form theory, simulations, training and figures for in-context learning.")
theory_app = typer.Typer(no_args_is_help=True, cls=IclabGroup, help="Closed-form learning curves of the papers.")
simulate_app = typer.Typer(no_args_is_help=True, cls=IclabGroup, help="Simulate the solvable models.")
results_app = typer.Typer(no_args_is_help=True, cls=IclabGroup, help="Inspect and export the results store.")

app.add_typer(theory_app, name="theory")
app.add_typer(simulate_app, name="simulate")
app.add_typer(results_app, name="results")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"iclab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="print the iclab version and exit")) -> None:
    """iclab: closed-form theory, simulations, training and figures for in-context learning."""
