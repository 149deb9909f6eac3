"""The accuracy benchmark harness: configuration, honest splits, statistics, and a --quick run."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import accuracy  # noqa: E402
from accuracy_report import paired_tests, summarize  # noqa: E402

from skafa import AFASentimentClassifier  # noqa: E402

DATA_ROOT = Path(accuracy.parse_args([]).data_root)
needs_data = pytest.mark.skipif(not DATA_ROOT.is_dir(), reason=f"datasets not found at {DATA_ROOT}")


# --- configuration ------------------------------------------------------------------------


def test_token_dropout_runs_at_the_rate_afa_masks_at():
    params = accuracy.method_params("token_dropout", {"mask_ratio": 0.2})
    assert params["afa"] is False and params["token_dropout"] == 0.2
    assert accuracy.method_params("token_dropout", {})["token_dropout"] == 0.15


def test_method_specs_override_parameters_per_method():
    params = accuracy.method_params("afa_kl:afa_weight=0.3:afa__normalize_advantages=False", {"afa_weight": 1.0})
    assert params == {"afa__reward": "kl", "afa__n_samples": 2, "afa_weight": 0.3, "afa__normalize_advantages": False}
    with pytest.raises(SystemExit, match="unknown method"):
        accuracy.method_params("afa_magic", {})


def test_sizes_per_dataset_keep_defaults_for_the_others():
    sizes = accuracy.per_dataset("sst2=10", ["sst2", "imdb"], "n_train")
    assert sizes == {"sst2": 10, "imdb": accuracy.DATASETS["imdb"].n_train}
    assert accuracy.per_dataset("7", ["sst2", "imdb"], "n_test") == {"sst2": 7, "imdb": 7}
    assert accuracy.per_dataset("imdb=all", ["imdb"], "n_test") == {"imdb": None}


def test_cells_are_seed_major_and_unknown_parameters_are_rejected():
    args = accuracy.parse_args(["--datasets", "sst2,mr", "--methods", "plain,afa", "--seeds", "2"])
    cells = accuracy.build_cells(args)
    assert [c["seed"] for c in cells] == [0] * 4 + [1] * 4
    assert len({accuracy.cell_key(c) for c in cells}) == 8
    with pytest.raises(SystemExit, match="afa_wieght"):
        accuracy.build_cells(accuracy.parse_args(["--param", "afa_wieght=0.3"]))


# --- data: nothing evaluated on texts a model could have trained on ------------------------


@needs_data
@pytest.mark.parametrize("dataset", ["mr", "sst2"])
def test_validation_split_is_carved_from_training_data_only(dataset):
    train, test = accuracy.load_dataset(str(DATA_ROOT), dataset)
    pool, valid, _ = accuracy.evaluation_split(str(DATA_ROOT), dataset, "valid", None)
    assert set(valid.index).isdisjoint(pool.index) and len(pool) + len(valid) == len(train)
    assert set(valid.text) <= set(train.text)
    assert len(valid) == min(accuracy.MAX_VALID, len(train) // 4)


@needs_data
def test_fold_datasets_test_on_fold_zero():
    train, test = accuracy.load_dataset(str(DATA_ROOT), "cr")
    assert set(test.fold) == {0} and 0 not in set(train.fold)


@needs_data
def test_training_subsets_differ_by_seed_and_stay_in_the_pool():
    pool, evaluation, frequent = accuracy.evaluation_split(str(DATA_ROOT), "sst2", "test", 300)
    a, b = (accuracy.stratified_subset(pool, 200, seed) for seed in (0, 1))
    assert len(a) == 200 and set(a.index) <= set(pool.index) and set(a.index) != set(b.index)
    assert len(evaluation) == 300 and len(frequent) == accuracy.N_FREQUENT and "the" in frequent


def test_frequent_share_counts_lower_cased_frequent_words():
    words = [[("The", 0.5), ("riveting", 0.3), (".", 0.2)], [("dull", 1.0)]]
    assert accuracy.frequent_share(words, frozenset({"the", "."})) == pytest.approx(0.35)


# --- statistics ---------------------------------------------------------------------------


def test_paired_tests_on_known_differences():
    baseline = {s: 0.80 for s in range(5)}
    method = {s: 0.80 + 0.01 * (s + 1) for s in range(5)}
    d, p_t, p_w = paired_tests(method, baseline)
    assert d == pytest.approx(0.03)
    # t = 3 / (sqrt(2.5) / sqrt(5)) = 4.243 with 4 degrees of freedom.
    assert p_t == pytest.approx(0.01324, abs=1e-4)
    assert p_w == pytest.approx(2 / 32)  # all five differences positive: the exact minimum
    assert paired_tests(baseline, baseline) == (0.0, 1.0, 1.0)
    shifted = {s: 0.79 for s in range(5)}
    assert np.isnan(paired_tests(shifted, baseline)[1])  # constant differences: no t-test


def test_paired_tests_use_only_seeds_present_in_both():
    d, p_t, p_w = paired_tests({0: 0.9, 1: 0.7}, {0: 0.8})
    assert d == pytest.approx(0.1) and np.isnan(p_t) and np.isnan(p_w)


def record(method, seed, accuracy_, fit_s):
    return {"dataset": "sst2", "method": method, "seed": seed, "accuracy": accuracy_, "macro_f1": accuracy_,
            "fit_s": fit_s, "peak_rss_mb": 1000.0, "peak_gpu_mb": None, "freq_share": 0.3}


def test_summary_pairs_with_plain_and_times_against_it():
    records = [record("plain", s, 0.80 + 0.01 * s, 10.0) for s in range(3)]
    records += [record("afa", s, 0.78 + 0.02 * s, 25.0) for s in range(3)]
    summary = summarize(records, ["sst2"], ["plain", "afa"]).set_index("method")
    assert summary.loc["afa", "d_acc"] == pytest.approx(-0.01)  # losses are reported as losses
    assert summary.loc["afa", "time_ratio"] == pytest.approx(2.5)
    assert summary.loc["plain", "time_ratio"] == 1.0 and summary.loc["afa", "seeds"] == 3


# --- end to end ---------------------------------------------------------------------------


def fit_and_score_by_hand(record):
    """A benchmark record's scores recomputed without the benchmark's fitting and scoring code.

    Same cell, same training subset and evaluation set, fitted directly with the estimator on as
    many CPU threads as a worker of ``--jobs 2`` gets; predictions from ``predict``, words from
    ``token_attention``, accuracy and macro-F1 counted by hand.
    """
    cell = {k: record[k] for k in ("dataset", "method", "seed", "split", "n_train", "n_test", "params")}
    pool, evaluation, frequent = accuracy.evaluation_split(str(DATA_ROOT), cell["dataset"], cell["split"], cell["n_test"])
    train = accuracy.stratified_subset(pool, cell["n_train"], seed=cell["seed"])
    threads = torch.get_num_threads()
    torch.set_num_threads(accuracy.parse_args(["--quick", "--jobs", "2"]).threads)
    try:
        clf = AFASentimentClassifier(**cell["params"], device="cpu", random_state=cell["seed"], verbose=0)
        clf.fit(train.text.tolist(), train.label.to_numpy())
        texts = evaluation.text.tolist()
        pred, words = clf.predict(texts), clf.token_attention(texts)
    finally:
        torch.set_num_threads(threads)
    truth = evaluation.label.to_numpy()
    f1 = []
    for label in np.unique(truth):
        tp = np.sum((pred == label) & (truth == label))
        wrong = np.sum((pred == label) != (truth == label))  # false positives + false negatives
        f1.append(2 * tp / (2 * tp + wrong))
    return {"accuracy": np.mean(pred == truth), "macro_f1": np.mean(f1), "freq_share": accuracy.frequent_share(words, frequent)}


@pytest.mark.slow
@needs_data
def test_quick_run_end_to_end_in_two_workers_then_resume(tmp_path, capsys):
    out = tmp_path / "acc"
    result = subprocess.run(
        [sys.executable, "benchmarks/accuracy.py", "--quick", "--jobs", "2", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["method"] for r in results) == ["afa", "plain"]
    for r in results:
        assert r["n_eval"] == 64 and r["n_train_used"] == 64 and len(r["epoch_s"]) == 1
        assert 0 < r["freq_share"] < 1 and r["fit_s"] > 0 and r["peak_rss_mb"] > 100
    summary = (out / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("dataset,method,seeds,acc_mean") and len(summary) == 3
    table = pd.read_csv(out / "summary.csv").set_index("method")
    for r in results:  # one seed: the summary's means are that seed's scores (written to 4 decimals)
        assert table.loc[r["method"], "acc_mean"] == pytest.approx(r["accuracy"], abs=5e-5)
        assert table.loc[r["method"], "f1_mean"] == pytest.approx(r["macro_f1"], abs=5e-5)
    # The quick model is barely trained (it may predict one class for every text), but the
    # recomputation still pins how accuracy and macro-F1 are counted, and the attention shares.
    plain = next(r for r in results if r["method"] == "plain")
    expected = fit_and_score_by_hand(plain)
    assert plain["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-12)
    assert plain["macro_f1"] == pytest.approx(expected["macro_f1"], abs=1e-12)
    assert plain["freq_share"] == pytest.approx(expected["freq_share"], abs=1e-6)
    assert (out / "per_seed.png").read_bytes()[:4] == b"\x89PNG"
    meta = json.loads((out / "meta.json").read_text())
    assert "--quick" in meta["command"] and len(meta["runs"]) == 1
    assert "| sst2 | afa | 1 |" in (out / "summary.md").read_text()

    # In-process from here: nothing is fitted, and another interpreter would only add start-up time.
    with pytest.raises(SystemExit, match="--resume"):
        accuracy.main(["--quick", "--out", str(out)])
    accuracy.main(["--quick", "--resume", "--out", str(out)])
    assert "0 to run" in capsys.readouterr().out
    assert len((out / "results.jsonl").read_text().splitlines()) == 2
    assert len(json.loads((out / "meta.json").read_text())["runs"]) == 2
