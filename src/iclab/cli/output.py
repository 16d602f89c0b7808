"""Printing a list of result rows as a rich table, CSV or JSON: the one output path of the numeric commands."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

FORMATS = ("table", "csv", "json")


def json_value(v):
    """JSON has no inf/nan: write them as the strings "inf" (the config convention) and "nan"."""
    return str(v) if isinstance(v, float) and not math.isfinite(v) else v


def print_rows(rows: list[dict], columns: Sequence[str], fmt: str, *, title: str, digits: int = 6,
               exact: Sequence[str] = (), width: int = 120) -> None:
    """Print ``rows`` (dicts keyed by ``columns``) in ``fmt`` (table | csv | json) on stdout.

    CSV keeps full precision (``repr``); the table shows ``digits`` significant digits, and the ``exact`` columns
    (integers, strings) as they are. ``width`` is the least console width, so numbers are never ellipsised.
    """
    from iclab.validation import check_choice

    check_choice("format", fmt, FORMATS)
    if fmt == "json":
        import json

        json.dump([{k: json_value(v) for k, v in r.items()} for r in rows], sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif fmt == "csv":
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(columns)
        w.writerows([r[c] if isinstance(r[c], str) else repr(r[c]) for c in columns] for r in rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for c in columns:
            table.add_column(c, justify="right", no_wrap=True)
        for r in rows:
            table.add_row(*(str(r[c]) if c in exact else f"{r[c]:.{digits}g}" for c in columns))
        console = Console()
        console.width = max(console.width, width)
        console.print(table)
