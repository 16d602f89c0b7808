"""The Typer application objects, kept apart so that command modules can register on them."""

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="iclab: closed-form theory, simulations, training and figures for in-context learning.")
theory_app = typer.Typer(no_args_is_help=True, help="Closed-form learning curves of the papers.")
simulate_app = typer.Typer(no_args_is_help=True, help="Simulate the solvable models.")
results_app = typer.Typer(no_args_is_help=True, help="Inspect and export the results store.")

app.add_typer(theory_app, name="theory")
app.add_typer(simulate_app, name="simulate")
app.add_typer(results_app, name="results")
