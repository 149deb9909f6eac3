"""Where a fitted classifier looks: attention per token, merged back into the words of each text."""

from collections import Counter
from itertools import repeat

import numpy as np

from .inference import encode, mean_per_text, run_rows


def merge_word_pieces(text, offsets, word_ids, weights):
    """Sum token weights per word and return ``[(word, weight), ...]`` in text order.

    A word is the span of the text covered by the tokens that share a word index; tokens with
    NaN weight (cut off by truncation) leave their word out.
    """
    spans = {}
    for (start, end), word, weight in zip(offsets, word_ids, weights):
        if word is None or np.isnan(weight):
            continue
        span = spans.setdefault(word, [start, end, 0.0])
        span[0], span[1] = min(span[0], start), max(span[1], end)
        span[2] += float(weight)
    # strip: SentencePiece tokens carry the space before their word in their offsets.
    return [(text[start:end].strip(), weight) for start, end, weight in (spans[w] for w in sorted(spans))]


def attention_by_text(clf, texts):
    """Run the classifier with attention capture on ``texts`` (already validated).

    Rows of a text (one, or several windows with ``long_text="window"``) are combined: logits by
    their mean, attention by averaging each token's weight over the windows that hold it and
    renormalising over the text.

    Returns
    -------
    logits : ndarray of shape (n_texts, n_classes)
    words : list of list of (str, float)
        Per text, each word and the share of the pooling position's attention it receives
        (shares sum to 1 over the words the model saw).
    """
    encoded = encode(clf, texts, with_offsets=True)
    row_logits, row_attention = run_rows(clf.net_, encoded, attention=True, n_threads=clf.n_threads)
    weight_sum = [np.zeros(len(offsets)) for offsets in encoded.offsets]
    weight_count = [np.zeros(len(offsets)) for offsets in encoded.offsets]
    for text, positions, attention in zip(encoded.owner, encoded.positions, row_attention):
        held = positions >= 0
        weight_sum[text][positions[held]] += attention[held]
        weight_count[text][positions[held]] += 1
    words = []
    for i, text in enumerate(texts):
        with np.errstate(invalid="ignore", divide="ignore"):
            weights = weight_sum[i] / weight_count[i]
        total = np.nansum(weights)
        if total > 0:
            weights = weights / total
        words.append(merge_word_pieces(text, encoded.offsets[i], encoded.word_ids[i], weights))
    return mean_per_text(row_logits, encoded.owner, encoded.n_texts), words


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
