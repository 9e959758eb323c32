"""``python -m cp_predict``: the commands, --json output, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from cp_predict import RESEARCH_NOTICE
from cp_predict.cli import main
from cp_predict.formats import save_npz, write_csv
from cp_predict.simulate import GeneratorConfig, generate


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("cpcli")
    save_npz(generate(GeneratorConfig(n=60, seed=41, planted_joints=("l_wrist", "l_ankle"))), root / "train.npz")
    assert main(["train", "--data", str(root / "train.npz"), "--out", str(root / "logreg"), "--model", "logreg",
                 "--cv", "kfold", "--folds", "3", "--json"]) == 0
    return root


def test_simulate_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "g.npz"
    code, stdout, _ = run(capsys, "simulate", "--n", 6, "--out", out, "--seed", 1, "--json")
    assert code == 0 and json.loads(stdout)["n"] == 6
    before = out.read_bytes()
    code, _, err = run(capsys, "simulate", "--n", 8, "--out", out)
    assert code == 2 and err.startswith("error:") and "--force" in err and err.count("\n") == 1
    assert out.read_bytes() == before
    assert run(capsys, "simulate", "--n", 8, "--out", out, "--force")[0] == 0
    code, _, err = run(capsys, "simulate", "--n", 4, "--out", tmp_path / "p.npz", "--plant", "l_hand")
    assert code == 2 and "unknown joint 'l_hand' in --plant" in err


def test_train_writes_model_report_and_card(workdir):
    model_dir = workdir / "logreg"
    assert {p.name for p in model_dir.iterdir()} == {"model.pt", "report.json", "card.json"}
    card = json.loads((model_dir / "card.json").read_text())
    assert card["notice"] == RESEARCH_NOTICE and card["command"].startswith("python -m cp_predict train")
    report = json.loads((model_dir / "report.json").read_text())
    assert report["cv"]["scheme"] == "stratified 3-fold"
    for name in ("accuracy", "balanced_accuracy", "auc", "sensitivity", "specificity", "brier", "ece"):
        entry = report["cv"]["metrics"][name]
        assert entry["ci"][0] <= entry["value"] <= entry["ci"][1]
    assert len(report["cv"]["out_of_fold"]) == 60


def test_train_calibration_choice_is_saved_and_used(workdir, capsys):
    """``--calibration``: balanced (default) fits an intercept, temperature does not; the model file, report and
    card record it, and the loaded model's probabilities are ``sigmoid(logit / T + b)``."""
    from cp_predict.calibration import sigmoid
    from cp_predict.formats import read_npz
    from cp_predict.predictor import load_model
    from cp_predict.preprocess import prepare

    default = json.loads((workdir / "logreg" / "card.json").read_text())["calibration"]
    assert default["method"] == "balanced"
    code, stdout, _ = run(capsys, "train", "--data", workdir / "train.npz", "--out", workdir / "lr_t", "--model",
                          "logreg", "--cv", "kfold", "--folds", 3, "--calibration", "temperature", "--json")
    assert code == 0 and json.loads(stdout)["calibration"]["intercept"] == 0.0
    for name, method in (("logreg", "balanced"), ("lr_t", "temperature")):
        trained = load_model(workdir / name)
        assert trained.calibration.method == method
        x = prepare(read_npz(workdir / "train.npz"), trained.preprocess)
        logits = trained.final.decision_function(x, trained.preprocess.fps)
        expected = sigmoid(logits / trained.calibration.temperature + trained.calibration.intercept)
        np.testing.assert_allclose(trained.calibration.probability(logits), expected)
    with pytest.raises(SystemExit) as exc:
        main(["train", "--data", str(workdir / "train.npz"), "--out", str(workdir / "lr_x"), "--calibration", "iso"])
    assert exc.value.code == 2 and "--calibration" in capsys.readouterr().err
    assert not (workdir / "lr_x").exists()


def test_train_attention_json_and_held_out_test(workdir, capsys):
    save_npz(generate(GeneratorConfig(n=20, seed=42)), workdir / "test.npz")
    code, stdout, _ = run(capsys, "train", "--data", workdir / "train.npz", "--out", workdir / "att", "--epochs", 1,
                          "--cv", "kfold", "--folds", 3, "--test", workdir / "test.npz", "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["notice"] == RESEARCH_NOTICE and report["test"]["n"] == 20
    # the same settings whether or not the file records planted joints (no special case): flip stays off
    assert report["train_config"]["augment"]["flip"] is False and report["notes"] == []
    assert report["conformal"]["n"] == 60 and 0 <= report["conformal"]["q"] <= 1
    card = json.loads((workdir / "att" / "card.json").read_text())
    assert card["split"]["scheme"] == "stratified 3-fold" and len(card["split"]["fold_sizes"]) == 3
    assert card["seeds"] == {"split": 0, "folds": [1000, 2000, 3000], "final": 0} and card["init"] is None
    assert card["cv"]["metrics"]["auc"]["value"] == report["cv"]["metrics"]["auc"]["value"]
    code, _, err = run(capsys, "train", "--data", workdir / "train.npz", "--out", workdir / "att", "--epochs", 1)
    assert code == 2 and "already exists" in err
    code, stdout, _ = run(capsys, "train", "--data", workdir / "test.npz", "--out", workdir / "rot", "--epochs", 1,
                          "--cv", "kfold", "--folds", 2, "--rotate", "--no-velocity", "--json")
    report = json.loads(stdout)
    assert code == 0 and report["preprocess"]["rotate"] is True
    assert report["net_config"] == {"velocity": False, "attention": "per_joint"}
    from cp_predict.predictor import load_model

    assert load_model(workdir / "rot").preprocess.rotate


def test_train_init_fine_tunes_a_saved_model(workdir, capsys):
    """``--init``: every model starts from the given one (same network), and the card says so."""
    from cp_predict.predictor import load_model

    code, stdout, _ = run(capsys, "train", "--data", workdir / "test.npz", "--out", workdir / "tuned", "--epochs", 1,
                          "--cv", "kfold", "--folds", 2, "--init", workdir / "att", "--seed", 3, "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["init"] == str(workdir / "att") and "fine-tuned from" in report["notes"][-1]
    card = json.loads((workdir / "tuned" / "card.json").read_text())
    assert card["init"] == str(workdir / "att") and card["seeds"]["final"] == 3 and card["data"]["n"] == 20
    base, tuned = load_model(workdir / "att"), load_model(workdir / "tuned")
    w0 = base.final.net.state_dict()["head.weight"]
    w1 = tuned.final.net.state_dict()["head.weight"]
    fresh = type(base.final)("attention").net.state_dict()["head.weight"]
    # one epoch at a quarter of the learning rate: close to where it started, far from a fresh initialisation
    assert (w1 - w0).norm() < 0.5 * (fresh - w0).norm()
    code, _, err = run(capsys, "train", "--data", workdir / "test.npz", "--out", workdir / "bad", "--model", "logreg",
                       "--init", workdir / "att")
    assert code == 2 and "--init needs a neural model of the same kind" in err


def test_predict_json_in_input_order(workdir, capsys):
    data = generate(GeneratorConfig(n=3, seed=43))
    data.names = ["c", "a", "b"]
    save_npz(data, workdir / "three.npz")
    code, stdout, _ = run(capsys, "predict", "--model", workdir / "att", "--input", workdir / "three.npz", "--json")
    assert code == 0
    doc = json.loads(stdout)
    assert doc["notice"] == RESEARCH_NOTICE
    preds = doc["predictions"]
    assert [p["name"] for p in preds] == ["c", "a", "b"]
    for p in preds:
        assert p["assessment"]["verdict"] == "assessable" and "prediction_set" in p
        assert 0 <= p["interval"][0] <= p["probability"] <= p["interval"][1] <= 1
        assert -1 <= p["asymmetry"]["importance"] <= 1 and -1 <= p["asymmetry"]["movement"] <= 1
        assert sum(p["joint_importance_cohort"].values()) == pytest.approx(1.0, abs=1e-3)
        # One training epoch: Grad-CAM can be all zero (every gradient-weighted feature negative); then there is
        # no ranking to correlate and the JSON says null, never a number.
        rho, cam = p["explanation_agreement"]["spearman_attention_gradcam"], p["joint_time_importance"]["values"]
        assert (rho is None) == (np.max(cam) == 0) and (rho is None or -1 <= rho <= 1)
        assert sum(p["joint_importance"].values()) == pytest.approx(1.0, abs=1e-3)
        assert {"frames", "fps", "low_confidence_fraction", "warnings"} <= set(p["quality"])
        assert np.asarray(p["joint_time_importance"]["values"]).shape == (300, 18)
    code, stdout, _ = run(capsys, "predict", "--model", workdir / "att", "--input", workdir / "three.npz", "--json",
                          "--no-map")
    assert "joint_time_importance" not in json.loads(stdout)["predictions"][0]


def test_predict_python_api_matches_cli(workdir, capsys):
    from cp_predict import load_model, load_skeletons, predict

    code, stdout, _ = run(capsys, "predict", "--model", workdir / "logreg", "--input", workdir / "three.npz",
                          "--json", "--no-map")
    api = [r.to_json(include_map=False) for r in predict(load_model(workdir / "logreg"),
                                                          load_skeletons(workdir / "three.npz"), with_map=False)]
    assert json.loads(stdout)["predictions"] == json.loads(json.dumps(api))


def test_predict_text_and_csv_input(workdir, capsys):
    data = generate(GeneratorConfig(n=1, seed=44))
    write_csv(data, 0, workdir / "one.csv")
    code, stdout, _ = run(capsys, "predict", "--model", workdir / "logreg", "--input", workdir / "one.csv")
    assert code == 0 and "risk" in stdout and RESEARCH_NOTICE in stdout


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: np.savez(d / "nan.npz", data=np.full((1, 3, 200, 18), np.nan)), "NaN"),
        (lambda d: np.savez(d / "short.npz", data=np.ones((1, 3, 20, 18))), "too short"),
        (lambda d: np.savez(d / "shape.npz", data=np.ones((1, 3, 200, 25))), "18 joints"),
        (lambda d: (d / "corrupt.npz").write_bytes(b"garbage"), "not a readable"),
    ],
)
def test_predict_bad_input_is_one_line_exit_2(workdir, capsys, make, message):
    before = set(workdir.iterdir())
    make(workdir)
    path = (set(workdir.iterdir()) - before).pop()
    code, stdout, err = run(capsys, "predict", "--model", workdir / "logreg", "--input", path)
    assert code == 2 and stdout == "" and message in err and err.startswith("error:") and err.count("\n") == 1


def test_missing_and_damaged_model(workdir, capsys, tmp_path, monkeypatch):
    code, _, err = run(capsys, "predict", "--model", tmp_path / "none", "--input", workdir / "three.npz")
    assert code == 2 and "not found" in err
    (tmp_path / "bad.pt").write_bytes(b"xx")
    code, _, err = run(capsys, "predict", "--model", tmp_path / "bad.pt", "--input", workdir / "three.npz")
    assert code == 2 and "not a readable cp_predict model" in err
    monkeypatch.setenv("PRUNELAB_WEIGHTS", str(tmp_path))  # no shipped weights there
    code, _, err = run(capsys, "predict", "--input", workdir / "three.npz")
    assert code == 2 and "cp_attention.pt" in err


def test_evaluate_with_explanations(workdir, capsys):
    code, stdout, _ = run(capsys, "evaluate", "--model", workdir / "logreg", "--data", workdir / "train.npz",
                          "--explain", "--random-orders", 5, "--max-infants", 10, "--json")
    assert code == 0
    doc = json.loads(stdout)
    assert doc["metrics"]["auc"]["value"] > 0.5
    exp = doc["explanations"]
    assert exp["deletion_insertion"]["n_infants"] == 10 and exp["planted"]["k"] == 2
    per = exp["per_infant"]
    assert per["n_infants"] == 10 and per["attention_spread"]["max_sd"] >= per["attention_spread"]["mean_sd"] >= 0
    assert 0 <= per["occlusion_deletion_beats_random"] <= 1 and -1 <= per["spearman_attention_occlusion"] <= 1
    np.savez(workdir / "unlabelled.npz", data=generate(GeneratorConfig(n=2, seed=45)).data)
    code, _, err = run(capsys, "evaluate", "--model", workdir / "logreg", "--data", workdir / "unlabelled.npz")
    assert code == 2 and "no 'labels'" in err


def test_unknown_option_and_module_entry_point(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--data", "x.npz", "--out", "o", "--model", "resnet"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
    result = subprocess.run([sys.executable, "-m", "cp_predict", "predict", "--input", str(tmp_path / "no.npz"),
                             "--model", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("error:") and "Traceback" not in result.stderr
