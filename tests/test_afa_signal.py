"""The AFA training signal: where the policy gradient lands, and the candidate designs' pieces."""

import numpy as np
import pytest
import torch

from skafa import AFAOptions, AFASentimentClassifier
from skafa.afa import explore, masking_probabilities, standardize, uniform_probabilities
from skafa.backbone import TextClassifier
from skafa.net import AFAConfig, AFANet, WeightedCrossEntropy

from .test_token_dropout import batch


class PolicyGradientOnly(AFANet):
    """An AFA net whose cross-entropy is switched off and whose advantages are fixed numbers."""

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return y_pred.sum() * 0.0

    def advantages(self, rewards):
        return self.fixed_advantages[: rewards.shape[0]] * self.scale


def policy_gradient_step(backbone, scale, fixed, *, mask_token_id=103, vocab=(1000, 2000), **module_params):
    """A net after one training step on the policy-gradient term alone, advantages ``scale * fixed``."""
    torch.manual_seed(0)
    net = PolicyGradientOnly(
        TextClassifier,
        module__backbone=backbone,
        module__n_classes=2,
        **{f"module__{k}": v for k, v in module_params.items()},
        criterion=WeightedCrossEntropy,
        afa_config=AFAConfig(reward="kl", n_samples=2, mask_token_id=mask_token_id, weight=1.0),
        device="cpu",
    ).initialize()
    net.fixed_advantages, net.scale = fixed, scale
    X, y = batch(n_texts=8, length=12, n_pad=2)
    X["input_ids"] = X["input_ids"] % (vocab[1] - vocab[0]) + vocab[0]  # ids inside the tiny vocabulary
    torch.manual_seed(1)  # the same masks for every scale
    net.history.new_epoch()
    net.history.new_batch()
    net.optimizer_.zero_grad()
    net.train_step_single((X, y))
    return net


def attention_weight_grads(tiny_bert, scale, fixed):
    net = policy_gradient_step(tiny_bert, scale, fixed)
    layer = net.module_.backbone.encoder.layer[-1].attention.self
    return layer.query.weight.grad.clone(), layer.key.weight.grad.clone()


def test_the_policy_gradient_alone_reaches_the_attention_query_and_key_weights(tiny_bert):
    fixed = torch.randn(8, 2, generator=torch.Generator().manual_seed(0))
    q1, k1 = attention_weight_grads(tiny_bert, 1.0, fixed)
    q2, k2 = attention_weight_grads(tiny_bert, 2.0, fixed)
    q0, k0 = attention_weight_grads(tiny_bert, 0.0, fixed)
    assert q1.abs().sum() > 0 and k1.abs().sum() > 0
    # The gradient is linear in the advantages: twice the advantages, twice the gradient; none, none.
    torch.testing.assert_close(q2, 2 * q1, rtol=1e-4, atol=1e-8)
    torch.testing.assert_close(k2, 2 * k1, rtol=1e-4, atol=1e-8)
    assert q0.abs().sum() == 0 and k0.abs().sum() == 0


def test_the_net_config_defaults_are_the_estimator_defaults():
    # The net's config is built from the estimator's parameters; a config built by hand (tests,
    # research scripts) must not silently train something else than the documented default.
    config, options, estimator = AFAConfig(), AFAOptions().get_params(), AFASentimentClassifier()
    renamed = {"features": "discriminator_features"}
    shared = ("temperature", "n_samples", "policy", "reward", "features", "paired_discriminator",
              "probe_dropout", "normalize_advantages", "exploration", "skill_scaling")
    assert {name: getattr(config, name) for name in shared} == {
        name: options[renamed.get(name, name)] for name in shared}
    assert (config.weight, config.mask_ratio) == (estimator.afa_weight, estimator.mask_ratio)


def test_direct_policy_masks_in_proportion_to_attention():
    attention = torch.tensor([[0.0, 0.6, 0.3, 0.1, 0.0]])
    content = torch.tensor([[False, True, True, True, False]])
    complement = masking_probabilities(attention, content, mask_ratio=0.34, eps=1e-9)
    direct = masking_probabilities(attention, content, mask_ratio=0.34, eps=1e-9, direct=True)
    # k = 1: the direct policy's probabilities are the attention itself, the complement's 1/alpha normalised.
    torch.testing.assert_close(direct[0, 1:4], torch.tensor([0.6, 0.3, 0.1]))
    inverse = torch.tensor([1 / 0.6, 1 / 0.3, 1 / 0.1])
    torch.testing.assert_close(complement[0, 1:4], inverse / inverse.sum())


def test_exploration_mixes_in_uniform_masking_at_the_same_rate():
    content = torch.tensor([[False, True, True, True, True, False]])
    policy = torch.tensor([[0.0, 0.7, 0.1, 0.1, 0.1, 0.0]])
    mixed = explore(policy, content, mask_ratio=0.25, exploration=0.5)
    torch.testing.assert_close(mixed, torch.tensor([[0.0, 0.475, 0.175, 0.175, 0.175, 0.0]]))
    assert explore(policy, content, 0.25, 0.0) is policy
    torch.testing.assert_close(uniform_probabilities(content, 0.25)[0, 1:5], torch.full((4,), 0.25))


def test_standardize_gives_zero_mean_unit_variance_and_leaves_constants_centred():
    values = torch.tensor([1.0, 2.0, 3.0, 6.0])
    out = standardize(values)
    torch.testing.assert_close(out, (values - 3.0) / values.std())
    torch.testing.assert_close(standardize(torch.full((3,), 4.0)), torch.zeros(3))


@pytest.mark.parametrize(
    "options, columns",
    [
        (AFAOptions(), set()),
        (AFAOptions(reward="discriminator"), {"disc_acc"}),
        (AFAOptions(reward="handover", skill_scaling=True), {"disc_acc", "afa_lambda"}),
        (AFAOptions(policy="direct", reward="kl", exploration=0.2), set()),
    ],
    ids=["default", "discriminator", "handover+skill", "direct+explore"],
)
def test_every_afa_fit_logs_the_diagnostics(fast_params, toy_data, options, columns):
    X, y = toy_data
    clf = AFASentimentClassifier(**{**fast_params, "afa": options}).fit(X, y)
    row = clf.history_[-1]
    expected = {"afa_reward", "pg_loss", "reward_std", "mask_flip", "mask_dp", "reward_dp_corr"} | columns
    assert expected <= set(row)
    assert 0 <= row["mask_flip"] <= 1 and 0 <= row["mask_dp"] <= 1 and -1 <= row["reward_dp_corr"] <= 1
    assert ("disc_acc" in row) == ("disc_acc" in columns)


def test_the_kl_reward_tracks_the_prediction_change(fast_params, toy_data):
    """With the fixed reward, a mask that moves the prediction more earns less: strong negative correlation."""
    X, y = toy_data
    clf = AFASentimentClassifier(**{**fast_params, "epochs": 2, "lr": 3e-3, "afa": AFAOptions(reward="kl")}).fit(X, y)
    corr = np.array(clf.history_[:, "reward_dp_corr"])
    assert corr[-1] < -0.5
