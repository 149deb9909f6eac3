"""Attention capture: the pooling position's attention row in one layer, without eager attention.

The backbone runs with a registered attention function, ``"skafa_sdpa"``, that forwards every
call to PyTorch's fused scaled-dot-product kernel. While a :class:`capture_attention` context is
open it also keeps a reference to the query and key tensors of the one layer we want; the
attention row is then recomputed from them for a single query position. Nothing else is
materialised, so training with capture costs one ``(batch, heads, seq)`` product on top of the
fast kernel, and inference costs nothing.
"""

from contextlib import contextmanager

import torch
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

ATTN_IMPLEMENTATION = "skafa_sdpa"

# id(attention module) -> list receiving (module, query, key, scaling); filled only inside capture.
_ACTIVE = {}
# When not None, every attention module that runs appends itself here (layer discovery).
_RECORDER = []


def _capturing_sdpa(module, query, key, value, attention_mask, **kwargs):
    sink = _ACTIVE.get(id(module))
    if sink is not None:
        sink.append((query, key, kwargs.get("scaling")))
    for recorder in _RECORDER:
        recorder.append(module)
    return ALL_ATTENTION_FUNCTIONS["sdpa"](module, query, key, value, attention_mask, **kwargs)


AttentionInterface.register(ATTN_IMPLEMENTATION, _capturing_sdpa)
AttentionMaskInterface.register(ATTN_IMPLEMENTATION, sdpa_mask)


@contextmanager
def record_attention_modules():
    """Collect, in call order, every attention module that runs inside the block."""
    calls = []
    _RECORDER.append(calls)
    try:
        yield calls
    finally:
        _RECORDER.remove(calls)


@contextmanager
def capture_attention(module):
    """Keep the query/key tensors that ``module`` sees inside the block (a list of tuples)."""
    sink = []
    _ACTIVE[id(module)] = sink
    try:
        yield sink
    finally:
        _ACTIVE.pop(id(module), None)


def attention_row(query, key, scaling, pool_index, attention_mask, content_mask):
    """Head-averaged attention of the pooling position over content tokens.

    Parameters
    ----------
    query : Tensor of shape (batch, heads, seq, head_dim)
    key : Tensor of shape (batch, kv_heads, seq, head_dim)
        Grouped-query keys are repeated to the number of query heads.
    scaling : float or None
        Score scale; ``head_dim ** -0.5`` when None.
    pool_index : LongTensor of shape (batch,)
        The query position whose attention row is wanted.
    attention_mask : Tensor of shape (batch, seq)
        1 for keys the model may attend to.
    content_mask : bool Tensor of shape (batch, seq)

    Returns
    -------
    Tensor of shape (batch, seq)
        Attention restricted to content positions and renormalised to sum to 1 (zero rows stay
        zero); differentiable in ``query`` and ``key``.
    """
    batch, heads, _, head_dim = query.shape
    if key.shape[1] != heads:
        key = key.repeat_interleave(heads // key.shape[1], dim=1)
    scaling = head_dim**-0.5 if scaling is None else scaling
    q_row = query[torch.arange(batch, device=query.device), :, pool_index]
    scores = torch.einsum("bhd,bhsd->bhs", q_row.float(), key.float()) * scaling
    allowed = attention_mask.bool()[:, None, :]
    scores = scores.masked_fill(~allowed, float("-inf"))
    return content_share(torch.softmax(scores, dim=-1).mean(dim=1), content_mask)


def content_share(probs, content_mask):
    """An attention row ``(batch, seq)`` restricted to content positions and renormalised to sum to 1."""
    probs = probs * content_mask.to(probs.dtype)
    return probs / probs.sum(dim=1, keepdim=True).clamp(min=1e-12)
