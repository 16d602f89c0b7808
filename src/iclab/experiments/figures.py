"""Pieces every figure module shares: writing a figure with its CSV, and the simulation-vs-theory agreement table.

An agreement table (``Experiment.agreement``) has one row per compared quantity and the columns
:data:`AGREEMENT_COLUMNS`: ``quantity`` (a label naming the point), ``sim_mean`` and ``sim_sem`` (mean and standard
error over seeds), ``theory`` and ``z = (sim_mean - theory) / sim_sem`` (NaN where the sem is 0 or undefined).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

AGREEMENT_COLUMNS = ["quantity", "sim_mean", "sim_sem", "theory", "z"]


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (figures are only ever written to files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, table, out_dir: Path, stem: str, dpi: int = 120) -> list[Path]:
    """Lay out and write ``fig`` to ``out_dir/stem.png`` and ``table`` (a DataFrame, or a list of row dicts) to
    ``out_dir/stem.csv`` without its index; closes the figure. Returns [png, csv]."""
    import matplotlib.pyplot as plt
    import pandas as pd

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png, csv = out_dir / f"{stem}.png", out_dir / f"{stem}.csv"
    fig.tight_layout()
    fig.savefig(png, dpi=dpi)
    plt.close(fig)
    table = table if isinstance(table, pd.DataFrame) else pd.DataFrame.from_records(table)
    table.to_csv(csv, index=False)
    return [png, csv]


def mean_sem(values) -> tuple[float, float]:
    """Mean and standard error (ddof 1) of a list of per-seed values; the sem of a single value is 0."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0


def agreement_row(quantity: str, mean: float, sem: float, theory: float) -> dict:
    """One row of an agreement table; z is NaN unless sem > 0."""
    z = (mean - theory) / sem if sem > 0 else math.nan
    return {"quantity": quantity, "sim_mean": mean, "sim_sem": sem, "theory": theory, "z": z}


def agreement_frame(rows: list[dict]):
    """The agreement table of :func:`agreement_row` rows (with its columns even when there are none)."""
    import pandas as pd

    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
