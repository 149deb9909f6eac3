"""Data-parallel training with Accelerate: real two-process runs (torchrun, gloo backend, CPU)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

pytest.importorskip("accelerate")

import skafa  # noqa: E402
from skafa.backbone import DEFAULT_BACKBONE, load_tokenizer  # noqa: E402

from .conftest import fake_focus_data  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    from skorch.callbacks import Callback
    import skafa.backbone
    from skafa import AFASentimentClassifier
    from tests.conftest import fake_focus_data


    class BatchRows(Callback):
        rows = []

        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            if training:
                BatchRows.rows.append(len(batch[1]))


    backbone, out, method = sys.argv[1], sys.argv[2], sys.argv[3]
    # AFA with the learned discriminator: both modules must stay in step over the processes.
    afa = skafa.AFAOptions(reward="discriminator") if method != "plain" else False
    # "early": AFA with a validation split and early stopping that may stop before the 4th epoch.
    extra = dict(epochs=4, validation_fraction=0.25, early_stopping=True, n_iter_no_change=1) if method == "early" else {}
    # Head dropout off (the backbone has none either): with no random numbers drawn in the forward
    # pass, two processes that each take half of every batch must end where one process ends.
    skafa.backbone.TextClassifier.__init__.__defaults__ = (-1, 0.0, None, None, False)
    X, y = fake_focus_data(64, seed=0)
    settings = dict(epochs=2, batch_size=16, lr=1e-3, random_state=0, verbose=0, callbacks=[BatchRows()])
    clf = AFASentimentClassifier(backbone=backbone, accelerate=True, afa=afa, **{**settings, **extra}).fit(X, y)
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    state = {"module." + k: v for k, v in clf.net_.module_.state_dict().items()}
    if afa:
        state.update({"discriminator." + k: v for k, v in clf.net_.discriminator_.state_dict().items()})
    state["batch_rows"] = torch.tensor(BatchRows.rows)
    if method == "early":
        state["valid_loss"] = torch.tensor(clf.history_[:, "valid_loss"])
        state["train_loss"] = torch.tensor(clf.history_[:, "train_loss"])
    torch.save(state, f"{out}/rank{rank}.pt")
    if rank == 0:  # only the main process writes the model
        clf.save(f"{out}/model")
    """
)


@pytest.fixture(scope="module")
def no_dropout_bert(tmp_path_factory):
    path = tmp_path_factory.mktemp("bert_no_dropout")
    tokenizer = load_tokenizer(DEFAULT_BACKBONE)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=256, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def _train(tmp_path, backbone, method, processes):
    out = tmp_path / f"{method}_{processes}"
    out.mkdir()
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT)
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([*launcher, str(script), backbone, str(out), method], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def test_two_processes_end_with_the_weights_of_one_process_with_the_same_global_batch(tmp_path, no_dropout_bert):
    two = _train(tmp_path, no_dropout_bert, "plain", 2)
    one = _train(tmp_path, no_dropout_bert, "plain", 1)
    rank0, rank1, single = (torch.load(p) for p in (two / "rank0.pt", two / "rank1.pt", one / "rank0.pt"))
    # Each process trained on half of every global batch of 16, for the same 8 steps.
    assert rank0.pop("batch_rows").tolist() == rank1.pop("batch_rows").tolist() == [8] * 8
    assert single.pop("batch_rows").tolist() == [16] * 8
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    worst = max(float((rank0[k] - single[k]).abs().max()) for k in rank0)
    assert worst < 1e-4, worst
    X, _ = fake_focus_data(16, seed=3)
    clf = skafa.load(two / "model")  # written by the main process only; loads as any model
    assert clf.predict(X).shape == (16,)


def test_afa_processes_share_one_classifier_and_one_discriminator(tmp_path, no_dropout_bert):
    two = _train(tmp_path, no_dropout_bert, "afa", 2)
    rank0, rank1 = torch.load(two / "rank0.pt"), torch.load(two / "rank1.pt")
    assert rank0.pop("batch_rows").tolist() == [8] * 8 and rank1.pop("batch_rows").tolist() == [8] * 8
    assert any(k.startswith("discriminator.") for k in rank0)
    different = [k for k in rank0 if not torch.equal(rank0[k], rank1[k])]
    assert different == []
    X, _ = fake_focus_data(16, seed=3)
    np.testing.assert_allclose(skafa.load(two / "model").predict_proba(X).sum(axis=1), 1.0, rtol=1e-5)


def test_gradient_accumulation_is_refused_with_a_clear_message(fast_params, toy_data, monkeypatch):
    X, y = toy_data
    monkeypatch.setenv("ACCELERATE_GRADIENT_ACCUMULATION_STEPS", "4")
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    try:
        with pytest.raises(ValueError, match="gradient accumulation is not supported"):
            skafa.AFASentimentClassifier(**{**fast_params, "accelerate": True}).fit(X, y)
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)


def test_processes_keep_one_history_and_stop_early_together(tmp_path, no_dropout_bert):
    two = _train(tmp_path, no_dropout_bert, "early", 2)
    rank0, rank1 = torch.load(two / "rank0.pt"), torch.load(two / "rank1.pt")
    # Validation is not split: both processes score it all with the same weights, so the validation
    # losses, the recorded (process-averaged) training losses and the epoch early stopping chose agree.
    assert torch.equal(rank0["valid_loss"], rank1["valid_loss"]) and torch.equal(rank0["train_loss"], rank1["train_loss"])
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0 if k.startswith(("module.", "discriminator.")))
    assert len(rank0["valid_loss"]) <= 4
