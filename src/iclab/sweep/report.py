"""``iclab report``: one self-contained HTML page from the results store.

For every experiment in the store the page shows the rows of its latest sweep: a figure (an id in
:data:`iclab.experiments.REGISTRY`) is re-plotted with its ``plot`` (PNG files beside the page, and embedded as
base64 so the page stands alone), followed by its ``agreement`` table when it defines one (simulation mean,
standard error, theory, z-score); any other sweep gets a preview of its table. Then the wall time per experiment
and the environment (versions; CPU or GPU from ``jax.devices()``).
"""

from __future__ import annotations

import base64
import html
import os
import platform
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from iclab.sweep.store import Store
from iclab.validation import UserInputError


def latest_table(st: Store, name: str) -> tuple[pd.DataFrame, int, dict[str, Any] | None]:
    """Rows of the latest sweep of ``name`` (all rows if no sweep is recorded), the number failed, the sweep."""
    sweep = st.last_sweep(name)
    wanted = None if sweep is None else {(h, s) for h, n in sweep["points"] for s in range(n)}
    records, n_failed = [], 0
    for r in st.rows(name):
        if wanted is not None and (r["point_hash"], r["seed"]) not in wanted:
            continue
        if r["status"] != "ok":
            n_failed += 1
            continue
        records.append({**r["config"], "seed": r["seed"], **r["metrics"], "wall_time": r["wall_time"]})
    return pd.DataFrame.from_records(records), n_failed, sweep


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, str]:
    """Versions and hardware, as shown in the report."""
    import numpy
    import scipy

    import iclab

    env = {"iclab": iclab.__version__, "python": sys.version.split()[0], "numpy": numpy.__version__,
           "scipy": scipy.__version__, "platform": platform.platform(), "cpu": _cpu_model(),
           "cpu cores": str(os.cpu_count())}
    try:
        import jax

        env["jax"] = jax.__version__
        env["devices"] = ", ".join(f"{d.platform}:{d.device_kind}" for d in jax.devices())
    except Exception as e:  # a report must still be written without a working accelerator stack
        env["jax"] = f"unavailable ({type(e).__name__})"
    return env


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(path.name)}">' \
           f"<figcaption>{html.escape(path.name)}</figcaption></figure>"


def _table_html(df: pd.DataFrame) -> str:
    return df.to_html(index=False, float_format=lambda v: f"{v:.5g}", border=0, classes="tbl", na_rep="")


def _section(name: str, df: pd.DataFrame, n_failed: int, sweep, out_dir: Path) -> tuple[str, dict[str, Any]]:
    from iclab.experiments import REGISTRY, get_experiment

    compute_s = float(df["wall_time"].sum()) if "wall_time" in df else 0.0
    timing = {"experiment": name, "rows": len(df), "failed": n_failed, "compute (s)": compute_s,
              "last sweep elapsed (s)": None if sweep is None or sweep["elapsed"] is None else sweep["elapsed"]}
    parts = [f'<h2 id="{html.escape(name)}">{html.escape(name)}</h2>']
    if n_failed:
        parts.append(f'<p class="bad">{n_failed} failed runs left out (see <code>iclab results show {name} '
                     "--failed</code>)</p>")
    if name in REGISTRY and len(df):
        try:
            exp = get_experiment(name)
            parts.insert(1, f"<p>{html.escape(exp.title)}</p>")
            fig_dir = out_dir / name
            fig_dir.mkdir(parents=True, exist_ok=True)
            files = exp.plot(df.copy(), fig_dir)
            parts += [_img(Path(f)) for f in files if str(f).endswith(".png")]
            if exp.agreement is not None:
                table = exp.agreement(df.copy())
                parts += ["<h3>Agreement with theory</h3>",
                          _table_html(table) if len(table) else "<p>no simulation rows to compare</p>"]
        except Exception as e:  # shown on the page, so one broken figure does not hide the others
            parts.append(f'<p class="bad">could not plot {name}: {html.escape(f"{type(e).__name__}: {e}")}</p>')
    elif len(df):
        parts += [f"<p>{len(df)} rows; first 10:</p>", _table_html(df.head(10))]
    return "\n".join(parts), timing


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
img{max-width:100%}figure{margin:1em 0}figcaption{color:#666;font-size:90%}
.tbl{border-collapse:collapse;font-size:90%}.tbl td,.tbl th{padding:2px 8px;border-bottom:1px solid #ddd;
text-align:right}.bad{color:#b00}code{background:#f4f4f4;padding:0 3px}"""


def write_report(store: str | Path, out_dir: str | Path) -> Path:
    """Write ``out_dir/report.html`` (plus one folder of PNG and CSV per figure); returns the page's path."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sections, timings = [], []
    with Store(store, readonly=True) as st:
        names = st.experiments()
        if not names:
            raise UserInputError(f"store {store} holds no results yet (run `iclab reproduce` or `iclab sweep` first)")
        for name in names:
            df, n_failed, sweep = latest_table(st, name)
            text, timing = _section(name, df, n_failed, sweep, out_dir)
            sections.append(text)
            timings.append(timing)
    env = pd.DataFrame(list(environment().items()), columns=["", "version"])
    toc = " · ".join(f'<a href="#{html.escape(n)}">{html.escape(n)}</a>' for n in names)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>iclab report</title><style>{_CSS}</style>"
            f"</head><body><h1>iclab reproduction report</h1><p>store: <code>{html.escape(str(store))}</code></p>"
            f"<p>{toc}</p>" + "\n".join(sections) + "<h2>Wall time per experiment</h2>"
            + _table_html(pd.DataFrame(timings)) + "<h2>Environment</h2>" + _table_html(env) + "</body></html>")
    path = out_dir / "report.html"
    path.write_text(page)
    return path
