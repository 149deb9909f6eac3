"""The discriminator: tells the classifier's response to an original input from a masked one."""

import torch
from torch import nn


class Discriminator(nn.Module):
    """A small MLP that outputs the logit of ``P(input was masked)``.

    Parameters
    ----------
    in_features : int
        Size of the feature vector ``u(x)``.
    hidden : int
        Units in the hidden layer.
    dropout : float
        Dropout after the hidden layer.
    """

    def __init__(self, in_features, hidden=128, dropout=0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, features):
        return self.net(features).squeeze(-1)


def discriminator_features(proba, pooled, kind):
    """The feature vector ``u(x)`` the discriminator reads, detached from the classifier.

    Parameters
    ----------
    proba : Tensor of shape (batch, n_classes)
    pooled : Tensor of shape (batch, hidden)
    kind : {"proba", "hidden", "both"}
    """
    if kind == "proba":
        features = proba
    elif kind == "hidden":
        features = pooled
    elif kind == "both":
        features = torch.cat([proba, pooled], dim=-1)
    else:
        raise ValueError(f"discriminator_features must be 'proba', 'hidden' or 'both'; got {kind!r}")
    return features.detach().float()


def feature_size(kind, n_classes, hidden_size, pair=False):
    """Input size of the discriminator for feature ``kind`` (doubled for paired inputs)."""
    size = {"proba": n_classes, "hidden": hidden_size, "both": n_classes + hidden_size}[kind]
    return 2 * size if pair else size


def discriminator_inputs(u_original, u_masked, pair=False):
    """The discriminator's negative (target 0) and positive (target 1) inputs.

    Single mode: originals are negatives and masked copies positives; D judges one response
    alone. Paired mode: D reads an original's response next to one of its masked copies and says
    whether the second of the two is the masked one, so it judges the difference the mask made.

    Parameters
    ----------
    u_original : Tensor of shape (batch, d)
    u_masked : Tensor of shape (batch * K, d)
        Masked copies grouped by text.
    pair : bool

    Returns
    -------
    negatives, positives : Tensor
        ``1 - sigmoid(D(positives))`` is the reward of each masked copy.
    """
    if not pair:
        return u_original, u_masked
    repeated = u_original.repeat_interleave(u_masked.shape[0] // u_original.shape[0], dim=0)
    return torch.cat([u_masked, repeated], dim=1), torch.cat([repeated, u_masked], dim=1)


def discriminator_loss(logits_original, logits_masked):
    """Binary cross-entropy with target 0 for originals and 1 for masked inputs.

    The two sides are averaged separately and then together, so the K masked copies per text do
    not outweigh the single original and D cannot win by always answering "masked".

    Returns
    -------
    loss : Tensor (scalar)
    accuracy : float
        Balanced accuracy of D on this batch at threshold 0.5.
    """
    bce = nn.functional.binary_cross_entropy_with_logits
    loss_orig = bce(logits_original, torch.zeros_like(logits_original))
    loss_masked = bce(logits_masked, torch.ones_like(logits_masked))
    with torch.no_grad():
        accuracy = 0.5 * ((logits_original < 0).float().mean() + (logits_masked > 0).float().mean())
    return 0.5 * (loss_orig + loss_masked), float(accuracy)
