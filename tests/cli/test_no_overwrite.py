"""No silent overwrite: a run with --set, --scale or --theory-only writes to its own folder, named after the
settings, beside the default figure; the generated folders are ignored by git."""

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from iclab.cli import main
from iclab.cli.reproduce import output_subfolder
from iclab.experiments import get_experiment


def test_folder_names_say_what_differs_from_the_default():
    exp = get_experiment("lu2024-fig1")
    assert output_subfolder(exp, "quick", False, {}) == ""  # the default run keeps OUT/FIGURE/
    assert output_subfolder(exp, "paper", False, {}) == "paper"
    assert output_subfolder(exp, "quick", True, {"runs": 2, "d": 24}) == "theory-only,d=24,runs=2"
    assert output_subfolder(exp, "quick", False, {"basis": "a/b c"}) == "basis=a_b_c"  # one safe folder name


def _table_only(df, out_dir: Path) -> list[Path]:
    """A stand-in for the figure's plot (matplotlib is slow): the table it would plot."""
    path = out_dir / "lu2024-fig1.csv"
    df.drop(columns=[c for c in df.columns if c.startswith("curve")]).to_csv(path, index=False)
    return [path]


def test_set_run_does_not_overwrite_the_other_figure(tmp_path, capsys, monkeypatch):
    exp = dataclasses.replace(get_experiment("lu2024-fig1"), plot=_table_only, claims=None)
    monkeypatch.setattr("iclab.experiments.get_experiment", lambda exp_id: exp)
    out, store = tmp_path / "out", tmp_path / "s.sqlite"
    args = ["reproduce", "lu2024-fig1", "--theory-only", "--out", str(out), "--store", str(store), "--no-progress"]
    assert main(args) == 0
    first = out / "lu2024-fig1" / "theory-only" / "lu2024-fig1.csv"
    before = first.read_bytes()
    assert main([*args, "--set", "n_theory=20"]) == 0  # a different grid: the theory curves are new rows
    second = out / "lu2024-fig1" / "theory-only,n_theory=20" / "lu2024-fig1.csv"
    assert second.exists() and first.read_bytes() == before and second.read_bytes() != before
    assert f"wrote {second}" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_generated_folders_are_ignored_by_git():
    root = Path(__file__).resolve().parents[2]
    for path in ("iclab-out/lu2024-fig1/x.png", "iclab-report/report.html", "iclab-results.sqlite",
                 "iclab-train/run.json"):
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=root).returncode == 0, path
