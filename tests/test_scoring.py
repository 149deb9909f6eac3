"""Batch scoring of files: formats, row order, empty-text policy, quantisation and the CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from skafa.cli import main
from skafa import predict_file
from skafa.scoring import EmptyTextError, scoring_copy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clf(plain_clf):
    return plain_clf


@pytest.fixture(scope="module")
def model_dir(clf, tmp_path_factory):
    return clf.save(tmp_path_factory.mktemp("model") / "clf")


@pytest.fixture(scope="module")
def table(toy_data):
    """Texts with commas, quotes, newlines and the word "NA", next to columns to keep as they are."""
    X, _ = toy_data
    texts = X[:23] + ['NA', 'a "quoted", riveting film', "two\nlines lackluster"]
    return pd.DataFrame({"id": [f"r{i:03d}" for i in range(len(texts))], "text": texts, "score": ["007"] * len(texts)})


def read_table(path):
    path = str(path)
    if path.endswith(".parquet"):
        return pd.read_parquet(path)
    if ".jsonl" in path:
        return pd.read_json(path, lines=True, dtype=False)
    return pd.read_csv(path, sep="\t" if ".tsv" in path else ",", dtype=str, keep_default_na=False)


def write_table(frame, path):
    path = str(path)
    if path.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif ".jsonl" in path:
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_csv(path, sep="\t" if ".tsv" in path else ",", index=False)


@pytest.mark.parametrize(
    "in_name, out_name",
    [
        ("in.csv", "out.csv"),
        ("in.tsv", "out.tsv"),
        ("in.jsonl", "out.jsonl"),
        ("in.parquet", "out.parquet"),
        ("in.csv.gz", "out.jsonl.gz"),
        ("in.jsonl", "out.parquet"),
    ],
)
def test_every_row_in_order_with_the_model_probabilities(clf, model_dir, table, tmp_path, in_name, out_name):
    if "parquet" in in_name + out_name:
        pytest.importorskip("pyarrow")
    write_table(table, tmp_path / in_name)
    # A chunk size that does not divide the rows: several chunks, the last one short.
    report = predict_file(model_dir, tmp_path / in_name, tmp_path / out_name, chunk_size=7, progress=False)
    out = read_table(tmp_path / out_name)
    assert report.n_rows == report.n_written == len(table) and report.n_empty == 0
    assert list(out.columns) == ["id", "text", "score", "predicted_label", "proba_neg", "proba_pos"]
    assert out["id"].tolist() == table["id"].tolist()
    assert out["text"].tolist() == table["text"].tolist()
    assert out["score"].tolist() == ["007"] * len(table)
    expected = clf.predict_proba(table["text"])
    np.testing.assert_allclose(out[["proba_neg", "proba_pos"]].to_numpy(float), expected, atol=1e-6)
    assert out["predicted_label"].tolist() == clf.predict(table["text"]).tolist()


def test_text_cells_are_written_back_exactly(model_dir, table, tmp_path):
    write_table(table, tmp_path / "in.csv")
    predict_file(model_dir, tmp_path / "in.csv", tmp_path / "out.csv", progress=False)
    out = read_table(tmp_path / "out.csv")
    assert out["score"].tolist() == ["007"] * len(table)  # not turned into the number 7
    assert "NA" in out["text"].tolist()  # not turned into a missing value


@pytest.fixture
def holey_csv(table, tmp_path):
    frame = table.copy()
    frame.loc[[2, 9], "text"] = ["", "   "]
    path = tmp_path / "holey.csv"
    write_table(frame, path)
    return path


def test_empty_texts_stop_the_run_by_default_and_leave_no_output(model_dir, holey_csv, tmp_path):
    # Rows 2 and 9 fall in different chunks: both are named in the one error.
    with pytest.raises(EmptyTextError, match=r"row\(s\) 2, 9 \(ids 'r002', 'r009'\)"):
        predict_file(model_dir, holey_csv, tmp_path / "out.csv", id_column="id", chunk_size=5, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["holey.csv"]


def test_skip_leaves_empty_texts_out_and_reports_them(clf, model_dir, holey_csv, table, tmp_path):
    report = predict_file(
        model_dir, holey_csv, tmp_path / "out.csv", on_empty="skip", row_number_column="row", chunk_size=5, progress=False
    )
    out = read_table(tmp_path / "out.csv")
    assert (report.n_rows, report.n_written, report.n_empty, report.empty_rows) == (len(table), len(table) - 2, 2, [2, 9])
    assert "2 rows had no text and were skipped" in report.summary()
    kept = [i for i in range(len(table)) if i not in (2, 9)]
    assert out["row"].astype(int).tolist() == kept
    assert out["id"].tolist() == table["id"].iloc[kept].tolist()
    expected = clf.predict_proba(table["text"].iloc[kept])
    np.testing.assert_allclose(out[["proba_neg", "proba_pos"]].to_numpy(float), expected, atol=1e-6)


def test_empty_writes_the_row_without_a_prediction(model_dir, holey_csv, table, tmp_path):
    report = predict_file(model_dir, holey_csv, tmp_path / "out.csv", on_empty="empty", id_column="id", progress=False)
    out = read_table(tmp_path / "out.csv")
    assert (report.n_written, report.n_empty, report.empty_rows) == (len(table), 2, ["r002", "r009"])
    assert out.loc[[2, 9], ["predicted_label", "proba_neg", "proba_pos"]].eq("").all().all()
    assert out.drop(index=[2, 9])["predicted_label"].isin(["neg", "pos"]).all()


def test_json_lines_null_and_absent_texts_are_missing(model_dir, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"n": 1, "text": "a riveting film"}\n{"n": 2, "text": null}\n\n{"n": 3}\n{"n": null, "text": "dull"}\n')
    report = predict_file(model_dir, path, tmp_path / "out.jsonl", on_empty="empty", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert report.empty_rows == [1, 2] and len(rows) == 4
    assert [r["n"] for r in rows] == [1, 2, 3, None]  # ints stay ints next to a null
    assert rows[1]["predicted_label"] is None and rows[1]["proba_pos"] is None
    assert rows[3]["predicted_label"] in ("neg", "pos")


def test_non_text_values_are_an_error_naming_rows(model_dir, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "fine"}\n{"text": 5}\n')
    with pytest.raises(TypeError, match=r"row\(s\) 1 hold int"):
        predict_file(model_dir, path, tmp_path / "out.jsonl", progress=False)


def test_clear_errors_for_columns_formats_and_existing_output(model_dir, table, tmp_path):
    write_table(table, tmp_path / "in.csv")
    with pytest.raises(KeyError, match=r"text_column='review' is not a column.*\['id', 'text', 'score'\]"):
        predict_file(model_dir, tmp_path / "in.csv", tmp_path / "o.csv", text_column="review", progress=False)
    with pytest.raises(ValueError, match="Cannot tell the format"):
        predict_file(model_dir, tmp_path / "in.csv", tmp_path / "o.xlsx", progress=False)
    with pytest.raises(ValueError, match="already has column"):
        predict_file(model_dir, tmp_path / "in.csv", tmp_path / "o.csv", row_number_column="id", progress=False)
    (tmp_path / "o.csv").write_text("keep me")
    with pytest.raises(FileExistsError, match="overwrite"):
        predict_file(model_dir, tmp_path / "in.csv", tmp_path / "o.csv", progress=False)
    assert (tmp_path / "o.csv").read_text() == "keep me"


def test_top_words_come_from_the_same_pass_as_the_prediction(clf, model_dir, table, tmp_path):
    write_table(table, tmp_path / "in.csv")
    predict_file(model_dir, tmp_path / "in.csv", tmp_path / "out.csv", top_words=3, progress=False)
    out = read_table(tmp_path / "out.csv")
    words = [json.loads(cell) for cell in out["top_words"]]
    assert [len(w) for w in words] == [min(3, len(text.split())) for text in table["text"]]
    first = sorted(clf.token_attention(table["text"][:1])[0], key=lambda pair: -pair[1])[:3]
    assert [w for w, _ in words[0]] == [w for w, _ in first]
    np.testing.assert_allclose(out[["proba_neg", "proba_pos"]].to_numpy(float), clf.predict_proba(table["text"]), atol=1e-5)


def test_quantized_copy_is_int8_close_and_leaves_the_model_alone(clf, toy_data):
    X, _ = toy_data
    quantized = scoring_copy(clf, quantize=True, batch_size=64)
    assert type(quantized.net_.module_.head).__module__.startswith("torch.ao.nn.quantized")
    assert type(clf.net_.module_.head) is torch.nn.Linear and clf.net_.batch_size == 16
    np.testing.assert_allclose(quantized.predict_proba(X), clf.predict_proba(X), atol=0.02)
    assert scoring_copy(clf) is clf


def test_cli_predict_in_process(model_dir, table, tmp_path, capsys):
    write_table(table, tmp_path / "in.tsv")
    out = tmp_path / "out.parquet" if _has_pyarrow() else tmp_path / "out.csv"
    code = main(["predict", str(model_dir), str(tmp_path / "in.tsv"), "--output", str(out), "--quiet", "--quantize"])
    assert code == 0
    assert f"{len(table)} rows read, {len(table)} written" in capsys.readouterr().err
    assert len(read_table(out)) == len(table)
    code = main(["predict", str(model_dir), str(tmp_path / "in.tsv"), "-o", str(out), "--quiet"])
    assert code == 2 and "exists" in capsys.readouterr().err


def _has_pyarrow():
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def test_cli_in_a_fresh_cpu_only_process_accounts_for_every_row(clf, tmp_path, table):
    # Saved both ways in this process; loaded and scored by the CLI in a process that sees no GPU.
    import joblib

    frame = table.copy()
    frame.loc[4, "text"] = ""
    write_table(frame, tmp_path / "in.csv")
    clf.save(tmp_path / "folder")
    joblib.dump(clf, tmp_path / "model.joblib")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    script = (
        "import sys; from skafa.cli import main\n"
        "for m in sys.argv[1:3]:\n"
        "    code = main(['predict', m, sys.argv[3], '-o', m + '.csv', '--on-empty', 'skip', '--quiet'])\n"
        "    assert code == 0, code\n"
    )
    args = [str(tmp_path / "folder"), str(tmp_path / "model.joblib"), str(tmp_path / "in.csv")]
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count(f"{len(table)} rows read, {len(table) - 1} written") == 2
    assert done.stderr.count("1 rows had no text and were skipped (not in the output): 4") == 2
    expected = clf.predict_proba(frame["text"].drop(index=4))
    for model in args[:2]:
        out = read_table(model + ".csv")
        assert out["id"].tolist() == frame["id"].drop(index=4).tolist()
        np.testing.assert_allclose(out[["proba_neg", "proba_pos"]].to_numpy(float), expected, atol=1e-6)


def test_header_only_and_empty_files(model_dir, tmp_path):
    (tmp_path / "header.csv").write_text("id,text\n")
    report = predict_file(model_dir, tmp_path / "header.csv", tmp_path / "out.csv", progress=False)
    assert report.n_rows == 0
    assert (tmp_path / "out.csv").read_text().splitlines() == ["id,text,predicted_label,proba_neg,proba_pos"]
    (tmp_path / "nothing.csv").write_text("")
    with pytest.raises(ValueError, match="is empty: not even a header row"):
        predict_file(model_dir, tmp_path / "nothing.csv", tmp_path / "out2.csv", progress=False)
