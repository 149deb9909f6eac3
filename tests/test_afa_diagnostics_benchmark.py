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
        ["--quick", "--backbone", tiny_bert, "--lr", "1e-3", "--datasets", "sst2", "--variants", "plain,discriminator,direct_kl",
         "--out", str(tmp_path)]
    )
    summary = pd.read_csv(tmp_path / "summary.csv").set_index("variant")
    assert list(summary.index) == ["plain", "discriminator", "direct_kl"]  # controls are folded into their variant
    assert np.isnan(summary.loc["plain", "dp_vs_control"]) and summary.loc["discriminator", "dp_vs_control"] >= 0
    assert summary.loc["discriminator", "disc_acc"] >= 0 and np.isnan(summary.loc["direct_kl", "disc_acc"])
    # The direct policy masks by attention, the complement policy against it: opposite signs.
    default, direct = summary.loc["discriminator"], summary.loc["direct_kl"]
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


def test_signal_report_pairs_by_seed_against_plain_and_the_control(tmp_path):
    import afa_signal_report

    rows = []
    for seed, (plain, cand, ctrl) in enumerate([(0.80, 0.83, 0.81), (0.70, 0.74, 0.72), (0.75, 0.77, 0.76)]):
        for dataset, shift in (("a", 0.0), ("b", 0.1)):
            for method, acc in (("plain", plain), ("afa", cand), ("afa:afa_weight=0", ctrl)):
                rows.append({"dataset": dataset, "method": method, "seed": seed, "accuracy": acc + shift})
    (tmp_path / "results.jsonl").write_text("\n".join(pd.Series(r).to_json() for r in rows) + "\n")
    table = afa_signal_report.main([str(tmp_path), "--pair", "afa", "afa:afa_weight=0"]).set_index("dataset")
    # Differences to plain: 0.03, 0.04, 0.02 -> mean 0.03; to the control: 0.02, 0.02, 0.01.
    assert table.loc["a", "d_acc_vs_plain"] == pytest.approx(0.03)
    assert table.loc["mean", "d_acc_vs_plain"] == pytest.approx(0.03)
    assert table.loc["mean", "d_acc_vs_control"] == pytest.approx(0.05 / 3)
    assert table.loc["b", "acc_mean"] == pytest.approx((0.93 + 0.84 + 0.87) / 3)
