"""Deletion faithfulness: does the prediction depend on the words the classifier attends to?"""

import numpy as np

from .inspection import word_spans


def _edit(text, words, chosen):
    """``text`` without the ``chosen`` words, and the chosen words alone.

    A deleted word leaves a space, so its neighbours stay separate words (``don't`` without
    ``'`` is ``don t``, not ``dont``); the chosen words alone are joined by spaces.
    """
    spans = word_spans(text, words)
    without, position = [], 0
    for i, (start, end) in enumerate(spans):
        if i in chosen:
            without.append(text[position:start] + " ")
            position = end
    without.append(text[position:])
    only = " ".join(text[start:end] for i, (start, end) in enumerate(spans) if i in chosen)
    return "".join(without), only


def _proba_where_words_remain(clf, texts, predicted):
    """Probability of class ``predicted[i]`` for each text; NaN where no word is left."""
    result = np.full(len(texts), np.nan)
    rows = [i for i, text in enumerate(texts) if text.strip()]
    if rows:
        result[rows] = clf.predict_proba([texts[i] for i in rows])[np.arange(len(rows)), predicted[rows]]
    return result


def deletion_faithfulness(clf, texts, words, rationales, proba):
    """Comprehensiveness and sufficiency of one set of words per text (DeYoung et al., 2020).

    With ``p`` the probability of the class predicted on the full text:
    comprehensiveness = p(text) - p(text without the words), high when removing the words hurts
    the prediction; sufficiency = p(text) - p(only the words), low when the words alone suffice.
    Both lie in [-1, 1]. The edited texts go through the classifier's own ``predict_proba``
    (batched, truncated or windowed as the classifier does it). Where deletion leaves no word
    (every word of the text is in the set) comprehensiveness is NaN; so is sufficiency for a
    text without words. In a text longer than ``max_length``, deleting words lets later words
    move into view.

    Parameters
    ----------
    clf : AFASentimentClassifier
        A fitted classifier.
    texts : list of str
        Validated texts.
    words : list of list of (str, float)
        Per text, its words as :meth:`~skafa.AFASentimentClassifier.token_attention` returns them.
    rationales : list of sequence of int
        Per text, positions in ``words[i]`` of the words to test.
    proba : ndarray of shape (n_texts, n_classes)
        The classifier's probabilities on the full texts.

    Returns
    -------
    comprehensiveness, sufficiency : ndarray of shape (n_texts,)
    """
    without, only = zip(*(_edit(t, w, set(r)) for t, w, r in zip(texts, words, rationales)))
    predicted = proba.argmax(axis=1)
    full = proba[np.arange(len(texts)), predicted]
    return (
        full - _proba_where_words_remain(clf, list(without), predicted),
        full - _proba_where_words_remain(clf, list(only), predicted),
    )
