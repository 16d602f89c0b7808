"""``iclab theory mahankali2023``: closed forms of Mahankali et al."""

from iclab.cli.apps import theory_app  # noqa: F401
