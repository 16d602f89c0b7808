"""``iclab sweep``, ``iclab results ...`` and ``iclab report``: sweeps, the results store, the report."""

from iclab.cli.apps import app  # noqa: F401
