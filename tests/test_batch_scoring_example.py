"""The batch-scoring example runs its whole life cycle: fit, save both ways, score without a GPU."""

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import batch_scoring  # noqa: E402

TRAIN = Path(batch_scoring.parse_args([]).train)


@pytest.mark.skipif(not TRAIN.is_file(), reason=f"SST-2 not found at {TRAIN}")
def test_every_row_is_scored_by_both_saved_forms_in_a_cpu_only_process(tiny_bert, tmp_path, capsys):
    rows = pd.read_csv(TRAIN, nrows=30, keep_default_na=False)
    rows.loc[[3, 17], "text"] = ["", "   "]
    rows.to_csv(tmp_path / "to_score.csv", index=False)
    scored = batch_scoring.main(
        ["--backbone", tiny_bert, "--n-train", "48", "--score", str(tmp_path / "to_score.csv"), "--out", str(tmp_path / "out")]
    )
    assert scored["row"].tolist() == list(range(30))
    assert scored["text"].tolist() == rows["text"].tolist()
    assert (scored["predicted_label"].astype(str) == "").sum() == 2
    out = capsys.readouterr().out
    for model in ("model", "model.joblib"):
        assert f"{model}: 30 rows in, 30 out, 28 predicted, 2 without text" in out
