"""The cross-domain transfer benchmark: a --quick run on a tiny backbone, checked against a fit by hand."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import ttest_rel
from sklearn.model_selection import train_test_split
from transformers import BertConfig, BertModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import transfer  # noqa: E402
from accuracy import load_records  # noqa: E402

from skafa import AFASentimentClassifier  # noqa: E402
from skafa.backbone import DEFAULT_BACKBONE, load_tokenizer  # noqa: E402

DATA_ROOT = Path(transfer.parse_args([]).data_root)
needs_data = pytest.mark.skipif(not DATA_ROOT.is_dir(), reason=f"datasets not found at {DATA_ROOT}")


def stratified(frame, n):
    return train_test_split(frame, train_size=n, stratify=frame.label, random_state=0)[0] if n < len(frame) else frame


def score_by_hand(record, target_frames):
    """The record's fit redone with the estimator directly (own data loading), scored per target."""
    train = stratified(pd.read_csv(DATA_ROOT / "sst2_sentence" / "train.csv", keep_default_na=False), record["n_train"])
    assert record["seed"] == 0  # the subset above is drawn with seed 0
    clf = AFASentimentClassifier(**record["params"], device="cpu", random_state=record["seed"], verbose=0)
    clf.fit(train.text.tolist(), train.label.to_numpy())
    preds = {name: clf.predict(frame.text.tolist()) for name, frame in target_frames.items()}
    return preds, {name: float(np.mean(preds[name] == frame.label.to_numpy())) for name, frame in target_frames.items()}


@pytest.fixture(scope="module")
def spread_bert(tmp_path_factory):
    """conftest's tiny BERT with 10x the initialisation scale: fitted on 64 SST-2 sentences it predicts
    both classes (at 0.02 it predicts one class for every text, and any model would score the same)."""
    path = tmp_path_factory.mktemp("spread_bert")
    tokenizer = load_tokenizer(DEFAULT_BACKBONE)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=256, initializer_range=0.2)
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture
def keep_threads():
    """The in-process run sets torch's thread count (--threads 1) as a worker would: restore it."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@needs_data
def test_quick_run_scores_every_target_as_a_fit_by_hand_does(tmp_path, spread_bert, capsys, keep_threads):
    out = tmp_path / "transfer"
    argv = ["--quick", "--threads", "1", "--lr", "1e-3", "--backbone", spread_bert, "--out", str(out)]
    transfer.main(argv)
    records = load_records(out / "results.jsonl")
    assert [r["method"] for r in records] == ["plain", "afa", "afa:afa_weight=0"]
    for r in records:
        assert list(r["accuracy_by_target"]) == list(transfer.TARGETS)
        assert set(r["n_eval_by_target"].values()) == {16} and r["n_train_used"] == 64
        assert r["params"]["truncation"] == "head_tail" == r["effective_params"]["truncation"]
        assert r["accuracy"] == pytest.approx(np.mean([r["accuracy_by_target"][t] for t in transfer.TRANSFER]))

    # Targets loaded independently: Yelp, one Amazon domain, and MR without SST-2 training sentences.
    amazon = pd.read_csv(DATA_ROOT / "amazon_multidomain" / "dev.csv.gz", keep_default_na=False)
    mr = pd.read_csv(DATA_ROOT / "mr" / "all.csv", keep_default_na=False)
    sst2 = pd.read_csv(DATA_ROOT / "sst2_sentence" / "train.csv", keep_default_na=False)
    seen = set(sst2.text.map(transfer.normalise))
    frames = {
        "yelp": stratified(pd.read_csv(DATA_ROOT / "textfooler_attack_sets" / "yelp_1000.csv", keep_default_na=False), 16),
        "amazon_kitchen": stratified(amazon[amazon.domain == "kitchen"].reset_index(drop=True), 16),
        "mr": stratified(mr[~mr.text.map(transfer.normalise).isin(seen)].reset_index(drop=True), 16),
    }
    afa = records[1]
    preds, expected = score_by_hand(afa, frames)
    assert max(len(set(p)) for p in preds.values()) == 2  # not one class for every text: the match means something
    assert {name: afa["accuracy_by_target"][name] for name in frames} == pytest.approx(expected, abs=1e-12)

    # The comparison pairs afa with its lambda = 0 control and plain, per target and over the transfer targets.
    table = pd.read_csv(out / "comparison.csv")
    assert set(zip(table.method, table.control)) == {("afa", "afa:afa_weight=0")}
    assert list(table.dataset) == [*transfer.TARGETS, "mean", "mean_amazon_once"]
    by = {r["method"]: r["accuracy_by_target"] for r in records}
    rows = table.set_index("dataset")
    for target in transfer.TARGETS:
        assert rows.loc[target, "d_acc_vs_plain"] == pytest.approx(by["afa"][target] - by["plain"][target], abs=5e-5)
        assert rows.loc[target, "d_acc_vs_control"] == pytest.approx(by["afa"][target] - by["afa:afa_weight=0"][target], abs=5e-5)
    mean_diff = np.mean([by["afa"][t] - by["plain"][t] for t in transfer.TRANSFER])
    assert rows.loc["mean", "d_acc_vs_plain"] == pytest.approx(mean_diff, abs=5e-5) and rows.loc["mean", "seeds"] == 1
    assert set(table.seeds_vs_plain) == set(table.seeds_vs_control) == {1}
    accs = pd.read_csv(out / "accuracy_by_method.csv").set_index(["method", "dataset"])
    assert accs.loc[("plain", "mean"), "acc_mean"] == pytest.approx(records[0]["accuracy"], abs=5e-5)

    transfer.main([*argv, "--resume"])
    assert "0 to run" in capsys.readouterr().out
    assert len(load_records(out / "results.jsonl")) == 3
    assert len((out / "commands.txt").read_text().splitlines()) == 2


def test_comparison_pairs_by_seed_and_finds_the_control_by_its_parameters():
    """Synthetic records: the control is recognised from effective_params, not from its name."""
    rng = np.random.default_rng(0)
    base = {"afa": True, "afa_weight": 0.3, "afa__reward": "kl", "random_state": 0}
    kinds = {"plain": ({**base, "afa": False}, range(4)), "cand": (base, range(4)),
             "ctrl": ({**base, "afa_weight": 0}, range(3)), "other": ({**base, "afa__reward": "x", "afa_weight": 0}, range(4)),
             "lonely": ({**base, "afa__reward": "y"}, range(2))}
    records = []
    for method, (params, seeds) in kinds.items():
        for seed in seeds:
            acc = {t: float(rng.uniform(0.6, 0.9)) for t in transfer.TARGETS}
            records.append({"method": method, "seed": seed, "accuracy_by_target": acc,
                            "effective_params": {**params, "random_state": seed}})
    assert transfer.control_pairs(records) == [("cand", "ctrl"), ("lonely", None)]
    both = transfer.comparison(records)
    lonely = both[both.method == "lonely"]
    assert lonely.d_acc_vs_control.isna().all() and (lonely.seeds_vs_plain == 2).all() and lonely.d_acc_vs_plain.notna().all()
    table = both[both.method == "cand"].set_index("dataset")
    acc = {(r["method"], r["seed"]): r["accuracy_by_target"] for r in records}
    mean = lambda m, s: np.mean([acc[m, s][t] for t in transfer.TRANSFER])  # noqa: E731
    vs_ctrl = [mean("cand", s) - mean("ctrl", s) for s in range(3)]
    assert table.loc["mean", "d_acc_vs_control"] == pytest.approx(np.mean(vs_ctrl), abs=1e-12)
    assert table.loc["mean", "p_vs_control"] == pytest.approx(
        ttest_rel([mean("cand", s) for s in range(3)], [mean("ctrl", s) for s in range(3)]).pvalue, abs=1e-12)
    assert table.loc["yelp", "p_vs_plain"] == pytest.approx(
        ttest_rel([acc["cand", s]["yelp"] for s in range(4)], [acc["plain", s]["yelp"] for s in range(4)]).pvalue, abs=1e-12)
    assert (table.seeds_vs_plain == 4).all() and (table.seeds_vs_control == 3).all()
