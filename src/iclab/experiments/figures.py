"""Pieces every figure module shares: writing a figure with its CSV and footer, the words that explain a figure's
marks (simulation legend labels, the footer line, a de-duplicated legend), a check that every mark is explained,
and the simulation-vs-theory agreement table.

An agreement table (``Experiment.agreement``) has one row per compared quantity and the columns
:data:`AGREEMENT_COLUMNS`: ``quantity`` (a label naming the point), ``d`` and ``runs`` (the simulation's dimension,
when it has one, and its number of runs), ``sim_mean`` and ``sim_sem`` (mean and standard error over runs),
``reference`` (what the simulation is compared with, e.g. "theory (d → ∞)" or "authors' d = 32 runs (§7.4)"),
``theory`` (the reference's value), ``excess_pct = 100 (sim_mean / theory − 1)``, ``z`` and ``severity``.

A reference of the same meaning as the simulation (an exact finite-size closed form, the authors' runs at the same
d) gives ``z = (sim_mean − theory) / sqrt(sim_sem² + ref_sem²)`` and ``severity = |z| / 3``. A d → ∞ limit
compared with a finite-d simulation is biased by the finite-size excess, so it gives no z (NaN): its row carries a
tolerance ``band`` on |excess| instead and ``severity = |excess| / band`` (NaN where no band applies, e.g. at the
interpolation peak). Severity > 1 is a disagreement; ``iclab report`` sorts and flags by it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

AGREEMENT_COLUMNS = ["quantity", "d", "runs", "sim_mean", "sim_sem", "reference", "theory", "excess_pct", "z",
                     "severity"]


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (figures are only ever written to files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, table, out_dir: Path, stem: str, dpi: int = 120, footer: str | None = None) -> list[Path]:
    """Lay out and write ``fig`` to ``out_dir/stem.png`` and ``table`` (a DataFrame, or a list of row dicts) to
    ``out_dir/stem.csv`` without its index; closes the figure. ``footer`` (see :func:`footer_text`) is written
    in small grey type under the panels. Returns [png, csv]."""
    import matplotlib.pyplot as plt
    import pandas as pd

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png, csv = out_dir / f"{stem}.png", out_dir / f"{stem}.csv"
    # tight_layout ignores figure text and figure legends: stack them at the bottom (footer lowest, about 0.17 in
    # a line) and lay the panels out above them
    height = fig.get_figheight()
    bottom = 0.0
    if footer:
        footer = _wrap(footer, int(16 * fig.get_figwidth()))
        fig.text(0.5, 0.006, footer, ha="center", va="bottom", fontsize=8.5, color="#444")
        bottom = 0.05 + 0.17 * (footer.count("\n") + 1)
    for lg in fig.legends:
        lg.set_bbox_to_anchor((0.5, bottom / height), transform=fig.transFigure)
        bottom += lg.get_window_extent(fig.canvas.get_renderer()).height / fig.dpi + 0.05
    fig.tight_layout(rect=(0, min(0.45, bottom / height), 1, 1))
    fig.savefig(png, dpi=dpi)
    plt.close(fig)
    table = table if isinstance(table, pd.DataFrame) else pd.DataFrame.from_records(table)
    table.to_csv(csv, index=False)
    return [png, csv]


def _wrap(text: str, width: int) -> str:
    """Break a footer at its " · " separators into lines of at most ``width`` characters (about 16 characters of
    8.5-point type per inch of figure)."""
    lines: list[str] = []
    for part in text.split(" · "):
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return "\n".join(lines)


def runs_text(runs, unit: str = "run") -> str:
    """``"5 runs"`` for one count, ``"3–5 runs"`` for the range of several (points of a partial table)."""
    counts = sorted({int(r) for r in np.atleast_1d(runs)})
    if not counts:
        return f"no {unit}s"
    span = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    return f"{span} {unit}{'' if span == '1' else 's'}"


def sim_label(what: str, d=None, runs=None, spread: str = "std", unit: str = "run") -> str:
    """The legend label of simulated points: ``"Γ* simulation, d = 30, mean ± std of 5 runs"``.

    ``d`` and ``runs`` may be one value or several (the label then gives their range); ``spread`` names the
    error bar (``"std"`` or ``"SEM"``; empty: no error bar); ``unit`` names a run (e.g. "trained seed")."""
    parts = [what]
    if d is not None:
        ds = sorted({int(v) for v in np.atleast_1d(d)})
        parts.append(f"d = {ds[0]}" if len(ds) == 1 else f"d = {ds[0]}–{ds[-1]}")
    if runs is not None:
        n = runs_text(runs, unit)
        parts.append(f"mean ± {spread} of {n}" if spread else f"mean of {n}")
    return ", ".join(parts)


def footer_text(scale: str, *items: str) -> str:
    """The footer line every figure carries: ``"scale: quick · d = 30 · 5 runs per point · …"``; empty items
    are skipped."""
    return " · ".join([f"scale: {scale}", *(i for i in items if i)])


def scale_name(settings: dict[str, dict], observed: dict) -> str:
    """The scale whose settings agree with every ``observed`` value (e.g. ``{"d": 30, "runs": 5}`` read from a
    results table), else ``"custom (--set)"``. ``plot`` only sees the table, so this is how a footer names the
    scale; an observed value of None (not in the table, e.g. a theory-only run) is not compared."""
    for name, values in settings.items():
        if all(v is None or k not in values or _same(values[k], v) for k, v in observed.items()):
            return name
    return "custom (--set)"


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return list(np.atleast_1d(a)) == list(np.atleast_1d(b))
    try:
        return bool(np.isclose(float(a), float(b)))
    except (TypeError, ValueError):
        return a == b


def legends(fig, axes, inside=lambda label: False, extra=(), ncol: int = 3, **inside_kwargs):
    """Explain every mark once: the labels for which ``inside(label)`` is true (the colour key of one panel, e.g.
    "α = 10") go in a small legend on their panel; all the others (what the marks are: simulation, theory,
    reference lines) and the ``extra`` proxy handles (:func:`proxy`) go once in a figure legend under the panels,
    which :func:`save_figure` places above the footer. Several artists sharing a label appear once."""
    shared: dict[str, object] = {}
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        own: dict[str, object] = {}
        for h, lab in zip(handles, labels, strict=True):
            (own if inside(lab) else shared).setdefault(lab, h)
        if own:
            ax.legend(list(own.values()), list(own.keys()), **{"frameon": False, "fontsize": 8, **inside_kwargs})
    for h in extra:
        shared.setdefault(h.get_label(), h)
    if shared:
        fig.legend(list(shared.values()), list(shared.keys()), loc="lower center", bbox_to_anchor=(0.5, 0.0),
                   ncol=min(ncol, len(shared)), frameon=False, fontsize=8.5)


def proxy(label: str, **line_kwargs):
    """A legend-only handle (drawn nowhere): e.g. ``proxy("lines: theory (d → ∞)", color="k")``."""
    from matplotlib.lines import Line2D

    return Line2D([], [], label=label, **{"color": "k", "lw": 2, **line_kwargs})


def unexplained_artists(fig) -> list[str]:
    """The data-carrying artists of ``fig`` that no legend names: lines with points, collections (scatter, mesh),
    images and errorbar containers whose label is private (``_…``) or missing from every legend of the figure.
    An image or mesh with a colour bar is explained by it; artists that belong to an errorbar container are judged
    through the container. Colour-bar axes are skipped. Returns one description per unexplained artist."""
    from matplotlib.collections import Collection
    from matplotlib.container import ErrorbarContainer

    texts = {t.get_text() for lg in fig.legends for t in lg.get_texts()}
    for ax in fig.axes:
        if ax.get_legend() is not None:
            texts |= {t.get_text() for t in ax.get_legend().get_texts()}
    colorbar_axes = {id(a.colorbar.ax) for ax in fig.axes for a in ax.images + ax.collections
                     if getattr(a, "colorbar", None) is not None}
    missing = []
    for ax in fig.axes:
        if id(ax) in colorbar_axes:
            continue
        parts = set()
        for c in ax.containers:
            if isinstance(c, ErrorbarContainer):
                parts |= {id(a) for a in c.get_children()}
                if c.get_label().startswith("_") or c.get_label() not in texts:
                    missing.append(f"{ax.get_title()!r}: errorbar {c.get_label()!r}")
        for a in ax.lines + ax.collections + ax.images:
            if id(a) in parts:
                continue
            if isinstance(a, Collection) or a in ax.images:
                if getattr(a, "colorbar", None) is not None:
                    continue
                if isinstance(a, Collection) and len(a.get_paths()) == 0:
                    continue
            elif len(a.get_xdata()) == 0:
                continue
            lab = a.get_label()
            if lab.startswith("_") or lab not in texts:
                missing.append(f"{ax.get_title()!r}: {type(a).__name__} {lab!r}")
    return missing


def mean_sem(values) -> tuple[float, float]:
    """Mean and standard error (ddof 1) of a list of per-seed values; the sem of a single value is 0."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0


def agreement_row(quantity: str, mean: float, sem: float, theory: float, *, d: int | None = None,
                  runs: int | None = None, reference: str = "closed form (exact)", ref_sem: float = 0.0,
                  band: float | None = None, tol: float | None = None) -> dict:
    """One row of an agreement table (module docstring). With ``band`` (a fraction, e.g. 10/d) the reference is
    a limit the simulation only approaches: no z, severity = |sim/theory − 1| / band (NaN when band is NaN).
    With ``tol`` (absolute) the claim is agreement within a stated tolerance, not within noise (e.g. a trained
    model against the optimum it approaches): no z, severity = |sim − theory| / tol. Otherwise z uses the
    combined standard error and is NaN unless it is > 0."""
    excess = 100 * (mean / theory - 1) if theory != 0 else math.nan
    if tol is not None:
        z, severity = math.nan, abs(mean - theory) / tol
    elif band is not None:
        z = math.nan
        severity = abs(excess) / (100 * band) if band > 0 and math.isfinite(band) else math.nan
    else:
        se = math.hypot(sem, ref_sem) if math.isfinite(sem) else math.nan
        z = (mean - theory) / se if se > 0 else math.nan
        severity = abs(z) / 3
    return {"quantity": quantity, "d": d, "runs": runs, "sim_mean": mean, "sim_sem": sem, "reference": reference,
            "theory": theory, "excess_pct": excess, "z": z, "severity": severity}


def agreement_frame(rows: list[dict]):
    """The agreement table of :func:`agreement_row` rows (with its columns even when there are none)."""
    import pandas as pd

    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
