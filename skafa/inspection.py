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


def count_words(tokenizer, texts):
    """Occurrences of each lower-cased word in ``texts``, words split as :func:`attention_by_text` splits them.

    Returns
    -------
    collections.Counter
        Word -> count over the whole texts (no truncation).
    """
    encoded = tokenizer(
        list(texts), add_special_tokens=False, return_offsets_mapping=True, return_attention_mask=False, verbose=False
    )
    counts = Counter()
    for i, text in enumerate(texts):
        words = merge_word_pieces(text, encoded["offset_mapping"][i], encoded.word_ids(i), repeat(0.0))
        counts.update(word.lower() for word, _ in words)
    return counts


def word_spans(text, words):
    """Character span ``(start, end)`` in ``text`` of each word of ``words``, a list of ``(word, weight)``.

    The words are slices of the text in text order (as :func:`merge_word_pieces` cuts them) and
    the text between two words holds no part of any word, so searching each word from the end of
    the previous one finds its slice.
    """
    spans, position = [], 0
    for word, _ in words:
        start = text.find(word, position)
        spans.append((start, start + len(word)))
        position = start + len(word)
    return spans
