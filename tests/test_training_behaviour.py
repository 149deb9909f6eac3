"""Training behaviour users rely on: weights, early stopping, continuing, guards, resuming."""

import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skafa import AFASentimentClassifier
from skafa.callbacks import TrainingDiverged
from skafa.inference import encode
from skafa.text import LengthBucketBatchSampler

from .conftest import fake_focus_data


def imbalanced(n=120, minority=0.15, seed=0):
    X, y = fake_focus_data(n, seed=seed)
    rng = np.random.default_rng(seed)
    keep = (y == "neg") | (rng.random(n) < minority)
    return [x for x, k in zip(X, keep) if k], y[keep]


@pytest.mark.parametrize("how", ["class_weight", "sample_weight"])
def test_weighting_the_minority_class_predicts_it_more_often(fast_params, how):
    X, y = imbalanced()
    X_test, _ = fake_focus_data(200, seed=5)
    base = AFASentimentClassifier(**fast_params).fit(X, y)
    if how == "class_weight":
        weighted = AFASentimentClassifier(**{**fast_params, "class_weight": "balanced"}).fit(X, y)
    else:
        weights = np.where(y == "pos", (y == "neg").sum() / (y == "pos").sum(), 1.0)
        weighted = AFASentimentClassifier(**fast_params).fit(X, y, sample_weight=weights)
    p_base = base.predict_proba(X_test)[:, list(base.classes_).index("pos")].mean()
    p_weighted = weighted.predict_proba(X_test)[:, list(weighted.classes_).index("pos")].mean()
    assert p_weighted > p_base + 0.05


class EpochWeights(Callback):
    """Record a copy of the classifier's weights as they are at the end of each epoch.

    Copied after every training batch and kept per epoch, so the epoch that early stopping ends
    (its ``on_epoch_end`` stops the loop before later callbacks run) is recorded too.
    """

    def on_train_begin(self, net, **kwargs):
        self.states_ = {}

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.states_[len(net.history)] = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def epochs_with_these_weights(state, recorded):
    """The recorded epochs whose weights are exactly ``state``."""
    return [epoch for epoch, weights in recorded.items() if same_weights(state, weights)]


class ScriptedValidationLoss(Callback):
    """Give each epoch a chosen validation loss: after every training batch of epoch ``e`` the
    output layer is set to weights 0 and biases ``(bias[e - 1], 0)``.

    Every text then gets the same logits, so the validation loss is ``p_0 softplus(-b) +
    p_1 softplus(b)`` (``p_c``: share of class ``c`` in the validation split), which grows with
    ``b`` for ``b >= 1`` when neither class is rare: a larger bias, a larger loss, whatever the
    random backbone. Only the output layer is overridden; the optimizer keeps updating the other
    weights, so every epoch ends with different ones.
    """

    def __init__(self, bias):
        self.bias = bias

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            head = [m for m in net.module_.modules() if isinstance(m, torch.nn.Linear) and m.out_features == 2][-1]
            with torch.no_grad():
                head.weight.zero_()
                head.bias.copy_(torch.tensor([self.bias[len(net.history) - 1], 0.0]))


@pytest.mark.parametrize(
    "epochs, patience, bias, best",
    [
        (6, 2, [2.0, 1.0, 3.0, 3.0, 3.0, 3.0], 2),
        (4, 10, [2.0, 1.0, 3.0, 4.0], 2),
        (6, 2, [1.0, 0.9999, 3.0, 3.0, 3.0, 3.0], 2),
    ],
    ids=["stops-after-patience", "runs-all-epochs", "improvement-below-1e-4"],
)
def test_early_stopping_reports_and_restores_the_best_epoch(fast_params, toy_data, epochs, patience, bias, best):
    """With early stopping the fitted model has the weights of the epoch with the lowest
    validation loss, not those of the last epoch trained; ``best_epoch_`` names that epoch and
    ``n_epochs_`` counts the epochs trained: ``n_iter_no_change`` more than the best one, or all
    ``epochs`` if training did not stop early.

    The validation losses are scripted (``ScriptedValidationLoss``) so that the best epoch is
    known and is not the last one: otherwise restoring it and not restoring it would leave the
    same weights.
    """
    X, y = toy_data
    recorder = EpochWeights()
    params = {**fast_params, "epochs": epochs, "early_stopping": True, "n_iter_no_change": patience}
    clf = AFASentimentClassifier(**params, callbacks=[ScriptedValidationLoss(bias), recorder]).fit(X, y)
    losses = clf.history_[:, "valid_loss"]
    assert int(np.argmin(losses)) + 1 == best  # the script worked
    assert clf.best_epoch_ == best
    assert clf.n_epochs_ == min(epochs, best + patience) == len(losses)
    # The best epoch's weights, and no other epoch's (in particular not the last one's).
    recorded = dict(clf.net_.callbacks_)["EpochWeights"].states_  # the fit's copy of the recorder
    assert epochs_with_these_weights(clf.net_.module_.state_dict(), recorded) == [best]
    assert "valid_acc" in clf.history_[-1]


def test_warm_start_continues_training_and_refuses_new_labels(fast_params, toy_data):
    X, y = toy_data
    clf = AFASentimentClassifier(**{**fast_params, "warm_start": True}).fit(X, y)
    first = clf.predict_proba(X)
    clf.fit(X, y)
    assert clf.n_epochs_ == 2 and clf.net_.steps_ == 2 * 6
    assert not np.allclose(clf.predict_proba(X), first)
    with pytest.raises(ValueError, match=r"labels the model was not built for: \['meh'\]"):
        clf.fit(X[:3], ["pos", "neg", "meh"])


def test_partial_fit_builds_once_then_continues(fast_params, toy_data):
    X, y = toy_data
    clf = AFASentimentClassifier(**fast_params)
    clf.partial_fit(X[:48], y[:48], classes=["neg", "pos", "meh"])
    assert list(clf.classes_) == ["meh", "neg", "pos"]
    clf.partial_fit(X[48:], y[48:])
    assert clf.n_epochs_ == 2
    with pytest.raises(ValueError, match="not built for"):
        clf.partial_fit(X[:2], ["pos", "great"])


class Sabotage(Callback):
    """Turn a weight into NaN (divergence) or raise Ctrl-C in a given epoch and batch."""

    def __init__(self, epoch, batch, action):
        self.epoch, self.batch, self.action = epoch, batch, action

    def on_train_begin(self, net, **kwargs):
        self.seen_ = 0
        self.states_ = []

    def on_epoch_end(self, net, **kwargs):
        self.states_.append({k: v.clone() for k, v in net.module_.state_dict().items()})

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training:
            return
        self.seen_ += 1
        if len(net.history) == self.epoch and self.seen_ == self.batch:
            if self.action == "interrupt":
                raise KeyboardInterrupt
            with torch.no_grad():
                net.module_.head.weight.fill_(float("nan"))


def test_divergence_stops_with_a_clear_error_and_keeps_the_last_good_epoch(fast_params, toy_data):
    X, y = toy_data
    sabotage = Sabotage(epoch=2, batch=9, action="nan")
    clf = AFASentimentClassifier(**{**fast_params, "epochs": 3, "callbacks": [sabotage]})
    with pytest.raises(TrainingDiverged, match="Training diverged in epoch 2"):
        clf.fit(X, y)
    assert len(clf.net_.history) == 1
    state = clf.net_.module_.state_dict()
    assert all(torch.equal(state[k], v) for k, v in dict(clf.net_.callbacks_)["Sabotage"].states_[0].items())


def test_ctrl_c_leaves_the_model_of_the_last_completed_epoch(fast_params, toy_data):
    X, y = toy_data
    sabotage = Sabotage(epoch=2, batch=10, action="interrupt")
    clf = AFASentimentClassifier(**{**fast_params, "epochs": 3, "callbacks": [sabotage]})
    with pytest.warns(UserWarning, match="interrupted; the model is the one at the end of epoch 1"):
        clf.fit(X, y)
    assert clf.n_epochs_ == 1
    state = clf.net_.module_.state_dict()
    assert all(torch.equal(state[k], v) for k, v in dict(clf.net_.callbacks_)["Sabotage"].states_[0].items())
    assert np.all(np.isfinite(clf.predict_proba(X)))


def test_the_epoch_snapshot_is_released_after_fit(fast_params, toy_data):
    clf = AFASentimentClassifier(**{**fast_params, "epochs": 1}).fit(*toy_data)
    assert dict(clf.net_.callbacks_)["snapshot"].state_ is None


class Crash(Callback):
    def __init__(self, after_epoch):
        self.after_epoch = after_epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.after_epoch:
            raise RuntimeError("simulated crash")


def test_checkpoint_resume_gives_the_same_model_as_an_uninterrupted_fit(fast_params, toy_data, tmp_path):
    X, y = toy_data
    params = {**fast_params, "epochs": 3, "validation_fraction": 0.25}
    expected = AFASentimentClassifier(**params).fit(X, y).predict_proba(X)

    crashing = AFASentimentClassifier(**{**params, "checkpoint_dir": str(tmp_path), "callbacks": [Crash(2)]})
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashing.fit(X, y)
    assert (tmp_path / "skafa-checkpoint.pt").exists()

    resumed = AFASentimentClassifier(**{**params, "checkpoint_dir": str(tmp_path)}).fit(X, y)
    np.testing.assert_allclose(resumed.predict_proba(X), expected, atol=1e-6)
    assert resumed.n_epochs_ == 3
    assert not (tmp_path / "skafa-checkpoint.pt").exists()


@pytest.mark.parametrize(
    "change",
    [{"rows": 60}, {"lr": 2e-3}],
    ids=["other-data", "other-parameters"],
)
def test_checkpoint_of_other_data_is_not_resumed(fast_params, toy_data, tmp_path, change):
    """A checkpoint left in ``checkpoint_dir`` by an interrupted fit of other data or other
    parameters is not resumed: the fit that finds it ends with exactly the model of a fresh
    fit without ``checkpoint_dir`` (same seed), and removes the stale file when it completes."""
    X, y = toy_data
    params = {**fast_params, "epochs": 2}
    crashing = AFASentimentClassifier(**params, checkpoint_dir=str(tmp_path), callbacks=[Crash(1)])
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashing.fit(X, y)
    assert (tmp_path / "skafa-checkpoint.pt").exists()

    n = change.get("rows", len(X))
    params = {**params, "lr": change.get("lr", params["lr"])}
    fresh = AFASentimentClassifier(**params).fit(X[:n], y[:n])
    other = AFASentimentClassifier(**params, checkpoint_dir=str(tmp_path)).fit(X[:n], y[:n])
    assert other.n_epochs_ == 2
    np.testing.assert_array_equal(other.history_[:, "train_loss"], fresh.history_[:, "train_loss"])
    assert same_weights(other.net_.module_.state_dict(), fresh.net_.module_.state_dict()), "not a fresh fit's weights"
    np.testing.assert_array_equal(other.predict_proba(X), fresh.predict_proba(X))
    assert not (tmp_path / "skafa-checkpoint.pt").exists()


def test_batches_are_bounded_by_tokens_as_well_as_rows():
    lengths = np.array([5, 80, 7, 120, 64, 9, 10, 128, 6, 100])
    sampler = LengthBucketBatchSampler(lengths, batch_size=4, max_tokens=200)
    torch.manual_seed(0)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(10))
    for batch in batches:
        assert len(batch) <= 4
        assert len(batch) == 1 or max(lengths[batch]) * len(batch) <= 200
    assert len(sampler) == len(batches)


def test_token_bounded_prediction_matches_unbounded(fast_params, toy_data):
    X, y = toy_data
    clf = AFASentimentClassifier(**fast_params).fit(X, y)
    expected = clf.predict_proba(X)
    clf.set_params(max_batch_tokens=40)
    np.testing.assert_allclose(clf.predict_proba(X), expected, atol=1e-5)


def test_long_texts_head_tail_and_windows(fast_params):
    filler = " ".join(["the movie"] * 40)
    X = [f"riveting {filler} lackluster", f"lackluster {filler} riveting"] * 8
    y = ["a", "b"] * 8
    params = {**fast_params, "max_length": 32}
    clf = AFASentimentClassifier(**{**params, "truncation": "head_tail"}).fit(X, y)
    words = [w for w, _ in clf.token_attention(X[:1])[0]]
    assert words[0] == "riveting" and words[-1] == "lackluster" and len(words) < 82

    windowed = AFASentimentClassifier(**{**params, "long_text": "window", "window_stride": 10}).fit(X, y)
    encoded = encode(windowed, X[:1])
    assert len(encoded) > 1 and all(len(ids) <= 32 for ids in encoded.input_ids)
    manual = windowed.net_.forward(
        __import__("skafa.text", fromlist=["TextDataset"]).TextDataset(encoded), training=False
    ).mean(dim=0)
    np.testing.assert_allclose(windowed.decision_function(X[:1])[0], float(manual[1] - manual[0]), atol=1e-5)
    words = windowed.token_attention(X[:1])[0]
    assert len(words) == 82 and sum(w for _, w in words) == pytest.approx(1.0, abs=1e-5)


def test_empty_texts_policy(fast_params, toy_data):
    X, y = toy_data
    with pytest.raises(ValueError, match="on_empty_text='model'"):
        AFASentimentClassifier(**fast_params).fit(X[:-1] + [""], y)
    clf = AFASentimentClassifier(**{**fast_params, "on_empty_text": "model"}).fit(X[:-1] + [" "], y)
    proba = clf.predict_proba(["", "   ", X[0]])
    assert proba.shape == (3, 2) and np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba[0], proba[1], atol=1e-6)
    assert clf.token_attention([""]) == [[]]


def test_fit_does_not_warn_about_long_sequences(fast_params):
    X = [" ".join(["word"] * 2000), "short text"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AFASentimentClassifier(**fast_params).fit(X, [0, 1]).predict(X)


@pytest.mark.parametrize("max_tokens", [None, 300])
def test_sampler_length_is_the_number_of_batches_it_yields(max_tokens):
    """The schedule and the AFA warm-up count steps with len(sampler): it must be exact, epoch after epoch."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(4, 120, size=2500)
    sampler = LengthBucketBatchSampler(lengths, batch_size=16, max_tokens=max_tokens)
    torch.manual_seed(0)
    for _ in range(3):
        batches = list(sampler)
        assert len(batches) == len(sampler)
        assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
