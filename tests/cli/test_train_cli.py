"""``iclab train``: a tiny run writes metrics, run.json and a checkpoint; bad input is one line with exit 2."""

import json

import pandas as pd
import pytest

from iclab.cli import main


@pytest.mark.parametrize("args,msg", [
    (["--model", "gpt"], "model must be one of"),
    (["--task", "sine"], "task must be one of"),
    (["--model", "softmax", "--d", "6", "--width", "6", "--heads", "4"], "width must be divisible by heads"),
    (["--steps", "0"], "steps must be"),
    (["--steps", "-3"], "steps must be"),
    (["--seeds", "1,x"], "seeds must be"),
    (["--model", "lsa", "--heads", "2"], "option of model lsa"),
])
def test_bad_input_one_line_exit_2(capsys, tmp_path, args, msg):
    assert main(["train", *args, "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and len(err.splitlines()) == 1


def test_bad_spec(capsys, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("model: lsa\ndepth: 3\n")
    assert main(["train", str(spec)]) == 2
    assert "spec key must be one of" in capsys.readouterr().err
    spec.write_text("[1, 2")
    assert main(["train", str(spec)]) == 2
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2


def test_tiny_run_from_spec_with_cli_override(capsys, tmp_path):
    spec = tmp_path / "s.yaml"
    out = tmp_path / "run"
    spec.write_text(f"model: lsa_reduced\nd: 3\nsteps: 40\nseeds: 2\nbatch: 16\nlr: 0.01\neval_every: 20\n"
                    f"n_test: 64\nkappa: 2\nout: {out}\n")
    assert main(["train", str(spec), "--steps", "60", "--no-progress"]) == 0
    m = pd.read_csv(out / "metrics.csv")
    assert sorted(m["seed"].unique()) == [0, 1] and sorted(m["step"].unique()) == [20, 40, 60]
    assert {"train_loss", "test_icl", "test_idg", "bayes_ridge_icl"} <= set(m.columns)
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["steps"] == 60 and run["n_params"] == 12 and "reduced" in run["model_repr"]
    assert json.loads((out / "checkpoint" / "meta.json").read_text())["step"] == 60
    # a different config into the same directory is refused
    assert main(["train", str(spec), "--steps", "80", "--model", "lsa", "--no-progress"]) == 2
    assert "holds a different run" in capsys.readouterr().err


def test_run_config_grammar():
    """iclab train's options go through the settings grammar: kappa accepts inf/infinity (any case), seeds a count
    or a list; out-of-range values and unknown names are one-line errors."""
    import math

    from iclab.train.run import run_config

    for text in ("inf", "Infinity", "INF"):
        assert math.isinf(run_config({"kappa": text}).kappa)
    c = run_config({"kappa": "2", "seeds": "3", "d": "5"})
    assert c.kappa == 2.0 and c.seeds == (0, 1, 2) and c.d == 5 and c.context_length == 5 and c.pool_size == 10
    assert run_config({"seeds": "4,9"}).seeds == (4, 9) and run_config({"seeds": [1, 2]}).seeds == (1, 2)
    assert run_config({"kappa": "inf"}).as_json()["kappa"] == "inf" and run_config({}).as_json()["ell"] == 8
    for options, msg in [({"kappa": "-1"}, "kappa must be > 0"), ({"kappa": "many"}, "kappa must be a real number"),
                         ({"seeds": "2,2"}, "seeds must be distinct"), ({"noise": -0.1}, "noise must be >= 0"),
                         ({"model_options": [1]}, "model_options must be a mapping"), ({"depth": 3}, "must be one of")]:
        with pytest.raises(ValueError, match=msg):
            run_config(options)
