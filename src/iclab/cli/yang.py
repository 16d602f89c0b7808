"""``iclab theory yang2024``: closed forms of Yang et al."""

from iclab.cli.apps import theory_app  # noqa: F401
