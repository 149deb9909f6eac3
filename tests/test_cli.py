"""The ``skafa`` command line: train -> evaluate -> report -> info -> predict on real data, and bad invocations."""

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import skafa
from skafa.callbacks import EpochTable
from skafa.cli import main
from skafa.model_card import CARD_FILE
from skafa.progress import interactive

ROOT = Path(__file__).resolve().parents[1]
MR = ROOT.parent / "shared" / "datasets" / "mr" / "all.csv"
FAST = ["--set", "lr=1e-3", "--set", "batch_size=32", "--set", "device=cpu"]


def run(argv):
    """``main(argv)`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def mr_csv(tmp_path_factory):
    """400 real movie-review sentences (MR) in a CSV with text and label columns, as a user would have."""
    if not MR.exists():
        pytest.skip("shared MR data not available")
    path = tmp_path_factory.mktemp("mr") / "mr.csv"
    pd.read_csv(MR, keep_default_na=False).sample(400, random_state=0)[["text", "label"]].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(tiny_bert, mr_csv, tmp_path_factory):
    """``skafa train`` of AFA on the MR sample with a validation fraction: (model folder, stdout)."""
    folder = tmp_path_factory.mktemp("models") / "mr_afa"
    code, out, err = run(["train", mr_csv, "-o", folder, "--backbone", tiny_bert, "--epochs", "2",
                          "--valid-fraction", "0.25", *FAST])
    assert code == 0, err
    return folder, out


# --- the whole job ----------------------------------------------------------------------------


def test_train_saves_a_loadable_model_and_prints_only_the_result_on_stdout(trained, mr_csv):
    folder, out = trained
    clf = skafa.load(folder)
    assert clf.classes_.tolist() == [0, 1]  # CSV labels that are whole numbers become ints
    assert clf.n_samples_seen_ == 300 and clf.n_epochs_ == 2  # 400 rows, a quarter held out
    lines = out.strip().splitlines()
    assert lines[0] == f"saved {folder} (300 training texts, 2 epochs)" and len(lines) == 2
    # The validation scores printed are the model's on the rows it did not train on.
    data = pd.read_csv(mr_csv, keep_default_na=False)
    held_out = data[~data.text.isin(_training_texts(clf, data))]
    assert len(held_out) == 100
    accuracy = float(np.mean(clf.predict(held_out.text) == held_out.label))
    assert lines[1].startswith(f"validation accuracy {accuracy:.4f}")


def _training_texts(clf, data):
    # The split is train_test_split(stratify, seed 0) of the rows; recompute it as the command did.
    from sklearn.model_selection import train_test_split

    train, _ = train_test_split(data.text.tolist(), test_size=0.25, stratify=data.label, random_state=0)
    return set(train)


def test_evaluate_reports_the_scores_of_the_saved_model(trained, mr_csv):
    folder, _ = trained
    code, out, _ = run(["evaluate", folder, mr_csv, "--json"])
    assert code == 0
    scores = json.loads(out)
    data = pd.read_csv(mr_csv, keep_default_na=False)
    predicted = skafa.load(folder).predict(data.text)
    assert scores["n_rows"] == 400 and scores["unseen_labels"] == []
    assert scores["accuracy"] == pytest.approx(np.mean(predicted == data.label))
    confusion = pd.crosstab(data.label, predicted).reindex(index=[0, 1], columns=[0, 1], fill_value=0).to_numpy()
    assert scores["confusion"] == confusion.tolist()
    code, text, _ = run(["evaluate", folder, mr_csv])
    assert code == 0 and f"accuracy      {scores['accuracy']:.4f}" in text and "confusion matrix" in text


def test_evaluate_reports_labels_unseen_in_training_instead_of_failing(trained, tmp_path):
    folder, _ = trained
    pd.DataFrame({"text": ["a fine film", "dull", "so-so"], "label": ["1", "0", "neutral"]}).to_csv(
        tmp_path / "three.csv", index=False
    )
    code, out, err = run(["evaluate", folder, tmp_path / "three.csv", "--json"])
    assert code == 0, err
    scores = json.loads(out)
    assert scores["unseen_labels"] == ["neutral"] and scores["labels"] == ["0", "1", "neutral"]
    assert scores["per_class"]["neutral"]["recall"] == 0.0 and scores["n_rows"] == 3


def test_report_shows_two_models_side_by_side(trained, mr_csv, tmp_path, tiny_bert):
    folder, _ = trained
    plain = tmp_path / "mr_plain"
    assert run(["train", mr_csv, "-o", plain, "--backbone", tiny_bert, "--epochs", "1", "--no-afa", "-q", *FAST])[0] == 0
    html, png = tmp_path / "report.html", tmp_path / "strips.png"
    code, out, _ = run(["report", folder, mr_csv, "--label-column", "label", "--compare", plain, "-o", html, "--n", "7",
                        "--png", png])
    assert code == 0 and out.split() == [str(html), str(png)]
    assert png.read_bytes()[:4] == b"\x89PNG"
    page = html.read_text(encoding="utf-8")
    assert "<th>mr_afa</th>" in page and "<th>mr_plain</th>" in page
    assert page.count('<div class="pred">true:') == 7  # the sample: 7 rows, each with its true label


def test_info_describes_the_folder_without_loading_weights(trained, monkeypatch):
    folder, _ = trained
    config = json.loads((folder / "skafa.json").read_text())
    # Loading the weights would go through safetensors: make that impossible and info must still work.
    monkeypatch.setattr("skafa.safe_format.load_model", lambda *a, **k: pytest.fail("info loaded the weights"))
    code, out, _ = run(["info", folder])
    assert code == 0
    assert "classes     0, 1" in out and "300 texts" in out and "from mr.csv" in out
    assert f"sha256 {config['files']['model.safetensors']['sha256']}" in out
    assert f"accuracy {config['card']['metrics']['accuracy']:.4f}" in out
    code, out, _ = run(["info", folder, "--json"])
    assert json.loads(out) == config
    code, _, err = run(["info", folder, "--verify"])
    assert code == 0 and f"all {len(config['files'])} files match" in err


def test_predict_scores_with_the_trained_model(trained, mr_csv, tmp_path):
    folder, _ = trained
    code, _, err = run(["predict", folder, mr_csv, "-o", tmp_path / "scored.csv"])
    assert code == 0 and "400 rows read, 400 written" in err
    scored = pd.read_csv(tmp_path / "scored.csv", keep_default_na=False)
    clf = skafa.load(folder)
    np.testing.assert_array_equal(scored.predicted_label, clf.predict(scored.text))


# --- the model card ---------------------------------------------------------------------------


def test_saved_folder_carries_a_model_card_that_loading_never_needs(trained, tmp_path):
    folder, _ = trained
    card = (folder / CARD_FILE).read_text(encoding="utf-8")
    header = card.split("---")[1]
    config = json.loads((folder / "skafa.json").read_text())
    assert "library_name: skafa" in header and "pipeline_tag: text-classification" in header
    assert f"value: {config['card']['metrics']['accuracy']!r}" in header
    assert "## Intended use and limits" in card and "300 texts from mr.csv" in card
    assert CARD_FILE not in config["files"]  # people may edit it
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(folder, copy)
    (copy / CARD_FILE).write_text("edited by hand\n```python\nraise SystemExit\n```\n")
    skafa.load(copy)
    (copy / CARD_FILE).unlink()
    skafa.load(copy)


def test_a_model_saved_from_python_has_a_card_too(plain_clf, tmp_path):
    plain_clf.save(tmp_path / "m", card_data=skafa.ModelCardData(dataset="toy", metrics={"accuracy": 0.5}))
    card = (tmp_path / "m" / CARD_FILE).read_text(encoding="utf-8")
    assert "plain fine-tuning" in card and "value: 0.5" in card and "96 texts from toy" in card
    with pytest.raises(TypeError, match="numbers"):
        plain_clf.save(tmp_path / "n", card_data=skafa.ModelCardData(metrics={"accuracy": "high"}))
    assert not (tmp_path / "n").exists()


# --- bad invocations: one line on stderr, exit code 2, nothing written -------------------------


BAD_TRAIN = {
    "unknown text column": (["--text-column", "review"], "--text-column 'review' is not a column"),
    "unknown label column": (["--label-column", "y"], "--label-column 'y' is not a column"),
    "unknown parameter": (["--set", "learning_rate=1e-3"], "no parameter 'learning_rate'"),
    "unknown AFA option": (["--set", "afa__rewrd=kl"], "did you mean afa__reward"),
    "badly typed value": (["--set", "epochs=two"], "epochs must be an integer"),
    "value out of range": (["--set", "afa__reward=loud"], "afa__reward must be one of"),
    "not NAME=VALUE": (["--set", "lr"], "--set expects NAME=VALUE"),
    "given twice": (["--epochs", "2", "--set", "epochs=3"], "epochs is given twice"),
    "python objects": (["--set", "callbacks=[]"], "not available from the command line"),
    "AFA option without AFA": (["--no-afa", "--set", "afa__reward=kl"], "were set while afa=False"),
    "fraction out of range": (["--valid-fraction", "1.5"], "--valid-fraction must be between 0 and 1"),
}


@pytest.mark.parametrize("case", list(BAD_TRAIN))
def test_bad_train_invocations_get_one_clear_line_and_exit_code_2(case, tmp_path, tiny_bert):
    pd.DataFrame({"text": ["good", "bad", "fine", "awful"], "label": [1, 0, 1, 0]}).to_csv(tmp_path / "d.csv", index=False)
    extra, message = BAD_TRAIN[case]
    code, out, err = run(["train", tmp_path / "d.csv", "-o", tmp_path / "model", "--backbone", tiny_bert, *extra])
    assert code == 2 and out == ""
    assert err.startswith("skafa train: error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize(
    "labels, message",
    [
        ([1, 1, 1, 1], "holds a single label"),
        ([1, 0, 1, 2], "too few rows per class: 0, 2 have a single row"),
        ([1, 0, 1, ""], "has no label at row(s) 3"),
    ],
)
def test_train_refuses_labels_it_cannot_learn_from(labels, message, tmp_path, tiny_bert):
    pd.DataFrame({"text": ["good", "bad", "fine", "awful"], "label": labels}).to_csv(tmp_path / "d.csv", index=False)
    code, _, err = run(["train", tmp_path / "d.csv", "-o", tmp_path / "model", "--backbone", tiny_bert])
    assert code == 2 and message in err.replace("'", "") and err.count("\n") == 1, err
    assert not (tmp_path / "model").exists()


def test_a_validation_part_too_small_for_every_class_is_refused(tmp_path, tiny_bert):
    pd.DataFrame({"text": list("abcdef"), "label": [0, 1, 2, 0, 1, 2]}).to_csv(tmp_path / "d.csv", index=False)
    code, _, err = run(["train", tmp_path / "d.csv", "-o", tmp_path / "m", "--backbone", tiny_bert, "--valid-fraction", "0.2"])
    assert code == 2 and "each part needs at least one row of each of the 3 classes" in err


def test_train_never_replaces_what_is_not_a_model(tmp_path, tiny_bert):
    pd.DataFrame({"text": ["good", "bad", "fine", "awful"], "label": [1, 0, 1, 0]}).to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    code, _, err = run(["train", tmp_path / "d.csv", "-o", tmp_path / "notes", "--overwrite", "--backbone", tiny_bert])
    assert code == 2 and "not a skafa model folder" in err and (tmp_path / "notes" / "keep.txt").read_text() == "mine"
    code, _, err = run(["train", tmp_path / "d.csv", "-o", tmp_path / "no" / "such" / "dir", "--backbone", tiny_bert])
    assert code == 2 and "does not exist" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["evaluate", "{model}", "{missing}"], "no input file"),
        (["evaluate", "{missing}", "{data}"], "No model at"),
        (["evaluate", "{model}", "{data}", "--label-column", "y"], "--label-column 'y' is not a column"),
        (["report", "{model}", "{data}", "-o", "{out}", "--n", "0"], "--n must be at least 1"),
        (["report", "{model}", "{data}", "-o", "{data}"], "exists; pass --overwrite"),
        (["info", "{data}"], "is a file: info reads model folders"),
        (["info", "{missing}"], "is not a folder"),
        (["predict", "{model}", "{data}", "-o", "{scored}", "--text-column", "review"], "'review' is not a column"),
    ],
)
def test_bad_invocations_of_the_other_commands(argv, message, plain_clf, tmp_path):
    pd.DataFrame({"text": ["good", "bad"], "label": [1, 0]}).to_csv(tmp_path / "d.csv", index=False)
    plain_clf.save(tmp_path / "model")
    names = {"model": tmp_path / "model", "data": tmp_path / "d.csv", "missing": tmp_path / "none", "out": tmp_path / "o.html",
             "scored": tmp_path / "o.csv"}
    code, out, err = run([a.format(**names) for a in argv])
    assert code == 2 and out == "" and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o.html").exists() and not (tmp_path / "o.csv").exists()


def test_argparse_errors_exit_2_and_help_exits_0(capsys):
    assert main(["train", "data.csv"]) == 2  # --output is required
    assert "the following arguments are required: --output" in capsys.readouterr().err
    assert main(["evaluate", "--help"]) == 0
    assert "--label-column" in capsys.readouterr().out


# --- progress only where a person watches -----------------------------------------------------


def test_piped_training_writes_no_progress_bar_or_colour_codes(tmp_path, tiny_bert):
    pd.DataFrame({"text": ["good film", "bad film"] * 40, "label": [1, 0] * 40}).to_csv(tmp_path / "d.csv", index=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "skafa.cli", "train", tmp_path / "d.csv", "-o", tmp_path / "m", "--backbone", tiny_bert,
         "--epochs", "2", *FAST],
        env=env, capture_output=True, timeout=300,
    )
    # Bytes, not text=True: universal newlines would turn a bar's carriage returns into newlines.
    stderr, stdout = done.stderr.decode(), done.stdout.decode()
    assert done.returncode == 0, stderr
    assert "\r" not in stderr and "\x1b[" not in stderr  # no bar redraws, no colours in a log
    assert re.search(r"^\s+2\s+\S", stderr, re.M)  # the epoch table is there, on stderr
    assert stdout == f"saved {tmp_path / 'm'} (80 training texts, 2 epochs)\n"


def test_interactive_means_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert interactive(Terminal()) and not interactive(io.StringIO())


def test_epoch_table_drops_colour_codes_off_a_terminal():
    row = {"train_loss": 0.5, "train_loss_best": True}
    assert EpochTable().format_row(row, "train_loss", "\x1b[36m") == "0.5000"
