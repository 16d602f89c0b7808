"""``iclab simulate PAPER``: simulations of the solvable models."""

from iclab.cli.apps import simulate_app  # noqa: F401
