"""Every bad parameter value and every bad input gets a clear error naming the problem."""

import numpy as np
import pandas as pd
import pytest

from skafa import AFASentimentClassifier

BAD_PARAMS = [
    ("max_length", 1, "max_length must satisfy"),
    ("max_length", 12.5, "max_length must be an integer"),
    ("epochs", 0, "epochs must satisfy"),
    ("batch_size", -3, "batch_size must satisfy"),
    ("lr", 0.0, "lr must satisfy"),
    ("lr", "fast", "lr must be a number"),
    ("weight_decay", -0.1, "weight_decay must satisfy"),
    ("warmup_ratio", 1.5, "warmup_ratio must satisfy"),
    ("afa", "yes", "afa must be True or False"),
    ("mask_ratio", 0.0, "mask_ratio must satisfy"),
    ("mask_ratio", 1.0, "mask_ratio must satisfy"),
    ("afa_weight", -1.0, "afa_weight must satisfy"),
    ("afa__temperature", 0.0, "afa__temperature must satisfy"),
    ("afa__n_samples", 0, "afa__n_samples must satisfy"),
    ("afa__warmup", 2.0, "afa__warmup must satisfy"),
    ("attention_layer", 1.5, "attention_layer must be an integer"),
    ("mask_mode", "blank", "mask_mode must be one of 'token', 'drop'"),
    ("afa__policy", "greedy", "afa__policy must be one of"),
    ("afa__reward", "accuracy", "afa__reward must be one of"),
    ("afa__discriminator_features", "logits", "afa__discriminator_features must be one of"),
    ("afa__discriminator_hidden", 0, "afa__discriminator_hidden must satisfy"),
    ("afa__discriminator_lr", -1e-3, "afa__discriminator_lr must satisfy"),
    ("afa__paired_discriminator", 1, "afa__paired_discriminator must be True or False"),
    ("afa__probe_dropout", None, "afa__probe_dropout must be True or False"),
    ("afa__normalize_advantages", "batch", "afa__normalize_advantages must be True or False"),
    ("class_weight", "auto", "class_weight must be None, 'balanced' or a dict"),
    ("validation_fraction", 1.0, "validation_fraction must satisfy"),
    ("max_grad_norm", 0.0, "max_grad_norm must satisfy"),
    ("device", "tpu:7", "device must be"),
    ("random_state", -1, "random_state must satisfy"),
    ("keep_training_state", "yes", "keep_training_state must be True or False"),
    ("verbose", -1, "verbose must satisfy"),
]


@pytest.mark.parametrize("name, value, message", BAD_PARAMS, ids=[f"{n}={v!r}" for n, v, _ in BAD_PARAMS])
def test_bad_parameter_values_are_refused_in_fit(name, value, message, fast_params, toy_data):
    X, y = toy_data
    clf = AFASentimentClassifier(**fast_params).set_params(**{name: value})  # set_params accepts anything
    with pytest.raises((ValueError, TypeError), match=message):
        clf.fit(X, y)


def test_every_constructor_parameter_is_documented():
    doc = AFASentimentClassifier.__doc__
    for name in AFASentimentClassifier().get_params():
        assert f"\n    {name} : " in doc, name


def test_unavailable_cuda_is_a_clear_error(fast_params, toy_data, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = toy_data
    with pytest.raises(ValueError, match="no CUDA GPU is available"):
        AFASentimentClassifier(**{**fast_params, "device": "cuda"}).fit(X, y)


def test_unknown_backbone_is_a_clear_error(fast_params, toy_data):
    X, y = toy_data
    with pytest.raises(ValueError, match="Could not load backbone 'no-such-org/no-such-model'"):
        AFASentimentClassifier(**{**fast_params, "backbone": "no-such-org/no-such-model"}).fit(X, y)


def test_out_of_range_attention_layer_is_refused(fast_params, toy_data):
    X, y = toy_data
    with pytest.raises(ValueError, match="attention_layer=9 is out of range"):
        AFASentimentClassifier(**{**fast_params, "attention_layer": 9}).fit(X, y)


BAD_X = [
    ("a single string", "must be a sequence of texts, not a single string"),
    (["good", None, "bad", np.nan], r"must contain only strings; row\(s\) 1, 3 hold NoneType, float"),
    (["good", 3, "bad", "ok"], r"row\(s\) 1 hold int"),
    (["good", "", "bad", "   "], r"empty or whitespace-only texts at row\(s\) 1, 3"),
    ([], "X is empty"),
    (np.array([["a", "b"], ["c", "d"]]), "must be one-dimensional"),
    (pd.DataFrame({"text": ["a", "b"], "other": ["c", "d"]}), "DataFrame with 2 columns"),
]


@pytest.mark.parametrize("X, message", BAD_X, ids=["str", "none-nan", "int", "empty", "no-rows", "2d", "frame"])
def test_bad_texts_are_refused_naming_rows(X, message, fast_params):
    y = [0, 1] * 2 if isinstance(X, list) and len(X) == 4 else [0, 1]
    with pytest.raises((ValueError, TypeError), match=message):
        AFASentimentClassifier(**fast_params).fit(X, y)


def test_bad_labels_and_weights_are_refused(fast_params, toy_data):
    X, y = toy_data
    clf = AFASentimentClassifier(**fast_params)
    with pytest.raises(ValueError, match="96 texts but 95 labels"):
        clf.fit(X, y[:-1])
    y_nan = np.array(y, dtype=object)
    y_nan[[4, 7]] = None
    with pytest.raises(ValueError, match=r"missing labels \(None/NaN\) at row\(s\) 4, 7"):
        clf.fit(X, y_nan)
    with pytest.raises(ValueError, match="sample_weight must be finite and non-negative"):
        clf.fit(X, y, sample_weight=np.r_[-1.0, np.ones(len(X) - 1)])
    with pytest.raises(ValueError, match="class_weight has labels not present in y"):
        AFASentimentClassifier(**{**fast_params, "class_weight": {"maybe": 2.0}}).fit(X, y)


def test_bad_input_at_prediction_names_rows(fast_params, toy_data):
    X, y = toy_data
    clf = AFASentimentClassifier(**fast_params).fit(X, y)
    with pytest.raises(TypeError, match=r"row\(s\) 2 hold NoneType"):
        clf.predict(["good", "bad", None])
    with pytest.raises(ValueError, match=r"row\(s\) 0"):
        clf.predict_proba([" "])
