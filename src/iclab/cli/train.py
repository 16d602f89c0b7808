"""``iclab train``: train attention models from a spec or from options."""

from iclab.cli.apps import app  # noqa: F401
