"""Pure-torch building blocks of Adversarial Feedback for Attention (AFA).

Nothing here knows about skorch or scikit-learn, so each piece can be tested and reused alone.
"""

from .discriminator import (
    Discriminator,
    discriminator_features,
    discriminator_inputs,
    discriminator_loss,
    feature_size,
)
from .policy import apply_masks, explore, mask_log_prob, masking_probabilities, sample_masks, uniform_probabilities
from .reward import advantages, discriminator_reward, kl_reward, policy_gradient_loss, standardize

__all__ = [
    "Discriminator",
    "advantages",
    "apply_masks",
    "discriminator_features",
    "discriminator_inputs",
    "discriminator_loss",
    "discriminator_reward",
    "explore",
    "feature_size",
    "kl_reward",
    "mask_log_prob",
    "masking_probabilities",
    "policy_gradient_loss",
    "sample_masks",
    "standardize",
    "uniform_probabilities",
]
