"""The LLM table script: rows per backbone and dataset, AFA paired with plain LoRA and its control."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import llm_report  # noqa: E402


def record(backbone, method, seed, accuracy, lora_r=8):
    return {"dataset": "sst2", "method": method, "seed": seed, "accuracy": accuracy, "fit_s": 60.0,
            "peak_rss_mb": 1024.0, "effective_params": {"backbone": backbone, "lora_r": lora_r}}


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_one_block_per_backbone_with_paired_differences(tmp_path):
    write_jsonl(tmp_path / "prompting.jsonl", [
        {"dataset": "sst2", "method": "zero_shot", "seed": None, "backbone": "big", "accuracy": 0.5},
        {"dataset": "sst2", "method": "few_shot", "seed": 0, "backbone": "big", "accuracy": 0.6},
        {"dataset": "sst2", "method": "zero_shot", "seed": None, "backbone": "mid", "accuracy": 0.5},
    ])
    write_jsonl(tmp_path / "lora" / "results.jsonl", [
        *(record("big", "plain", s, acc) for s, acc in enumerate([0.80, 0.82, 0.84])),
        *(record("big", "afa", s, acc) for s, acc in enumerate([0.81, 0.84, 0.87])),
        *(record("big", "afa:afa_weight=0", s, acc) for s, acc in enumerate([0.80, 0.82, 0.86])),
        record("big", "plain", 0, 0.9, lora_r=None),
        record("big", "plain", 1, 0.8, lora_r=0),
        record("big", "afa", 0, 0.95, lora_r=None),
        record("big", "afa", 1, 0.9, lora_r=0),
        record("small", "plain", 0, 0.70),
        record("small", "afa", 0, 0.75),
        record("mid", "plain", 0, 0.70),
    ])
    llm_report.main([str(tmp_path), "--runs", "lora"])
    table = pd.read_csv(tmp_path / "table.csv")
    big = table[table.backbone == "big"].set_index("method")
    assert list(big.index) == ["zero-shot (skorch.llm)", "few-shot, 5 examples (skorch.llm)", "LoRA fine-tuning",
                               "AFA + LoRA", "AFA + LoRA, lambda = 0 control", "full fine-tuning",
                               "AFA + full fine-tuning"]
    # AFA on full fine-tuning is paired with plain full fine-tuning, not with LoRA.
    assert big.loc["AFA + full fine-tuning", "d_vs_plain"] == pytest.approx(0.075)
    assert pd.isna(big.loc["AFA + full fine-tuning", "d_vs_control"])
    afa = big.loc["AFA + LoRA"]
    assert afa.d_vs_plain == pytest.approx(0.02) and afa.d_vs_control == pytest.approx(0.0133, abs=1e-4)
    assert afa.rel_gain_vs_plain_pct == pytest.approx(100 * (0.84 / 0.82 - 1), abs=1e-3)
    assert afa.rel_gain_vs_zero_shot_pct == pytest.approx(100 * (0.84 / 0.5 - 1), abs=1e-3)
    # A backbone without prompted references gets no prompted rows and no gain over them.
    small = table[table.backbone == "small"].set_index("method")
    assert list(small.index) == ["LoRA fine-tuning", "AFA + LoRA"]
    assert small.loc["AFA + LoRA", "d_vs_plain"] == pytest.approx(0.05)
    assert pd.isna(small.loc["AFA + LoRA", "rel_gain_vs_zero_shot_pct"])
    # Zero-shot alone: no few-shot row.
    mid = table[table.backbone == "mid"]
    assert list(mid.method) == ["zero-shot (skorch.llm)", "LoRA fine-tuning"]
