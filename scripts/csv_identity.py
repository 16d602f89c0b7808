"""Before/after check for refactors: every theory and simulation figure at quick scale gives the same CSV numbers.

    python scripts/csv_identity.py snapshot DIR [FIGURE ...]   # run the figures into DIR (fresh store in DIR)
    python scripts/csv_identity.py compare BEFORE AFTER         # compare every CSV, cell by cell

``compare`` matches CSVs by relative path. Numeric cells must agree to ``--rtol`` (default 1e-12, for a changed
order of arithmetic); all other cells must be identical. It prints one line per file and exits 1 on any difference.
The snapshot also records each figure's wall time in DIR/times.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

# Every figure whose numbers come from closed forms or the solvable model (kind theory or simulation); the trained
# figures are excluded because their numbers depend on XLA's reduction order.
FIGURES = (
    "lu2024-finite-size", "lu2024-fig1", "lu2024-fig2", "lu2024-fig3", "lu2024-fig4", "lu2024-fig4-demo",
    "letey2025-fig1", "letey2025-spike", "letey2025-alignment", "letey2025-test-scaling", "yang2024-fig3",
)


def snapshot(out: Path, figures: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    times_file = out / "times.json"
    times = json.loads(times_file.read_text()) if times_file.exists() else {}
    for fig in figures:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "iclab", "reproduce", fig, "--out", str(out), "--store",
                        str(out / "store.sqlite"), "--executor", "process", "--no-progress"], check=True)
        times[fig] = round(time.perf_counter() - t0, 1)
        times_file.write_text(json.dumps(times, indent=1))
        print(f"{fig}: {times[fig]} s", flush=True)


def compare_frames(a: pd.DataFrame, b: pd.DataFrame, rtol: float) -> str | None:
    """None when equal, else a one-line description of the first difference."""
    if list(a.columns) != list(b.columns):
        return f"columns differ: {list(a.columns)} vs {list(b.columns)}"
    if a.shape != b.shape:
        return f"shape differs: {a.shape} vs {b.shape}"
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            xv, yv = x.to_numpy(float), y.to_numpy(float)
            same = np.isclose(xv, yv, rtol=rtol, atol=0.0, equal_nan=True) | (xv == yv)
            if not same.all():
                i = int(np.flatnonzero(~same)[0])
                return f"{col}[{i}]: {xv[i]!r} vs {yv[i]!r} (rel {abs(xv[i] - yv[i]) / max(abs(xv[i]), 1e-300):.2e})"
        elif not (x.astype(str).to_numpy() == y.astype(str).to_numpy()).all():
            i = int(np.flatnonzero(x.astype(str).to_numpy() != y.astype(str).to_numpy())[0])
            return f"{col}[{i}]: {x.iloc[i]!r} vs {y.iloc[i]!r}"
    return None


def compare(before: Path, after: Path, rtol: float) -> int:
    files_a = {p.relative_to(before) for p in before.rglob("*.csv")}
    files_b = {p.relative_to(after) for p in after.rglob("*.csv")}
    bad = 0
    for rel in sorted(files_a | files_b):
        if rel not in files_a or rel not in files_b:
            print(f"MISSING {rel} (only in {'before' if rel in files_a else 'after'})")
            bad += 1
            continue
        diff = compare_frames(pd.read_csv(before / rel), pd.read_csv(after / rel), rtol)
        print(f"{'same' if diff is None else 'DIFF'} {rel}" + ("" if diff is None else f": {diff}"))
        bad += diff is not None
    print(f"{len(files_a | files_b) - bad} of {len(files_a | files_b)} CSV files agree to rtol {rtol:g}")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snapshot")
    s.add_argument("out", type=Path)
    s.add_argument("figures", nargs="*", default=list(FIGURES))
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    c.add_argument("--rtol", type=float, default=1e-12)
    args = parser.parse_args()
    if args.cmd == "snapshot":
        snapshot(args.out, args.figures)
        return 0
    return compare(args.before, args.after, args.rtol)


if __name__ == "__main__":
    raise SystemExit(main())
