"""Rewards, advantages and the policy-gradient loss that feed the discriminator's verdict back."""

import torch


def discriminator_reward(masked_logits):
    """``r = 1 - D(u(x~))``: high when the mask fooled the discriminator."""
    return 1.0 - torch.sigmoid(masked_logits)


def kl_reward(proba_original, proba_masked, eps=1e-8):
    """The fixed reward ``-KL(p(x) || p(x~))`` (no discriminator), one value per masked input.

    Parameters
    ----------
    proba_original : Tensor of shape (batch, n_classes)
    proba_masked : Tensor of shape (batch * n_samples, n_classes)
        Masked copies grouped by text, as produced by :func:`skafa.afa.policy.apply_masks`.
    """
    n_samples = proba_masked.shape[0] // proba_original.shape[0]
    p = proba_original.repeat_interleave(n_samples, dim=0)
    kl = (p * (torch.log(p + eps) - torch.log(proba_masked + eps))).sum(dim=-1)
    return -kl


def standardize(values, eps=1e-6):
    """``values`` centred and scaled to unit variance over all elements (only centred when constant)."""
    centred = values - values.mean()
    std = centred.std() if centred.numel() > 1 else centred.new_tensor(0.0)
    return centred / std if std > eps else centred


def advantages(rewards, baseline=None, normalize=True):
    """Advantage of each sampled mask, normalised over the batch.

    With ``K >= 2`` masks per text the baseline of mask ``k`` is the mean reward of the other
    masks of the same text (leave-one-out). With ``K = 1`` the caller's running ``baseline``
    (a float) is used.

    Parameters
    ----------
    rewards : Tensor of shape (batch, K)
    baseline : float or None
        Needed only when ``K == 1``.
    normalize : bool
        Divide by the batch standard deviation; False only centres, so advantages keep the
        reward's scale and vanish when the rewards carry no signal.

    Returns
    -------
    Tensor of shape (batch, K)
        Zero-mean, unit-variance advantages; only centred when their spread is ~0.
    """
    rewards = rewards.detach()
    k = rewards.shape[1]
    if k >= 2:
        others = (rewards.sum(dim=1, keepdim=True) - rewards) / (k - 1)
        adv = rewards - others
    else:
        adv = rewards - (0.0 if baseline is None else baseline)
    return standardize(adv) if normalize else adv - adv.mean()


def policy_gradient_loss(advantage, log_prob):
    """``L_PG = -mean(A * log pi(m | x))`` with ``A`` held constant."""
    return -(advantage.detach() * log_prob).mean()
