"""Start-up and end-to-end speed of this source tree against a baseline tree, side by side in one run.

Each measurement runs alternately on the two trees (``PYTHONPATH`` selects the tree; the round order alternates,
ABBA), so that the load of a shared machine falls on both alike; the report is the median of each and the ratio
this tree / baseline:

1. ``python -X importtime -c "import iclab.cli"``: the cumulative import time of the CLI (ms);
2. ``iclab --help``: wall time of the whole command (s);
3. ``iclab reproduce lu2024-fig4-demo --executor process``: wall time end to end (s), each run with a fresh store
   and output folder, so nothing is cached. The first run's CSVs of the two trees are compared byte for byte, so
   that the ratio compares the same work.

``--baseline-without MODULE`` hides an installed module from the baseline, for a baseline that predates a
dependency and behaves differently when it is present (the BLAS thread limit of iclab before issue 13 used
threadpoolctl when installed, once per simulation run, and else its own cached scan of the loaded libraries).

Usage: python benchmarks/bench_entry_points.py --baseline OLD/src [--runs 3] [--baseline-without threadpoolctl]
Writes nothing outside a temporary folder.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THIS_TREE = Path(__file__).resolve().parents[1] / "src"


def environment(src: Path, hide: list[str], stubs: Path) -> dict[str, str]:
    """The environment of a child process that imports iclab from ``src`` (and not the ``hide`` modules)."""
    for name in hide:
        (stubs / f"{name}.py").write_text(f"raise ImportError('{name} is hidden from the baseline')\n")
    path = [str(stubs)] if hide else []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "PYTHONPATH": os.pathsep.join([*path, str(src)]), "MPLBACKEND": "Agg"}


def import_ms(env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import iclab.cli"], env=env,
                         capture_output=True, text=True, check=True)
    line = next(line for line in out.stderr.splitlines() if line.rstrip().endswith("| iclab.cli"))
    return int(line.split("|")[1]) / 1000


def wall_s(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "iclab", *argv], env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the baseline tree's src folder")
    parser.add_argument("--runs", type=int, default=3, help="fig4-demo runs per tree (default 3; 0: start-up only)")
    parser.add_argument("--startup-runs", type=int, default=7, help="runs of the start-up measurements (default 7)")
    parser.add_argument("--baseline-without", nargs="*", default=[], metavar="MODULE",
                        help="installed modules to hide from the baseline")
    args = parser.parse_args()
    trees = {"baseline": args.baseline.resolve(), "this": THIS_TREE}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "stubs").mkdir()
        envs = {"baseline": environment(trees["baseline"], args.baseline_without, tmp / "stubs"),
                "this": environment(trees["this"], [], tmp / "stubs")}
        for name, env in envs.items():
            out = subprocess.run([sys.executable, "-c", "import iclab; print(iclab.__file__)"], env=env,
                                 capture_output=True, text=True, check=True)
            print(f"{name}: {out.stdout.strip()}", flush=True)

        def order(i: int) -> list[str]:
            return ["baseline", "this"] if i % 2 == 0 else ["this", "baseline"]

        results: dict[str, dict[str, list[float]]] = {m: {"baseline": [], "this": []}
                                                      for m in ("import iclab.cli (ms)", "iclab --help (s)",
                                                                "reproduce lu2024-fig4-demo --executor process (s)")}
        for i in range(args.startup_runs):
            for name in order(i):
                results["import iclab.cli (ms)"][name].append(import_ms(envs[name]))
                results["iclab --help (s)"][name].append(wall_s(["--help"], envs[name], tmp))
        for i in range(args.runs):
            for name in order(i):
                run_dir = tmp / f"{name}-{i}"
                run_dir.mkdir()
                t = wall_s(["reproduce", "lu2024-fig4-demo", "--executor", "process", "--no-progress",
                            "--store", str(run_dir / "store.sqlite"), "--out", str(run_dir / "out")],
                           envs[name], run_dir)
                results["reproduce lu2024-fig4-demo --executor process (s)"][name].append(t)
                print(f"  fig4-demo run {i + 1} {name}: {t:.1f} s", flush=True)
        if args.runs:
            csvs = sorted(p.relative_to(tmp / "this-0") for p in (tmp / "this-0").rglob("*.csv"))
            same = [filecmp.cmp(tmp / "baseline-0" / p, tmp / "this-0" / p, shallow=False) for p in csvs]
            print(f"CSVs of the first runs: {sum(same)} of {len(csvs)} identical"
                  + "".join(f"; {p} differs" for p, ok in zip(csvs, same, strict=True) if not ok))
    print(f"\n{'measurement':52s} {'baseline':>10s} {'this':>10s} {'ratio':>7s}   (medians; ratio = this / baseline)")
    for what, by_tree in results.items():
        if not by_tree["this"]:
            continue
        b, t = statistics.median(by_tree["baseline"]), statistics.median(by_tree["this"])
        every = "; ".join(f"{name} " + ", ".join(f"{v:.3g}" for v in by_tree[name]) for name in ("baseline", "this"))
        print(f"{what:52s} {b:10.3g} {t:10.3g} {t / b:7.3f}   (n = {len(by_tree['this'])}: {every})")


if __name__ == "__main__":
    main()
