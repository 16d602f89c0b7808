"""run_experiment when runs fail: the figure's own error is chained to the first failed run's traceback."""

from dataclasses import dataclass

import pytest

from iclab.experiment import Experiment, Point
from iclab.settings import param
from iclab.sweep import reproduce


@dataclass(frozen=True)
class Settings:
    runs: int = param(2, lo=1, doc="seeds")


def compute(config, seed):
    if seed == 1:
        raise ZeroDivisionError("planted bug in compute")
    return {"value": float(seed)}


def plot_needing_every_seed(df, out_dir):
    if len(df) < 2:  # as a real figure indexing a run that is missing
        raise KeyError("seed 1")
    return []


def toy(plot, compute=compute):
    return Experiment(id="toy", title="toy", points=lambda s, t: [Point({"x": 1}, seeds=s.runs)],
                      compute=compute, plot=plot, settings={"quick": Settings()})


def test_a_failed_run_is_the_reported_cause_when_the_figure_cannot_be_made(tmp_path, monkeypatch):
    monkeypatch.setattr(reproduce, "get_experiment", lambda _: toy(plot_needing_every_seed))
    with pytest.raises(RuntimeError, match=r"toy: 1 runs failed.*seed 1 .*\n.*ZeroDivisionError: planted bug") as e:
        reproduce.run_experiment("toy", out_dir=tmp_path, store=None, progress=False)
    assert isinstance(e.value.__cause__, KeyError)


def test_a_plot_bug_without_failed_runs_keeps_its_own_traceback(tmp_path, monkeypatch):
    def broken(df, out_dir):
        raise KeyError("bug in plot")

    monkeypatch.setattr(reproduce, "get_experiment", lambda _: toy(broken, compute=lambda c, s: {"value": 1.0}))
    with pytest.raises(KeyError, match="bug in plot"):
        reproduce.run_experiment("toy", out_dir=tmp_path, store=None, progress=False)
