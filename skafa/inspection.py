"""Where a fitted classifier looks: attention per token, merged back into the words of each text."""

from collections import Counter
from itertools import repeat

import numpy as np
import torch

from .text import EncodedTexts, TextDataset


def merge_word_pieces(text, offsets, word_ids, weights):
    """Sum token weights per word and return ``[(word, weight), ...]`` in text order.

    A word is the span of the text covered by the tokens that share a word index; special
    tokens (no word index) are left out.
    """
    spans = {}
    for (start, end), word, weight in zip(offsets, word_ids, weights):
        if word is None:
            continue
        span = spans.setdefault(word, [start, end, 0.0])
        span[0], span[1] = min(span[0], start), max(span[1], end)
        span[2] += float(weight)
    return [(text[start:end], weight) for start, end, weight in (spans[w] for w in sorted(spans))]


def count_words(texts, encoded):
    """Occurrences of each lower-cased word in ``texts``, split into words as
    :func:`attention_by_text` splits them (``encoded`` must carry offsets).

    Returns
    -------
    collections.Counter
        Word -> count, over the words that survive truncation.
    """
    counts = Counter()
    for text, offsets, word_ids in zip(texts, encoded.offsets, encoded.word_ids):
        counts.update(word.lower() for word, _ in merge_word_pieces(text, offsets, word_ids, repeat(0.0)))
    return counts


def logits_of(clf, encoded):
    """Logits of the fitted classifier for already encoded token sequences, in input order.

    Sequences run longest-first, so each batch is padded to similar lengths.

    Returns
    -------
    ndarray of shape (n_sequences, n_classes)
    """
    order = np.argsort(-encoded.lengths, kind="stable")
    with torch.inference_mode():
        logits = clf.net_.forward(TextDataset(encoded).take(order), training=False, device="cpu").float().numpy()
    result = np.empty_like(logits)
    result[order] = logits
    return result


def attention_by_text(clf, texts):
    """Run the classifier with attention capture on ``texts`` (already validated).

    Returns
    -------
    logits : ndarray of shape (n_texts, n_classes)
    words : list of list of (str, float)
        Per text, each word and the share of the pooling position's attention it receives
        (shares sum to 1 over the words that survived truncation).
    """
    encoded = EncodedTexts(clf.tokenizer_, texts, clf.max_length, with_offsets=True)
    order = np.argsort(-encoded.lengths, kind="stable")
    dataset = TextDataset(encoded).take(order)
    net = clf.net_
    module = net.module_
    module.eval()
    logits = np.empty((len(texts), len(clf.classes_)), dtype=np.float32)
    words = [None] * len(texts)
    position = 0
    with torch.inference_mode():
        for X, _ in net.get_iterator(dataset, training=False):
            X = {k: v.to(net.device) for k, v in X.items()}
            out = module(X["input_ids"], X["attention_mask"], X["content_mask"], return_details=True)
            attention = out.attention.float().cpu().numpy()
            for row in range(len(attention)):
                i = order[position]
                logits[i] = out.logits[row].float().cpu().numpy()
                n_tokens = len(encoded.input_ids[i])
                words[i] = merge_word_pieces(
                    texts[i], encoded.offsets[i], encoded.word_ids[i], attention[row, :n_tokens]
                )
                position += 1
    return logits, words
