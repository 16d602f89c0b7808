"""Resource guards: estimates of memory and of work, checked before anything large is allocated or started.

A run that would not fit is refused with one line naming the parameter, the estimate and the limit, e.g.
``d = 3000 with tau = 2 needs about 3.6 TiB (limit 22 GiB); lower d or tau``, instead of a traceback from the
allocator, a frozen machine or an out-of-memory kill. The limits, and how a user overrides each:

- memory: the machine's available memory (``MemAvailable``), or ``ICLAB_MAX_MEMORY`` (``iclab --max-memory``);
- theory grid points per command: 10^7 (``ICLAB_MAX_POINTS``, ``iclab --max-points``);
- sweep tasks (point x seed) per sweep: 10^6 (``ICLAB_MAX_TASKS``, ``iclab --max-tasks``).

The limits travel in environment variables so that sweep workers (other processes) see the same ones.
The estimates themselves live next to what they estimate (e.g. :mod:`iclab.solvable.footprint`).
"""

from __future__ import annotations

import math
import os
import re

from iclab.validation import UserInputError

MEMORY_ENV, POINTS_ENV, TASKS_ENV = "ICLAB_MAX_MEMORY", "ICLAB_MAX_POINTS", "ICLAB_MAX_TASKS"
DEFAULT_MAX_POINTS = 10**7
DEFAULT_MAX_TASKS = 10**6
_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50}
_SIZE = re.compile(r"^\s*([0-9.]+(?:e[+-]?[0-9]+)?)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)


class ResourceLimitError(UserInputError):
    """A run refused before it starts because its estimated memory or size exceeds a limit (one line, exit 2)."""


def parse_size(name: str, text: str | int | float) -> int:
    """Bytes from ``"8GiB"``, ``"8G"``, ``"500 MB"``, ``"2e9"`` (binary units: K = 1024); ``UserInputError`` else."""
    m = _SIZE.match(str(text))
    try:
        value = float(m[1]) if m else math.nan
    except ValueError:  # "." or "1.2.3"
        value = math.nan
    if not (m and math.isfinite(value) and value > 0):
        raise UserInputError(f"{name} must be a positive size such as 8GiB, 500M or 2e9 bytes (got {text!r})")
    return int(value * _UNITS[m[2].lower()])


def format_size(nbytes: float) -> str:
    """``402 GiB``, ``3.6 TiB``, ``120 MiB``: three significant digits in the largest binary unit below it."""
    for unit, scale in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{int(nbytes)} B"


def available_memory() -> int | None:
    """Memory the OS can give this process now without swapping (``MemAvailable`` of /proc/meminfo, capped by a
    cgroup v2 limit), or None where that is unknown."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            cap = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read().strip())
        if cap != "max":
            avail = min(avail, max(0, int(cap) - used))
    except (OSError, ValueError):
        pass
    return avail


def memory_limit() -> tuple[int | None, str]:
    """(bytes, where the number comes from): the user's ``--max-memory``, else the available memory."""
    text = os.environ.get(MEMORY_ENV)
    if text:
        return parse_size("--max-memory", text), "--max-memory"
    return available_memory(), "available memory"


def check_memory(need: float, what: str, advice: str) -> None:
    """Refuse (:class:`ResourceLimitError`) when ``need`` bytes exceed the memory limit.

    ``what`` names the parameters (``"d = 3000 with tau = 2"``), ``advice`` says what to lower.
    """
    limit, source = memory_limit()
    if limit is not None and need > limit:
        label = "limit" if source == "available memory" else source
        raise ResourceLimitError(f"{what} needs about {format_size(need)} ({label} {format_size(limit)}); {advice}")


def parse_count(name: str, text: str) -> int:
    """A count limit from ``"1e7"`` or ``"500"``; ``UserInputError`` unless it is a number >= 1."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 1):
        raise UserInputError(f"{name} must be a count >= 1 such as 1e7 (got {text!r})")
    return int(value)


def count_limit(env: str, default: int) -> int:
    """The count limit held in environment variable ``env``, else ``default``."""
    text = os.environ.get(env)
    return parse_count(env, text) if text else default


def check_count(count: int, what: str, unit: str, env: str, default: int, option: str) -> None:
    """Refuse when ``count`` (grid points, sweep tasks) exceeds its limit; the message gives the count."""
    limit = count_limit(env, default)
    if count > limit:
        raise ResourceLimitError(f"{what} has {count:,} {unit}, above the limit of {limit:,}; use fewer {unit} "
                                 f"or raise the limit with iclab {option} N")


def check_grid_points(count: int, what: str = "the grid") -> None:
    """Theory grids: at most ``--max-points`` (default 10^7) points."""
    check_count(count, what, "points", POINTS_ENV, DEFAULT_MAX_POINTS, "--max-points")


def check_sweep_tasks(count: int, what: str = "the sweep") -> None:
    """Sweeps: at most ``--max-tasks`` (default 10^6) (point, seed) tasks."""
    check_count(count, what, "tasks", TASKS_ENV, DEFAULT_MAX_TASKS, "--max-tasks")


ROW_BYTES = 1024  # a printed result row: a dict of about ten floats (~600 B measured) and its formatted text
