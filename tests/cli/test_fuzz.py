"""CLI fuzzing: hypothesis-generated argument lists for every command, run in-process with a time limit.

The commands and their options are discovered from the Typer app, so commands added later are fuzzed without
edits here. Values mix valid small numbers with the grid grammar's edge cases, huge values, NaN and inf, unicode,
empty strings and files of the wrong kind; options may be missing, repeated or unknown. Every outcome must be

- exit 0 with some output, or
- exit 2 with exactly one line on stderr (``iclab: error: ...``), or
- *admitted*: every check passed and the command reached its compute (a training loop, the sweep executor, the
  sampler of a simulation), where the fuzzer stops it: compute kernels are tested elsewhere, and a valid run may
  take minutes;

never a traceback (any other exception fails the test, with hypothesis's shrunk argument list), another exit
code, or a hang (no outcome within ``LIMIT_S`` seconds). The fast suite tries a small corpus; the ``slow`` test
runs many more cases (``ICLAB_FUZZ_EXAMPLES``, default 2000).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from iclab.cli import LIMIT_OPTIONS, main
from iclab.cli.apps import app

LIMIT_S = 30  # per case; refusals take well under a second, so this is generous for a loaded 2-core machine


class Admitted(BaseException):  # noqa: N818  (not an error: the outcome "reached the compute")
    """Raised by the stubbed compute entry points: the command accepted its input and started work."""


class Hang(BaseException):  # noqa: N818
    """The case produced no outcome within LIMIT_S."""


def _commands() -> list[tuple[list[str], object]]:
    """(command path, click command) for every group and leaf of the app."""
    out = []

    def walk(cmd, path):
        out.append((path, cmd))
        if hasattr(cmd, "commands"):  # a group (typer may vendor its own click: no isinstance)
            for name, sub in sorted(cmd.commands.items()):
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return [(p, c) for p, c in out if p]


COMMANDS = _commands()

NUMBERS = ["1", "2", "3", "4", "0.5", "0.1", "0", "-1", "-0", "1e-3", "10"]
GRAMMAR = ["0.1:3:4", "log:0.1:10:3", "logspace(-1,1,3)", "1,2", "0.1,0.5:2:3,inf", ":", "1:2", "1:2:0",
           "1:2:-1", "1:2:1.5", "log:0:1:3", "log:-1:1:3", "logspace(1,2)", "logspace(", "logspace(1,2,1e9)", "1,,2",
           ",", "(", ")", "1:2:1e12", "0:1:1e300", "1:2:inf", "1:2:nan", "nan:1:3", "log:1:inf:3", "1e308:1e308:2"]
HUGE = ["1e308", "1e400", "-1e308", "99999999999999999999", "100000", "3000", "1000000000", "2147483648"]
SPECIAL = ["nan", "NaN", "inf", "-inf", "+inf", "Infinity"]
ODD = ["", " ", "é", "τ", "\u202e", "1\x00", "-", "--", "☃:☃:☃", "１", "0x10", "1_000", "[1, 2]", "{a: 1}", "true",
       "list", "lu2024-fig1", "auto", "cg", "dual", "csv", "json", "table", "parquet", "process", "dask",
       "tcp://127.0.0.1:1", "key=value", "=", "N=40", "d=1e9", "a" * 300]
FILES = ["spec.yaml", "bad.yaml", "list.yaml", "evil.yaml", "bin.dat", "missing.yaml", ".", "text.sqlite",
         "store.sqlite", "out-dir"]
IDS = ["iclab.experiments.solvable_points:simulate_point", "quick", "paper", "d=3000", "d=2", "seeds=0", "tau=1e308",
       "runs=1e9", "kappa=inf", "scale=paper"]  # names the store and the figures know, and --set overrides


def _figure_ids() -> list[str]:
    from iclab.experiments import available

    return list(available())


VALUES = st.one_of(st.sampled_from(NUMBERS), st.sampled_from(GRAMMAR + HUGE + SPECIAL), st.sampled_from(ODD + FILES),
                   st.sampled_from(IDS + _figure_ids()), st.text(max_size=12))


def _files(root: Path) -> None:
    """The files the FILES values name, in the fuzzer's working directory."""
    (root / "spec.yaml").write_text("experiment: iclab.experiments.solvable_points:simulate_point\n"
                                    "fixed: {alpha: 1, kappa: 1, rho: 0.1}\ngrid: {d: [4], tau: [2]}\nseeds: 1\n")
    (root / "bad.yaml").write_text("experiment: [unclosed\n")
    (root / "list.yaml").write_text("- 1\n- 2\n")
    (root / "evil.yaml").write_text("experiment: !!python/object/apply:os.system ['echo pwned']\n")
    (root / "bin.dat").write_bytes(bytes(range(256)))
    (root / "text.sqlite").write_text("not a database\n")
    (root / "out-dir").mkdir(exist_ok=True)


@st.composite
def argvs(draw) -> list[str]:
    path, cmd = draw(st.sampled_from(COMMANDS))
    options = [p for p in cmd.params if p.param_type_name == "option"]
    arguments = [p for p in cmd.params if p.param_type_name == "argument"]
    groups: list[list[str]] = []
    for a in arguments:
        if a.required or draw(st.booleans()):
            groups.append([draw(VALUES)])
    chosen = [o for o in options if o.required and draw(st.integers(0, 9)) > 0]  # required ones: mostly given
    if options:
        chosen += draw(st.lists(st.sampled_from(options), max_size=len(options) + 2))  # repeats allowed
        for opt in chosen:
            name = draw(st.sampled_from(opt.opts + opt.secondary_opts))
            groups.append([name] if opt.is_flag else [name, draw(VALUES)])
    if draw(st.integers(0, 9)) == 0:
        groups.append([draw(st.sampled_from(["--bogus", "-x", "--help", "--tau"]))])
    if draw(st.integers(0, 4)) == 0:
        groups.append([draw(st.sampled_from(sorted(LIMIT_OPTIONS))), draw(VALUES)])
    groups = draw(st.permutations(groups))
    return path + [tok for g in groups for tok in g]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    _files(root)
    from iclab.sweep.store import Store

    with Store(root / "store.sqlite") as st:  # a real store for the results commands
        st.put("iclab.experiments.solvable_points:simulate_point", "0" * 16, 0, {"d": 4, "tau": 2},
               metrics={"e_icl": 0.5})
    return root


@pytest.fixture(scope="module")
def stubbed():
    """Stop each command where its compute starts (see the module docstring)."""
    import iclab.explore.server as explore_server
    import iclab.solvable.simulate as sim
    import iclab.sweep.engine as engine
    import iclab.train.run as train_run

    def admitted(*args, **kwargs):
        raise Admitted

    mp = pytest.MonkeyPatch()
    mp.setattr(engine, "execute", admitted)
    mp.setattr(sim, "pretraining_tasks", admitted)  # after the memory guard of simulate_point
    mp.setattr(train_run, "train_fresh", admitted)  # where `iclab train` calls the training engine
    mp.setattr(train_run, "train_fixed", admitted)
    mp.setattr(explore_server, "ExploreServer", admitted)  # `iclab explore` would bind a port and serve forever
    yield
    mp.undo()


def _alarm(signum, frame):
    raise Hang


def run_case(argv: list[str], workdir: Path) -> str:
    """One case: "ok" (exit 0), "refused" (exit 2), "admitted"; AssertionError for anything else."""
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(LIMIT_S)
    try:
        os.chdir(workdir)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    except Admitted:
        return "admitted"
    except Hang:
        raise AssertionError(f"no outcome within {LIMIT_S} s: iclab {argv!r}") from None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        os.chdir(cwd)
    stdout, stderr = out.getvalue(), err.getvalue()
    if code == 0:
        assert stdout.strip() or stderr.strip(), f"exit 0 without output: iclab {argv!r}"
        return "ok"
    assert code == 2, f"exit {code} for iclab {argv!r}: {stderr[-2000:]}"
    assert stderr.startswith("iclab: error:") and stderr.count("\n") == 1, \
        f"exit 2 must print one line, got {stderr[:2000]!r} for iclab {argv!r}"
    return "refused"


def test_every_command_is_discovered():
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"theory lu2024", "simulate lu2024", "sweep", "reproduce", "train", "results show"} <= names


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(argv=argvs())
# what the long run found (each gave a traceback before its fix)
@example(argv=["report", "--store", "store.sqlite", "--out", "text.sqlite"])  # an output folder that is a file
@example(argv=["report", "--store", "a" * 300])  # a file name too long for the OS
@example(argv=["report", "--max-memory", "."])  # a size that is not a number
@example(argv=["theory", "lu2024", "--tau", "1:inf:3", "--alpha", "1", "--kappa", "1", "--rho", "0"])
def test_fuzz_fast(argv, workdir, stubbed):
    run_case(argv, workdir)


@pytest.mark.slow
def test_fuzz_long(workdir, stubbed):
    """The long run: ``ICLAB_FUZZ_EXAMPLES`` cases (default 2000); prints the count of each outcome."""
    from collections import Counter

    seen: Counter = Counter()

    @settings(max_examples=int(os.environ.get("ICLAB_FUZZ_EXAMPLES", "2000")), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(argv=argvs())
    def fuzz(argv):
        seen[run_case(argv, workdir)] += 1

    fuzz()
    print(f"fuzz: {sum(seen.values())} cases: {dict(seen)}")
