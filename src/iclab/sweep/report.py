"""``iclab report``: one self-contained HTML page from the results store.

The page opens with "N of M claims hold" over all figures. For every experiment in the store it shows the rows
of its latest sweep: a figure (an id in :data:`iclab.experiments.REGISTRY`) gets its claims table (the paper's
claims this run checks, :mod:`iclab.claims`, at the scale read back from the sweep's points), its re-plotted
figure (PNG files beside the page, and embedded as base64 so the page stands alone) and its ``agreement`` table
when it defines one; any other sweep gets a preview of its table. Then the wall time per experiment and the
environment (iclab version, git commit, date, platform, package versions; CPU or GPU from ``jax.devices()``).

Agreement tables (:mod:`iclab.experiments.figures`) state d and the number of runs and name their reference. A
reference of the same meaning (the authors' runs at the same d, an exact closed form) is judged by z; a d → ∞
limit is labelled as such and judged by the finite-size excess sim/theory − 1 against its band, never by a raw z.
Rows are sorted worst first (by severity), disagreements (severity > 1) are flagged red, and only the worst
:data:`SHOWN_ROWS` are shown, the rest folded.
"""

from __future__ import annotations

import base64
import datetime
import html
import math
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

import iclab
from iclab.claims import format_value, summary, verdict
from iclab.experiments import REGISTRY, get_experiment
from iclab.experiments.figures import AGREEMENT_COLUMNS
from iclab.sweep.config import point_hash
from iclab.sweep.store import Store
from iclab.validation import UserInputError

SHOWN_ROWS = 10  # agreement rows shown before the fold
PACKAGES = ("numpy", "scipy", "pandas", "matplotlib", "jax", "jaxlib", "equinox", "optax")


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


def git_commit() -> str | None:
    """The commit of the iclab source tree (with "+ local changes" when dirty), or None outside a git checkout."""
    src = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(src), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
        return head.stdout.strip() + (" + local changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict[str, str]:
    """iclab version, git commit, date, platform, hardware and package versions, as shown in the report."""
    env = {"iclab": iclab.__version__, "git commit": git_commit() or "unknown (not a git checkout)",
           "date (UTC)": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S"),
           "python": sys.version.split()[0], "platform": platform.platform(), "cpu": _cpu_model(),
           "cpu cores": str(os.cpu_count())}
    for name in PACKAGES:
        try:
            env[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            env[name] = "not installed"
    try:
        import jax

        env["devices"] = ", ".join(f"{d.platform}:{d.device_kind}" for d in jax.devices())
    except Exception as e:  # a report must still be written without a working accelerator stack
        env["devices"] = f"unavailable ({type(e).__name__})"
    return env


def infer_scale(exp, sweep) -> str:
    """The scale whose points (full or theory-only) are exactly the sweep's, else ``"custom"`` (a run with
    ``--set`` overrides, or rows without a recorded sweep)."""
    if sweep is None:
        return "custom"
    ran = {(h, n) for h, n in sweep["points"]}
    for scale in exp.scales:
        for theory_only in (False, True) if exp.supports_theory_only else (False,):
            try:
                pts = exp.plan(scale, theory_only, {})
            except Exception:  # a figure whose points cannot be listed here is simply not matched
                continue
            if {(point_hash(p.config), p.seeds) for p in pts} == ran:
                return scale
    return "custom"


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(path.name)}">' \
           f"<figcaption>{html.escape(path.name)}</figcaption></figure>"


def _table_html(df: pd.DataFrame) -> str:
    return df.to_html(index=False, float_format=lambda v: f"{v:.5g}", border=0, classes="tbl", na_rep="")


def _fmt(v, digits: int = 5) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return html.escape(str(v))


def claims_html(claims) -> str:
    """The claims table: verdict, claim id, statement, value ± uncertainty, target; failing rows flagged."""
    css = {True: "ok", False: "bad", None: "undecided"}
    rows = "".join(f'<tr class="{css[c.holds]}"><td>{verdict(c.holds)}</td><td><code>{html.escape(c.id)}</code></td>'
                   f'<td class="text">{html.escape(c.statement)}</td>'
                   f"<td>{html.escape(format_value(c.value, c.uncertainty))}</td>"
                   f'<td class="text">{html.escape(c.target)}</td></tr>' for c in claims)
    return (f'<p class="claims-summary {_summary_class(claims)}">{html.escape(summary(claims))}</p>'
            '<table class="tbl claims"><thead><tr><th>verdict</th><th>claim</th><th>statement</th><th>value</th>'
            f"<th>target</th></tr></thead><tbody>{rows}</tbody></table>")


def _summary_class(claims) -> str:
    states = [c.holds for c in claims]
    return "bad" if False in states else ("undecided" if None in states or not states else "ok")


def normalise_agreement(table: pd.DataFrame) -> pd.DataFrame:
    """An agreement table with every column of :data:`iclab.experiments.figures.AGREEMENT_COLUMNS`; an older
    table (quantity, sim_mean, sim_sem, theory, z) gets reference "theory", severity |z|/3 and no d or runs.
    Sorted worst first (severity descending, undefined last)."""
    t = table.copy()
    defaults = {"d": None, "runs": None, "reference": "theory", "excess_pct": math.nan, "z": math.nan}
    for col, value in defaults.items():
        if col not in t:
            t[col] = value
    if "severity" not in t:
        t["severity"] = t["z"].abs() / 3
    if t["excess_pct"].isna().all() and "theory" in t:
        t["excess_pct"] = 100 * (t["sim_mean"] / t["theory"].where(t["theory"] != 0) - 1)
    t = t[AGREEMENT_COLUMNS + [c for c in t.columns if c not in AGREEMENT_COLUMNS]]
    return t.sort_values("severity", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def agreement_html(table: pd.DataFrame, shown: int = SHOWN_ROWS) -> str:
    """The agreement section, one table per reference (references of the same meaning, e.g. the authors' runs at
    the same d, before a d → ∞ limit): what is compared with what (d, runs), the worst ``shown`` rows with
    disagreements flagged, the rest folded in a ``<details>``."""
    t = normalise_agreement(table)
    if t.empty:
        return "<p>no simulation rows to compare</p>"
    refs = sorted(dict.fromkeys(t["reference"].astype(str)), key=lambda r: "d → ∞" in r)
    return "\n".join(_reference_table(t[t["reference"].astype(str) == ref], ref, shown) for ref in refs)


def _reference_table(t: pd.DataFrame, ref: str, shown: int) -> str:
    ds = sorted({int(v) for v in t["d"].dropna()})
    runs = sorted({int(v) for v in t["runs"].dropna()})
    bad = int((t["severity"] > 1).sum())
    parts = [f"<h4>against {html.escape(ref)}</h4>"
             f"<p>{len(t)} comparisons; d = {', '.join(map(str, ds)) or 'n/a'}; runs per point: "
             f"{'–'.join(map(str, sorted({runs[0], runs[-1]}))) if runs else 'n/a'}. "
             f'<span class="{"bad" if bad else "ok"}">{bad} outside tolerance</span>.</p>']
    if "d → ∞" in ref:
        parts.append('<p class="note">The d → ∞ theory is a limit: a simulation at finite d sits above it by a '
                     "finite-size excess, so these rows show the excess sim/theory − 1 in % and no z-score. A row is "
                     "flagged only when its excess leaves the finite-size band 10/d (the authors' own d = 100 "
                     "excess, §7.1); near τ = 1 (τ in [0.8, 1.25]) no band applies.</p>")
    has_z = t["z"].notna().any()
    head = ["", "quantity", "d", "runs", "simulation (mean ± SE)", "reference value",
            "excess sim/ref − 1"] + (["z (combined SE)"] if has_z else []) + ["severity"]

    def row(r) -> str:
        sev = r["severity"]
        flag = "✗" if sev > 1 else ("✓" if sev <= 1 else "–")
        cls = "bad" if sev > 1 else ("ok" if sev <= 1 else "undecided")
        z = [f"<td>{_fmt(r['z'], 3)}</td>"] if has_z else []
        return (f'<tr class="{cls}"><td>{flag}</td><td class="text">{html.escape(str(r["quantity"]))}</td>'
                f"<td>{_fmt(r['d'])}</td><td>{_fmt(r['runs'])}</td>"
                f"<td>{_fmt(r['sim_mean'])} ± {_fmt(r['sim_sem'], 2)}</td><td>{_fmt(r['theory'])}</td>"
                f"<td>{'' if pd.isna(r['excess_pct']) else format(r['excess_pct'], '+.1f') + '%'}</td>"
                + "".join(z) + f"<td>{_fmt(sev, 3)}</td></tr>")

    thead = "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>"
    rows = [row(r) for _, r in t.iterrows()]
    parts.append(f'<table class="tbl agreement">{thead}<tbody>{"".join(rows[:shown])}</tbody></table>')
    if len(rows) > shown:
        parts.append(f"<details><summary>{len(rows) - shown} more rows (better agreement)</summary>"
                     f'<table class="tbl agreement">{thead}<tbody>{"".join(rows[shown:])}</tbody></table>'
                     "</details>")
    return "\n".join(parts)


def _section(name: str, df: pd.DataFrame, n_failed: int, sweep, out_dir: Path) -> tuple[str, dict[str, Any]]:
    compute_s = float(df["wall_time"].sum()) if "wall_time" in df else 0.0
    timing = {"experiment": name, "rows": len(df), "failed": n_failed, "compute (s)": compute_s,
              "last sweep elapsed (s)": None if sweep is None or sweep["elapsed"] is None else sweep["elapsed"]}
    timing["claims"] = None
    parts = [f'<h2 id="{html.escape(name)}">{html.escape(name)}</h2>']
    if n_failed:
        parts.append(f'<p class="bad">{n_failed} failed runs left out (see <code>iclab results show {name} '
                     "--failed</code>)</p>")
    if name in REGISTRY and len(df):
        try:
            exp = get_experiment(name)
            scale = infer_scale(exp, sweep)
            parts.insert(1, f"<p>{html.escape(exp.title)} · scale: {html.escape(scale)}</p>")
            if exp.claims is not None:
                claims = exp.claims(df.copy(), scale)
                timing["claims"] = claims
                parts += ["<h3>Claims</h3>", claims_html(claims)]
            fig_dir = out_dir / name
            fig_dir.mkdir(parents=True, exist_ok=True)
            files = exp.plot(df.copy(), fig_dir)
            parts += [_img(Path(f)) for f in files if str(f).endswith(".png")]
            if exp.agreement is not None:
                parts += ["<h3>Agreement</h3>", agreement_html(exp.agreement(df.copy()))]
        except Exception as e:  # shown on the page, so one broken figure does not hide the others
            parts.append(f'<p class="bad">could not plot {name}: {html.escape(f"{type(e).__name__}: {e}")}</p>')
    elif len(df):
        parts += [f"<p>{len(df)} rows; first 10:</p>", _table_html(df.head(10))]
    return "\n".join(parts), timing


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
img{max-width:100%}figure{margin:1em 0}figcaption{color:#666;font-size:90%}
.tbl{border-collapse:collapse;font-size:90%;margin:.5em 0}.tbl td,.tbl th{padding:2px 8px;
border-bottom:1px solid #ddd;text-align:right;vertical-align:top}.tbl td.text{text-align:left;max-width:36em}
.bad{color:#b00}tr.bad{background:#fde8e8}tr.undecided{background:#f6f6f0}.ok{color:#176117}
.claims-summary{font-size:120%;font-weight:600}.note{color:#555;font-size:90%;max-width:60em}
.overall{font-size:140%;font-weight:700}details summary{cursor:pointer;color:#0645ad}
code{background:#f4f4f4;padding:0 3px}"""


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
    every = [c for t in timings for c in (t["claims"] or [])]
    toc = "".join(f'<li><a href="#{html.escape(t["experiment"])}">{html.escape(t["experiment"])}</a>'
                  + (f' — <span class="{_summary_class(t["claims"])}">{html.escape(summary(t["claims"]))}</span>'
                     if t["claims"] is not None else "") + "</li>" for t in timings)
    overall = (f'<p class="overall {_summary_class(every)}">{html.escape(summary(every))}</p>' if every
               else "<p>no figure in this store checks claims</p>")
    for t in timings:
        t.pop("claims")
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>iclab report</title>"
            f"<style>{_CSS}</style></head><body><h1>iclab reproduction report</h1>{overall}"
            f"<p>store: <code>{html.escape(str(store))}</code></p><ul>{toc}</ul>" + "\n".join(sections)
            + "<h2>Wall time per experiment</h2>" + _table_html(pd.DataFrame(timings)) + "<h2>Environment</h2>"
            + _table_html(env) + "</body></html>")
    path = out_dir / "report.html"
    path.write_text(page)
    return path
