"""Texts through a fitted classifier's net: encoding, batches in length order, results back per text.

Both prediction (:meth:`AFASentimentClassifier.predict_proba` and friends) and attention
inspection (:func:`skafa.inspection.attention_by_text`) run here, so the sorting, batching and
scattering back to input order exist once.
"""

import numpy as np
import torch

from .text import EncodedTexts, TextDataset, row_template
from .threads import torch_threads


def encode(clf, texts, *, with_offsets=False, windows=True):
    """Model rows for ``texts`` with ``clf``'s tokenizer and length settings.

    A text longer than ``max_length`` is truncated, or, with ``long_text="window"`` and
    ``windows=True``, cut into overlapping windows (one row each). Training always uses one
    truncated row per text (``windows=False``).
    """
    stride = None
    pool_token_id = pool_token(clf)
    if windows and clf.long_text == "window":
        prefix, suffix = row_template(clf.tokenizer_, pool_token_id)
        stride = clf.window_stride or max(1, (clf.max_length - len(prefix) - len(suffix)) // 2)
    return EncodedTexts(
        clf.tokenizer_,
        texts,
        clf.max_length,
        truncation=clf.truncation,
        window_stride=stride,
        with_offsets=with_offsets,
        pool_token_id=pool_token_id,
    )


def pool_token(clf):
    """The token that closes a decoder's rows (its end-of-text), None for encoders.

    ``decoder_`` is absent from classifiers fitted before decoders pooled at a special token;
    they keep encoding as they were trained.
    """
    return clf.tokenizer_.eos_token_id if getattr(clf, "decoder_", False) else None


def run_rows(net, encoded, *, attention=False, n_threads=None):
    """Logits (and attention rows) of every row of ``encoded``, in row order.

    Rows run longest first so that each batch pads little; results are scattered back to the
    order of ``encoded``.

    Returns
    -------
    logits : ndarray of shape (n_rows, n_classes), float32
    attention : list of ndarray or None
        With ``attention=True``, per row the pooling position's attention over the row's tokens
        (0 on special tokens).
    """
    order = np.argsort(-encoded.lengths, kind="stable")
    logits, rows_attention = [], []
    net.module_.eval()
    with torch.inference_mode(), net.autocast(), torch_threads(n_threads):
        for X, _ in net.get_iterator(TextDataset(encoded.take(order)), training=False):
            X = {k: v.to(net.device) for k, v in X.items()}
            if attention:
                out = net.module_(X["input_ids"], X["attention_mask"], X["content_mask"], return_details=True)
                rows_attention.extend(out.attention.float().cpu().numpy())
                logits.append(out.logits.float().cpu())
            else:
                logits.append(net.module_(X["input_ids"], X["attention_mask"]).float().cpu())
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    logits = torch.cat(logits).numpy()[back]
    if not attention:
        return logits, None
    lengths = encoded.lengths
    return logits, [rows_attention[back[i]][: lengths[i]] for i in range(len(back))]


def text_logits(clf, texts):
    """Logits of ``texts`` in input order; a text cut into windows gets the mean of its windows'."""
    encoded = encode(clf, texts)
    logits, _ = run_rows(clf.net_, encoded, n_threads=clf.n_threads)
    return mean_per_text(logits, encoded.owner, len(texts))


def mean_per_text(row_values, owner, n_texts):
    """Average the rows that belong to each text (``owner[row]`` is the row's text)."""
    summed = np.zeros((n_texts, row_values.shape[1]), dtype=np.float64)
    np.add.at(summed, owner, row_values)
    return (summed / np.bincount(owner, minlength=n_texts)[:, None]).astype(np.float32)
