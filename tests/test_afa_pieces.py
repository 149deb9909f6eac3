"""The AFA building blocks, tested on their own with plain torch tensors."""

import itertools
import math

import pytest
import torch

from skafa.afa import (
    Discriminator,
    advantages,
    apply_masks,
    discriminator_features,
    discriminator_loss,
    discriminator_reward,
    kl_reward,
    mask_log_prob,
    masking_probabilities,
    policy_gradient_loss,
    sample_masks,
    uniform_probabilities,
)

# One text: [CLS] w1 w2 w3 w4 [SEP] [PAD]
CONTENT = torch.tensor([[False, True, True, True, True, False, False]])
ATTENTION = torch.tensor([[0.0, 0.5, 0.3, 0.15, 0.05, 0.0, 0.0]])


def test_probabilities_favour_ignored_tokens_and_skip_non_content():
    p = masking_probabilities(ATTENTION, CONTENT, mask_ratio=0.5)
    assert torch.all(p[~CONTENT] == 0)
    content_p = p[CONTENT]
    # Less attention, higher masking probability.
    assert torch.all(content_p[1:] > content_p[:-1])
    assert torch.all((content_p > 0) & (content_p < 1))


def test_expected_number_of_masked_tokens_is_k_when_nothing_clips():
    attention = torch.tensor([[0.0, 0.25, 0.25, 0.25, 0.25, 0.0, 0.0]])
    p = masking_probabilities(attention, CONTENT, mask_ratio=0.5)
    assert p.sum().item() == pytest.approx(2.0, abs=1e-4)  # k = round(0.5 * 4)


def test_high_temperature_tends_to_uniform():
    p = masking_probabilities(ATTENTION, CONTENT, mask_ratio=0.5, temperature=1e4)
    assert torch.allclose(p[CONTENT], torch.full((4,), 0.5), atol=1e-3)


def test_log_prob_is_exact_over_all_masks():
    p = masking_probabilities(ATTENTION, CONTENT, mask_ratio=0.5)
    n = int(CONTENT.sum())
    masks = []
    for bits in itertools.product([False, True], repeat=n):
        m = torch.zeros_like(CONTENT)
        m[CONTENT] = torch.tensor(bits)
        masks.append(m[0])
    masks = torch.stack(masks).unsqueeze(0)  # (1, 2^n, seq)
    log_prob = mask_log_prob(masks, p, CONTENT)
    # log_prob is the per-token mean, so the mask probability is exp(n * log_prob).
    total = torch.exp(n * log_prob).sum()
    assert total.item() == pytest.approx(1.0, abs=1e-5)


def test_sampled_frequencies_match_probabilities():
    p = masking_probabilities(ATTENTION, CONTENT, mask_ratio=0.5)
    generator = torch.Generator().manual_seed(0)
    masks = sample_masks(p, CONTENT, n_samples=20000, generator=generator)
    assert not masks[0][:, ~CONTENT[0]].any()
    freq = masks[0].float().mean(dim=0)
    assert torch.allclose(freq[CONTENT[0]], p[0][CONTENT[0]], atol=0.015)


def test_negative_advantage_on_hiding_a_token_raises_its_attention():
    logits = torch.zeros(1, 7, requires_grad=True)
    optimizer = torch.optim.SGD([logits], lr=1.0)
    token = 2

    def attention():
        return torch.softmax(logits.masked_fill(~CONTENT, float("-inf")), dim=1)

    before = attention()[0, token].item()
    mask = torch.zeros(1, 1, 7, dtype=torch.bool)
    mask[0, 0, token] = True  # a mask that hides exactly this token ...
    p = masking_probabilities(attention(), CONTENT, mask_ratio=0.25)
    loss = policy_gradient_loss(torch.tensor([[-1.0]]), mask_log_prob(mask, p, CONTENT))  # ... was detected
    loss.backward()
    optimizer.step()
    assert attention()[0, token].item() > before


def test_uniform_probabilities_are_k_over_n_on_content():
    p = uniform_probabilities(CONTENT, mask_ratio=0.5)
    assert torch.allclose(p[CONTENT], torch.full((4,), 0.5))
    assert torch.all(p[~CONTENT] == 0)


def test_apply_masks_token_and_drop_modes():
    ids = torch.tensor([[101, 5, 6, 7, 8, 102, 0]])
    att = torch.tensor([[1, 1, 1, 1, 1, 1, 0]])
    masks = torch.zeros(1, 2, 7, dtype=torch.bool)
    masks[0, 0, 1] = True
    masks[0, 1, 3] = True
    new_ids, new_att = apply_masks(ids, att, masks, mask_token_id=103)
    assert new_ids.tolist() == [[101, 103, 6, 7, 8, 102, 0], [101, 5, 6, 103, 8, 102, 0]]
    assert torch.equal(new_att, att.repeat(2, 1))
    new_ids, new_att = apply_masks(ids, att, masks, mask_token_id=None)
    assert torch.equal(new_ids, ids.repeat(2, 1))
    assert new_att.tolist() == [[1, 0, 1, 1, 1, 1, 0], [1, 1, 1, 0, 1, 1, 0]]


def test_leave_one_out_advantage_by_hand():
    """With K >= 2 masks per text, a mask's advantage is its reward minus the mean reward of the
    other masks of the same text; normalised, it is then divided by the batch's sample
    standard deviation."""
    rewards = torch.tensor([[1.0, 0.0, 0.5], [0.2, 0.2, 0.2]])
    # Text 1: 1 - (0 + 0.5) / 2 = 0.75, 0 - (1 + 0.5) / 2 = -0.75, 0.5 - (1 + 0) / 2 = 0. Text 2: 0.
    centred = torch.tensor([[0.75, -0.75, 0.0], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(advantages(rewards, normalize=False), centred)
    # Mean 0; sample standard deviation sqrt(2 * 0.75**2 / 5) = sqrt(0.225); 0.75 / sqrt(0.225) = sqrt(2.5).
    s = math.sqrt(2.5)
    torch.testing.assert_close(advantages(rewards), torch.tensor([[s, -s, 0.0], [0.0, 0.0, 0.0]]))


def test_single_sample_advantage_uses_baseline_and_constant_rewards_give_zero():
    """With one mask per text the advantage is the reward minus the running baseline, centred
    over the batch."""
    rewards = torch.tensor([[0.9], [0.1], [0.5]])
    # Minus the baseline 0.3: 0.6, -0.2, 0.2; their mean 0.2 is then removed.
    torch.testing.assert_close(advantages(rewards, baseline=0.3, normalize=False), torch.tensor([[0.4], [-0.4], [0.0]]))
    # Sample standard deviation of (0.4, -0.4, 0) is 0.4.
    torch.testing.assert_close(advantages(rewards, baseline=0.3), torch.tensor([[1.0], [-1.0], [0.0]]))
    assert torch.all(advantages(torch.full((4, 2), 0.3)) == 0)


def test_discriminator_reward_is_the_probability_that_the_copy_is_original():
    """``r = 1 - sigmoid(D logit of "masked")``: 0.5 when D cannot tell, towards 0 when D is sure
    the copy is masked, towards 1 when D takes it for an original (the mask fooled it)."""
    logits = torch.tensor([0.0, math.log(3), -math.log(3), 30.0, -30.0])
    # sigmoid(log 3) = 3 / (1 + 3) = 0.75.
    expected = torch.tensor([0.5, 0.25, 0.75, 0.0, 1.0])
    torch.testing.assert_close(discriminator_reward(logits), expected, atol=1e-6, rtol=0)


def test_kl_reward_is_zero_for_unchanged_predictions_and_negative_otherwise():
    p = torch.tensor([[0.9, 0.1]])
    masked = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    r = kl_reward(p, masked)
    assert r[0].item() == pytest.approx(0.0, abs=1e-6)
    # KL(p || p~) = 0.9 log(0.9 / 0.2) + 0.1 log(0.1 / 0.8) = 1.1458 (the other direction is 1.3628).
    assert r[1].item() == pytest.approx(-1.1458, abs=1e-4)


def test_discriminator_learns_to_separate_original_from_masked_features():
    torch.manual_seed(0)
    # Originals are confident predictions; masked inputs are pulled towards 0.5.
    sharp = torch.rand(512, 1) * 0.1
    proba_orig = torch.cat([sharp, 1 - sharp], dim=1)
    flat = 0.3 + torch.rand(512, 1) * 0.2
    proba_masked = torch.cat([flat, 1 - flat], dim=1)
    pooled = torch.randn(512, 8)
    u_orig = discriminator_features(proba_orig, pooled, "proba")
    u_masked = discriminator_features(proba_masked, pooled, "proba")
    disc = Discriminator(2, hidden=16)
    optimizer = torch.optim.Adam(disc.parameters(), lr=1e-2)
    for _ in range(200):
        optimizer.zero_grad()
        loss, accuracy = discriminator_loss(disc(u_orig), disc(u_masked))
        loss.backward()
        optimizer.step()
    disc.eval()
    _, accuracy = discriminator_loss(disc(u_orig), disc(u_masked))
    assert accuracy > 0.95
    # Fooling D is rewarded: the rewards of originals exceed those of masked inputs.
    assert discriminator_reward(disc(u_orig)).mean() > discriminator_reward(disc(u_masked)).mean() + 0.5


def test_discriminator_features_are_detached_and_sized():
    proba = torch.rand(3, 2, requires_grad=True)
    pooled = torch.rand(3, 5, requires_grad=True)
    for kind, size in [("proba", 2), ("hidden", 5), ("both", 7)]:
        u = discriminator_features(proba, pooled, kind)
        assert u.shape == (3, size) and not u.requires_grad
    with pytest.raises(ValueError, match="discriminator_features"):
        discriminator_features(proba, pooled, "logits")
