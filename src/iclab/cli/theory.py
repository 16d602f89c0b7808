"""``iclab theory PAPER``: closed-form curves on a cartesian grid of parameters."""

from iclab.cli.apps import theory_app  # noqa: F401
