"""Printing a list of result rows as a table, CSV or JSON: the one output path of the numeric commands.

Tables fit the terminal: when the columns are wider than the terminal, the columns that hold one value in every
row move to a "same in every row" line above the table, and what is still too wide is folded into several tables
of consecutive columns, each repeating the key columns (the parameters that identify a row). Numbers are never
cut: a cell is printed whole or not at all.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import textwrap
from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import Console

from iclab.validation import check_choice

FORMATS = ("table", "csv", "json")
DEFAULT_WIDTH = 120  # columns when the output is not a terminal (a pipe, a file, a test) and COLUMNS is unset


def json_value(v):
    """JSON has no inf/nan: write them as the strings "inf" (the config convention) and "nan"."""
    return str(v) if isinstance(v, float) and not math.isfinite(v) else v


def terminal_width(default: int = DEFAULT_WIDTH) -> int:
    """Columns available for a table: ``$COLUMNS`` if set, else the terminal's width, else ``default``."""
    env = os.environ.get("COLUMNS", "")
    if env.strip().isdigit() and int(env) > 0:
        return int(env)
    try:
        if sys.stdout.isatty():
            return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError, AttributeError):  # no usable terminal behind stdout
        pass
    return default


def format_number(v, digits: int = 6) -> str:
    """``v`` to ``digits`` significant digits, with special values spelled exactly: inf, -inf, nan, 0."""
    if v is None:
        return ""
    if isinstance(v, bool) or isinstance(v, str):
        return str(v)
    if isinstance(v, int):
        return str(v)
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"  # also -0.0
    return f"{v:.{digits}g}"


def format_duration(seconds: float) -> str:
    """``12.3 s``, ``4m05s`` or ``1h02m03s``."""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.3g} s"
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _table_width(widths: Sequence[int]) -> int:
    """Width of a rich table with the default box: one space of padding each side and a rule between columns."""
    return sum(w + 3 for w in widths) + 1 if widths else 0


def fold_columns(widths: dict[str, int], keys: Sequence[str], width: int) -> list[list[str]]:
    """Split the columns (in order) into groups that fit ``width`` with the ``keys`` columns repeated in each.

    A column too wide to share a table with the keys gets a group of its own (keys dropped if need be).
    """
    keys = [k for k in keys if k in widths]
    rest = [c for c in widths if c not in keys]
    if _table_width(list(widths.values())) <= width or not rest:
        return [list(widths)]
    groups, current = [], []
    for c in rest:
        trial = keys + current + [c]
        if current and _table_width([widths[x] for x in trial]) > width:
            groups.append(keys + current)
            current = []
        current.append(c)
    groups.append(keys + current)
    return [g if _table_width([widths[x] for x in g]) <= width else [x for x in g if x not in keys] or g
            for g in groups]


def render_table(cells: list[dict[str, str]], columns: Sequence[str], *, title: str, keys: Sequence[str] = (),
                 width: int | None = None, file=None) -> None:
    """Print string ``cells`` (one dict per row) as a table no wider than ``width`` (default: the terminal's).

    Abbreviates (hoists constant columns) and then folds (see the module docstring) only when needed.
    """
    from rich.table import Table

    width = terminal_width() if width is None else width
    columns = list(columns)
    widths = {c: max([cell_len(c), *(cell_len(r[c]) for r in cells)]) for c in columns}
    notes = []
    if _table_width(list(widths.values())) > width and len(cells) > 1:
        same = [c for c in columns if len({r[c] for r in cells}) == 1]
        if same and len(same) < len(columns):
            notes.append("same in every row: " + ", ".join(f"{c} = {cells[0][c]}" for c in same))
            columns = [c for c in columns if c not in same]
            widths = {c: widths[c] for c in columns}
    groups = fold_columns(widths, keys, width)
    if len(groups) > 1:
        notes.append(f"{len(columns)} columns folded into {len(groups)} tables to fit {width} columns "
                     "(set COLUMNS or use --format csv for one wide table)")
    console = Console(file=file or sys.stdout, width=width, highlight=False)
    for line in ([title] if title else []) + notes:
        console.print(line, markup=False)
    for group in groups:
        table = Table()
        for c in group:
            table.add_column(c, justify="right", no_wrap=True)
        for r in cells:
            table.add_row(*(r[c] for c in group))
        console.print(table)


def echo_wrapped(text: str, width: int | None = None) -> None:
    """Print ``text`` on stdout, wrapped at word boundaries to the terminal width (continuation lines indented)."""
    print(textwrap.fill(text, width=terminal_width() if width is None else width, subsequent_indent="  ",
                        break_long_words=False, break_on_hyphens=False))


def print_rows(rows: list[dict], columns: Sequence[str], fmt: str, *, title: str, digits: int = 6,
               exact: Sequence[str] = (), width: int | None = None, keys: Sequence[str] | None = None) -> None:
    """Print ``rows`` (dicts keyed by ``columns``) in ``fmt`` (table | csv | json) on stdout.

    CSV keeps full precision (``repr``); the table shows ``digits`` significant digits (inf, nan and exact zeros
    spelled out) and the ``exact`` columns (integers, strings) as they are. The table is at most ``width``
    columns wide (default and upper bound: the terminal's width), folded with the ``keys`` columns (default: the
    leading parameter columns, see :func:`_leading_inputs`) repeated when the columns do not fit.
    """
    check_choice("format", fmt, FORMATS)
    if fmt == "json":
        json.dump([{k: json_value(v) for k, v in r.items()} for r in rows], sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif fmt == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(columns)
        w.writerows([_csv_cell(r[c]) for c in columns] for r in rows)
    else:
        cells = [{c: str(r[c]) if c in exact else format_number(r[c], digits) for c in columns} for r in rows]
        limit = terminal_width() if width is None else min(width, terminal_width())
        render_table(cells, columns, title=title, keys=_leading_inputs(columns) if keys is None else keys,
                     width=limit)


def _csv_cell(v) -> str:
    """A CSV cell at full precision: ``repr`` of the Python number (a numpy scalar's ``repr`` names its type)."""
    if isinstance(v, str):
        return v
    return repr(v.item() if hasattr(v, "item") else v)


def _leading_inputs(columns: Sequence[str]) -> list[str]:
    """The default key columns: the leading columns named without "_" (parameters such as d, tau, alpha), which
    the numeric commands list before their outputs (e_icl_mean, ...); at least the first column."""
    keys = []
    for c in columns:
        if "_" in c:
            break
        keys.append(c)
    return keys or list(columns[:1])
