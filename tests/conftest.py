"""Shared test setup: a headless matplotlib backend, and the hypothesis profile for CI."""

import os

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
