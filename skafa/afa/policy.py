"""The masking policy: which content tokens to hide, drawn from the classifier's own attention.

All functions work on padded batches: ``attention`` and ``content_mask`` are ``(batch, seq)``
tensors, and positions outside ``content_mask`` (special tokens, padding) are never masked and
never contribute to the log-probability.
"""

import torch

EPS = 1e-6


def masking_probabilities(attention, content_mask, mask_ratio=0.15, temperature=1.0, eps=EPS, direct=False):
    """Per-token masking probabilities ``p_i`` from attention ``alpha_i``.

    ``q = softmax_C(-log(alpha + eps) / temperature)`` puts most mass on the tokens the model
    ignores (with ``direct=True``, ``+log``: on the tokens it attends to);
    ``p = clip(k * q, eps, 1 - eps)`` with ``k = max(1, round(mask_ratio * n))`` makes the
    expected number of masked tokens about ``k``.

    Parameters
    ----------
    attention : Tensor of shape (batch, seq)
        Attention over positions; only content positions are read.
    content_mask : bool Tensor of shape (batch, seq)
        True at content positions.
    mask_ratio : float
        Target fraction of content tokens to mask.
    temperature : float
        Softmax temperature; large values flatten the policy towards uniform.
    eps : float
        Floor for attention and clip margin for probabilities.
    direct : bool
        Mask in proportion to attention instead of its complement.

    Returns
    -------
    Tensor of shape (batch, seq)
        Probabilities, zero outside content positions; differentiable in ``attention``.
    """
    content_mask = content_mask.bool()
    n = content_mask.sum(dim=1, keepdim=True)
    k = torch.clamp(torch.round(mask_ratio * n.float()), min=1.0)
    logits = (1 if direct else -1) * torch.log(attention.clamp(min=0) + eps) / temperature
    logits = logits.masked_fill(~content_mask, float("-inf"))
    q = torch.softmax(logits, dim=1)
    # Rows without content would be all -inf: softmax gives NaN there; they get p = 0.
    q = torch.nan_to_num(q, nan=0.0)
    p = torch.clamp(k * q, eps, 1 - eps)
    return p.masked_fill(~content_mask, 0.0)


def uniform_probabilities(content_mask, mask_ratio=0.15, eps=EPS):
    """Masking probabilities ``k / n`` on every content token (the random-mask ablation)."""
    content_mask = content_mask.bool()
    n = content_mask.sum(dim=1, keepdim=True).clamp(min=1)
    k = torch.clamp(torch.round(mask_ratio * n.float()), min=1.0)
    p = torch.clamp(k / n, eps, 1 - eps).expand_as(content_mask).to(torch.float32)
    return p.masked_fill(~content_mask, 0.0)


def explore(probabilities, content_mask, mask_ratio, exploration):
    """Mix the policy's probabilities with uniform masking at the same rate: ``(1 - e) p + e u``.

    The mixture is the distribution masks are drawn from (so its log-probability is the one to
    use); gradient reaches the attention through the policy's share only.
    """
    if not exploration:
        return probabilities
    return (1 - exploration) * probabilities + exploration * uniform_probabilities(content_mask, mask_ratio)


def sample_masks(probabilities, content_mask, n_samples, generator=None):
    """Draw ``n_samples`` independent Bernoulli masks per text.

    Returns
    -------
    bool Tensor of shape (batch, n_samples, seq)
        True where a token is masked; always False outside content positions.
    """
    p = probabilities.detach().unsqueeze(1).expand(-1, n_samples, -1)
    draws = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return (draws < p) & content_mask.bool().unsqueeze(1)


def mask_log_prob(masks, probabilities, content_mask):
    """Per-token mean log-probability ``log pi(m | x)`` of each mask.

    The mean over the ``n`` content tokens, rather than the sum, keeps the policy-gradient term
    on the scale of the cross-entropy whatever the text length.

    Parameters
    ----------
    masks : bool Tensor of shape (batch, n_samples, seq)
    probabilities : Tensor of shape (batch, seq)
    content_mask : bool Tensor of shape (batch, seq)

    Returns
    -------
    Tensor of shape (batch, n_samples)
    """
    content = content_mask.bool().unsqueeze(1)
    p = probabilities.unsqueeze(1)
    m = masks.to(p.dtype)
    # Positions outside the content have p = 0; where() keeps log(0) out of the graph.
    safe_p = torch.where(content, p, torch.full_like(p, 0.5))
    per_token = m * torch.log(safe_p) + (1 - m) * torch.log1p(-safe_p)
    per_token = per_token * content
    n = content.sum(dim=2).clamp(min=1)
    return per_token.sum(dim=2) / n


def apply_masks(input_ids, attention_mask, masks, mask_token_id=None):
    """Build the masked inputs for every sampled mask, flattened to ``batch * n_samples`` rows.

    With a ``mask_token_id`` masked positions are replaced by that token ("token" mode);
    without one they are removed from the attention mask instead ("drop" mode).

    Returns
    -------
    (input_ids, attention_mask) : tuple of Tensor of shape (batch * n_samples, seq)
    """
    batch, n_samples, seq = masks.shape
    flat_masks = masks.reshape(batch * n_samples, seq)
    ids = input_ids.repeat_interleave(n_samples, dim=0)
    att = attention_mask.repeat_interleave(n_samples, dim=0)
    if mask_token_id is not None:
        ids = ids.masked_fill(flat_masks, mask_token_id)
    else:
        att = att.masked_fill(flat_masks, 0)
    return ids, att
