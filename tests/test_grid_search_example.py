"""The GridSearchCV example runs end to end (tiny backbone, a few sentences)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import grid_search_afa  # noqa: E402

DATA = Path(grid_search_afa.parse_args([]).data)


@pytest.mark.skipif(not DATA.is_dir(), reason=f"SST-2 not found at {DATA}")
def test_grid_search_example_compares_plain_and_afa_candidates(tiny_bert, capsys):
    search = grid_search_afa.main(
        ["--backbone", tiny_bert, "--device", "cpu", "--n-train", "48", "--n-test", "32", "--epochs", "1",
         "--afa-weights", "0.3", "--mask-ratios", "0.15"]
    )
    assert [p.get("afa") for p in search.cv_results_["params"]] == [False, True]
    out = capsys.readouterr().out
    assert "best parameters" in out and "held-out test accuracy" in out
