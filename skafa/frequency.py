"""Word frequency from the training texts, and where attention falls by frequency rank."""

from collections import Counter

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .inspection import attention_by_text
from .validation import check_texts


def frequency_ranks(word_counts):
    """Rank of each word, 1 for the most frequent; ties keep the order in which words were first counted.

    Parameters
    ----------
    word_counts : dict of str to int
        Lower-cased word -> count, as in ``AFASentimentClassifier.word_counts_``.

    Returns
    -------
    dict of str to int
    """
    return {word: rank for rank, (word, _) in enumerate(Counter(word_counts).most_common(), start=1)}


def bucket_labels(edges):
    """Names of the rank buckets that ``edges`` delimit, plus ``"unseen"``."""
    bounds = [0, *edges]
    labels = [f"top {edges[0]}"] + [f"{lo + 1}-{hi}" for lo, hi in zip(bounds[1:-1], bounds[2:])]
    return [*labels, f"{edges[-1] + 1}+", "unseen"]


def _check_edges(edges):
    edges = list(edges)
    valid = edges and all(isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in edges)
    if not valid or edges[0] < 1 or any(a >= b for a, b in zip(edges, edges[1:])):
        raise ValueError(f"edges must be strictly increasing positive integers; got {edges!r}.")
    return edges


def attention_by_frequency(clf, X, edges=(10, 100, 1000), word_counts=None):
    """Mean share of attention on words of each training-frequency rank bucket.

    Words are ranked by how often they occur in the classifier's training texts (rank 1 = most
    frequent); ``edges`` cut the ranks into buckets ``1..edges[0]``, ``edges[0]+1..edges[1]``,
    ..., ``> edges[-1]``, plus the words never seen in training. ``word_share`` is the share of
    the words themselves in each bucket: what attention spread evenly over the words would give.

    Parameters
    ----------
    clf : AFASentimentClassifier
        A fitted classifier.
    X : sequence of str
        Texts.
    edges : sequence of int, default=(10, 100, 1000)
        Upper rank of each bucket but the last, strictly increasing.
    word_counts : dict of str to int, optional
        Lower-cased word counts to rank by instead of ``clf.word_counts_`` (to put several
        classifiers on the same buckets).

    Returns
    -------
    pandas.DataFrame
        One row per bucket (index ``frequency rank``), columns ``attention_share`` and
        ``word_share``; each column sums to 1 (mean over texts).
    """
    check_is_fitted(clf)
    edges = _check_edges(edges)
    texts = check_texts(X)
    ranks = frequency_ranks(clf.word_counts_ if word_counts is None else word_counts)
    labels = bucket_labels(edges)
    attention, words_share = np.zeros(len(labels)), np.zeros(len(labels))
    unseen = len(labels) - 1
    for words in attention_by_text(clf, texts)[1]:
        buckets = [
            unseen if word.lower() not in ranks else np.searchsorted(edges, ranks[word.lower()]) for word, _ in words
        ]
        np.add.at(attention, buckets, [weight for _, weight in words])
        np.add.at(words_share, buckets, 1 / max(len(words), 1))
    return pd.DataFrame(
        {"attention_share": attention / len(texts), "word_share": words_share / len(texts)},
        index=pd.Index(labels, name="frequency rank"),
    )
