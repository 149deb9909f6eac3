"""The scoring benchmark's --quick mode runs end to end (on a tiny backbone and toy data)."""

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

from .conftest import fake_focus_data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("scoring_bench", ROOT / "benchmarks" / "scoring.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_benchmark_writes_its_tables(bench, tiny_bert, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name, seed in (("train", 0), ("test", 1)):
        texts, labels = fake_focus_data(64, seed=seed)
        pd.DataFrame({"text": texts, "label": (labels == "pos").astype(int)}).to_csv(data / f"{name}.csv", index=False)
    out = tmp_path / "out"
    results, artifacts, meta = bench.main(
        ["--quick", "--backbone", tiny_bert, "--data", str(data), "--out", str(out), "--cli-rows", "300"]
    )
    table = pd.read_csv(out / "scoring.csv")
    assert table["method"].tolist() == [
        "skafa predict",
        "skafa predict, quantize=True",
        'HF pipeline("text-classification")',
        "skafa predict CLI, 300-row CSV",
    ]
    assert (table["texts_per_s"] > 0).all() and (table["mode"] == "quick (smoke run)").all()
    # Same weights, same predictions: the comparison with the Hugging Face pipeline is fair.
    assert meta["hf_prediction_agreement"] == 1.0 and meta["export_max_logprob_difference"] < 1e-4
    assert table["peak_rss_mib"].iloc[-1] > 50
    sizes = pd.read_csv(out / "artifacts.csv").set_index("artifact")["vs_backbone_weights"]
    assert sizes["pickle, default (trimmed for prediction)"] < sizes["pickle, keep_training_state=True"]
    assert json.loads((out / "scoring.json").read_text())["meta"]["mode"] == "quick"
