"""warm_start and partial_fit: parameters changed between calls apply, or are refused by name."""

import numpy as np
import pytest
from sklearn.base import clone
from skorch.callbacks import Callback

from skafa import AFAOptions, AFASentimentClassifier
from skafa.text import LengthBucketBatchSampler


class RecordSteps(Callback):
    """Records, per training batch, the classifier's learning rate and the batch size."""

    def initialize(self):
        self.lrs_, self.sizes_ = [], []
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.lrs_.append(net.optimizer_.param_groups[0]["lr"])
            self.sizes_.append(len(batch[1]))


def recorded(clf):
    return dict(clf.net_.callbacks_)["RecordSteps"]


def test_changed_lr_batch_size_afa_weight_and_clipping_apply_to_a_warm_started_fit(fast_params, toy_data):
    X, y = toy_data
    discriminator = AFAOptions(reward="discriminator")
    clf = AFASentimentClassifier(**{**fast_params, "warm_start": True, "callbacks": [RecordSteps()], "afa": discriminator})
    clf.fit(X, y)
    steps_first = clf.net_.steps_
    clf.set_params(lr=1e-4, batch_size=8, afa_weight=0.9, max_grad_norm=0.5, weight_decay=0.05)
    clf.set_params(afa__discriminator_lr=5e-4)
    clf.fit(X, y)
    record = recorded(clf)
    # The second fit ran batches of 8 at a peak rate of 1e-4, and its schedule counted those batches.
    assert max(record.sizes_) == 8 and len(record.sizes_) == len(LengthBucketBatchSampler(np.ones(len(X)), 8))
    assert max(record.lrs_) == pytest.approx(1e-4)
    assert clf.net_.steps_ == steps_first + len(record.sizes_)
    assert clf.net_.afa_config.weight == 0.9
    assert dict(clf.net_.callbacks_)["grad_clip"].gradient_clip_value == 0.5
    # The optimizers keep their moments but take the new settings.
    assert clf.net_.optimizer_.param_groups[0]["weight_decay"] == 0.05
    assert clf.net_.discriminator_optimizer_.param_groups[0]["lr"] == 5e-4
    assert clf.net_.optimizer_.state  # Adam's moments came along
    assert clf.n_epochs_ == 2


def test_changed_lr_applies_to_the_next_partial_fit(fast_params, toy_data):
    X, y = toy_data
    clf = AFASentimentClassifier(**{**fast_params, "callbacks": [RecordSteps()]})
    clf.partial_fit(X, y)
    clf.set_params(lr=3e-4).partial_fit(X, y)
    lrs = recorded(clf).lrs_
    assert lrs and lrs == pytest.approx([3e-4] * len(lrs))


@pytest.mark.parametrize(
    "change",
    [{"afa": False}, {"attention_layer": 0}, {"afa__reward": "discriminator"}, {"afa__discriminator_hidden": 8}, {"lora_r": 4}],
)
def test_a_changed_structural_parameter_is_refused_by_name(fast_params, toy_data, change):
    X, y = toy_data
    clf = AFASentimentClassifier(**{**fast_params, "warm_start": True}).fit(X, y)
    clf.set_params(**change)
    name = next(iter(change))
    with pytest.raises(ValueError, match=f"Cannot continue training.*{name}"):
        clf.fit(X, y)


def test_partial_fit_checks_classes_on_later_calls(fast_params, toy_data):
    X, y = toy_data
    clf = AFASentimentClassifier(**fast_params).partial_fit(X, y, classes=["neg", "pos"])
    clf.partial_fit(X, y, classes=["pos", "neg"])  # the same classes in another order
    with pytest.raises(ValueError, match=r"classes=\['neg', 'pos', 'so-so'\] differs"):
        clf.partial_fit(X, y, classes=["neg", "pos", "so-so"])


def test_callbacks_passed_as_a_parameter_are_not_changed_by_fit(fast_params, toy_data):
    X, y = toy_data
    callback = RecordSteps()
    clf = AFASentimentClassifier(**{**fast_params, "callbacks": [callback]}).fit(X, y)
    assert not hasattr(callback, "lrs_")
    assert recorded(clf) is not callback and recorded(clf).lrs_
    assert clone(clf).get_params()["callbacks"][0] is not callback


def test_afa_options_are_routed_by_prefix_and_cloned(fast_params):
    clf = AFASentimentClassifier(**fast_params).set_params(afa__reward="kl", afa__temperature=2.0)
    assert isinstance(clf.afa, AFAOptions) and (clf.afa.reward, clf.afa.temperature) == ("kl", 2.0)
    assert clf.get_params()["afa__reward"] == "kl" and clf.get_params()["afa__temperature"] == 2.0
    copy = clone(clf)
    copy.set_params(afa__reward="discriminator")
    assert clf.afa.reward == "kl"  # the clone has its own options
    with pytest.raises(ValueError, match="while afa=False"):
        AFASentimentClassifier(afa=False).set_params(afa__reward="kl")
