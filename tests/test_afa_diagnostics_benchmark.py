"""The AFA diagnostics benchmark: a --quick run on a tiny backbone writes every column it promises."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import afa_diagnostics  # noqa: E402
import accuracy  # noqa: E402

DATA_ROOT = Path(accuracy.parse_args([]).data_root)


@pytest.mark.skipif(not DATA_ROOT.is_dir(), reason=f"datasets not found at {DATA_ROOT}")
def test_quick_run_writes_diagnostics_and_the_distance_to_the_control(tiny_bert, tmp_path):
    pytest.importorskip("vaderSentiment")
    afa_diagnostics.main(
        ["--quick", "--backbone", tiny_bert, "--lr", "1e-3", "--datasets", "sst2", "--variants", "plain,default,direct_kl",
         "--out", str(tmp_path)]
    )
    summary = pd.read_csv(tmp_path / "summary.csv").set_index("variant")
    assert list(summary.index) == ["plain", "default", "direct_kl"]  # controls are folded into their variant
    assert np.isnan(summary.loc["plain", "dp_vs_control"]) and summary.loc["default", "dp_vs_control"] >= 0
    assert summary.loc["default", "disc_acc"] >= 0 and np.isnan(summary.loc["direct_kl", "disc_acc"])
    # The direct policy masks by attention, the complement policy against it: opposite signs.
    default, direct = summary.loc["default"], summary.loc["direct_kl"]
    assert np.sign(default.mask_occlusion_spearman) == -np.sign(default.attention_occlusion_spearman)
    assert np.sign(direct.mask_occlusion_spearman) == np.sign(direct.attention_occlusion_spearman)
    records = accuracy.load_records(tmp_path / "results.jsonl")
    assert len(records) == 5 and all("afa__reward" in r["effective_params"] or not r["effective_params"]["afa"] for r in records)


@pytest.mark.skipif(not DATA_ROOT.is_dir(), reason=f"datasets not found at {DATA_ROOT}")
def test_cost_benchmark_writes_ratios_against_plain_from_the_same_run(tiny_bert, tmp_path):
    import afa_cost

    table = afa_cost.main(
        ["--backbone", tiny_bert, "--n-train", "48", "--rounds", "2", "--variants", "plain,direct_kl_k1", "--out", str(tmp_path)]
    ).set_index("variant")
    assert table.loc["plain", "ratio_to_plain"] == 1.0
    written = pd.read_csv(tmp_path / "cost.csv").set_index("variant")
    assert written.loc["direct_kl_k1", "ratio_to_plain"] == pytest.approx(
        table.loc["direct_kl_k1", "epoch_s"] / table.loc["plain", "epoch_s"], abs=1e-3
    )
    assert len(accuracy.load_records(tmp_path / "results.jsonl")) == 4
