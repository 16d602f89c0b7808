"""``iclab report`` pieces: the agreement tables (per reference, worst first, flagged, folded, no raw z against
d → ∞), the claims table and the environment."""

import math
import re

import pandas as pd

from iclab.claims import Claim
from iclab.experiments.figures import agreement_frame, agreement_row
from iclab.sweep import report


def _table():
    rows = [agreement_row(f"e_icl (tau={t})", m, 0.01, 1.0, d=30, runs=5, reference="theory (d → ∞)", band=b)
            for t, m, b in [(0.2, 1.05, 1 / 3), (1.15, 1.7, math.nan), (2.0, 1.45, 1 / 3)]]
    rows += [agreement_row(f"g (kappa={k})", m, 0.01, 1.0, d=32, runs=20, reference="authors, d = 32",
                           ref_sem=0.01) for k, m in [(0.2, 1.001), (0.4, 1.2)]]
    return agreement_frame(rows)


def test_agreement_html_sorts_flags_folds_and_separates_references():
    page = report.agreement_html(_table(), shown=1)
    # the same-meaning reference first, then the d → ∞ limit with its note
    assert page.index("against authors, d = 32") < page.index("against theory (d → ∞)")
    authors, limit = page.split("<h4>against theory (d → ∞)</h4>")
    assert "z (combined SE)" in authors and "z (combined SE)" not in limit       # no raw z against d → ∞
    assert "finite-size excess" in limit and "d = 30; runs per point: 5" in limit
    assert "d = 32; runs per point: 20" in authors and "1 outside tolerance" in authors
    # worst first: the +45% row (severity 1.35 > 1, flagged) is shown, the rest folded; the τ = 1.15 row has no
    # band and comes last
    shown, folded = limit.split("<details>")
    assert '<tr class="bad"><td>✗</td><td class="text">e_icl (tau=2.0)' in shown and "+45.0%" in shown
    assert folded.index("tau=0.2") < folded.index("tau=1.15") and "2 more rows" in folded
    assert '<tr class="undecided"><td>–</td><td class="text">e_icl (tau=1.15)' in folded


def test_old_agreement_tables_are_normalised():
    old = pd.DataFrame({"quantity": ["a", "b"], "sim_mean": [1.0, 2.0], "sim_sem": [0.1, 0.1],
                        "theory": [1.0, 1.0], "z": [0.0, 10.0]})
    t = report.normalise_agreement(old)
    assert list(t["quantity"]) == ["b", "a"] and t["severity"].iloc[0] == 10 / 3
    assert set(t["reference"]) == {"theory"} and t["excess_pct"].iloc[0] == 100.0


def test_claims_html_counts_and_flags():
    claims = [Claim("a", "holds", 1.0, None, "<= 2", True), Claim("b", "fails", 3.0, 0.1, "<= 2", False),
              Claim("c", "too small", None, None, "<= 2", None)]
    page = report.claims_html(claims)
    assert "1 of 3 claims hold (1 fails, 1 undecided)" in page
    assert '<tr class="bad"><td>FAILS</td>' in page and "3 ± 0.1" in page


def test_environment_names_version_commit_date_and_packages():
    env = report.environment()
    assert {"iclab", "git commit", "date (UTC)", "platform", "numpy", "pandas", "matplotlib"} <= set(env)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", env["date (UTC)"])
    assert re.match(r"[0-9a-f]{12}", env["git commit"]) or env["git commit"].startswith("unknown")


def test_infer_scale_reads_the_scale_back_from_the_sweep():
    from iclab.experiments import get_experiment
    from iclab.sweep.config import point_hash

    exp = get_experiment("lu2024-fig1")
    sweep = {"points": [(point_hash(p.config), p.seeds) for p in exp.plan("quick", False, {})]}
    assert report.infer_scale(exp, sweep) == "quick"
    sweep = {"points": [(point_hash(p.config), p.seeds) for p in exp.plan("paper", True, {})]}
    assert report.infer_scale(exp, sweep) == "paper"
    sweep = {"points": [(point_hash(p.config), p.seeds) for p in exp.plan("quick", False, {"d": 12})]}
    assert report.infer_scale(exp, sweep) == "custom" and report.infer_scale(exp, None) == "custom"
