"""Token dropout, the cheap augmentation AFA is benchmarked against."""

import numpy as np
import pytest
import torch

from skafa import AFASentimentClassifier
from skafa.backbone import TextClassifier
from skafa.net import AFANet, WeightedCrossEntropy

MASK_ID = 103


def batch(n_texts=400, length=30, n_pad=5):
    """[CLS] content... [SEP] [PAD]... rows, as PadCollator lays them out."""
    ids = torch.randint(1000, 2000, (n_texts, length))
    content = torch.ones(n_texts, length, dtype=torch.bool)
    attention = torch.ones(n_texts, length, dtype=torch.long)
    content[:, 0] = content[:, length - n_pad - 1 :] = False
    attention[:, length - n_pad :] = 0
    ids[:, length - n_pad :] = 0
    X = {"input_ids": ids, "attention_mask": attention, "content_mask": content, "sample_weight": torch.ones(n_texts)}
    return X, torch.zeros(n_texts, dtype=torch.long)


def net(rate, mask_token_id=MASK_ID):
    return AFANet(TextClassifier, WeightedCrossEntropy, token_dropout=rate, mask_token_id=mask_token_id)


def test_zero_rate_leaves_the_batch_alone():
    b = batch()
    assert net(0.0).drop_tokens(b) is b


def test_hides_content_tokens_at_the_rate_and_nothing_else():
    torch.manual_seed(0)
    (X, y) = batch()
    (dropped, y_out) = net(0.3).drop_tokens((X, y))
    hidden = dropped["input_ids"] != X["input_ids"]
    assert torch.all(dropped["input_ids"][hidden] == MASK_ID)
    assert not hidden[~X["content_mask"]].any()
    assert hidden[X["content_mask"]].float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert torch.equal(dropped["attention_mask"], X["attention_mask"])
    assert y_out is y


def test_without_a_mask_token_hidden_tokens_leave_the_attention_mask():
    torch.manual_seed(0)
    X, y = batch()
    dropped, _ = net(0.3, mask_token_id=None).drop_tokens((X, y))
    assert torch.equal(dropped["input_ids"], X["input_ids"])
    removed = (dropped["attention_mask"] == 0) & (X["attention_mask"] == 1)
    assert not removed[~X["content_mask"]].any()
    assert removed[X["content_mask"]].float().mean().item() == pytest.approx(0.3, abs=0.01)


def test_estimator_trains_with_token_dropout(fast_params, toy_data):
    X, y = toy_data
    plain = dict(fast_params, afa=False)
    base = AFASentimentClassifier(**plain).fit(X, y).predict_proba(X)
    again = AFASentimentClassifier(**plain, token_dropout=0.0).fit(X, y).predict_proba(X)
    dropped = AFASentimentClassifier(**plain, token_dropout=0.5).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(again, base)
    assert not np.allclose(dropped, base)


@pytest.mark.parametrize("rate", [-0.1, 1.0])
def test_rate_outside_zero_one_is_rejected(fast_params, toy_data, rate):
    X, y = toy_data
    with pytest.raises(ValueError, match="token_dropout"):
        AFASentimentClassifier(**fast_params, token_dropout=rate).fit(X, y)
