"""Deletion faithfulness: does the prediction depend on the words the classifier attends to?"""

import copy

import numpy as np
from scipy.special import softmax

from .inspection import logits_of
from .text import EncodedTexts


def _token_sequences(encoded, rationales, pad_token_id):
    """Per text, its tokens without the rationale's words, then its tokens with only them.

    Special tokens stay in both. A sequence left with no token at all (a tokenizer without
    special tokens whose every word was removed) gets the pad token, which stands for the empty
    text, because the model cannot run on zero tokens.
    """
    without, only = [], []
    for ids, special, word_ids, rationale in zip(
        encoded.input_ids, encoded.special_tokens_mask, encoded.word_ids, rationales
    ):
        words = sorted({w for w in word_ids if w is not None})
        chosen = {words[p] for p in rationale}
        in_rationale = [w in chosen for w in word_ids]
        without.append([(t, s) for t, s, r in zip(ids, special, in_rationale) if not r])
        only.append([(t, s) for t, s, r in zip(ids, special, in_rationale) if r or s])
    sequences = [tokens or [(pad_token_id, 1)] for tokens in without + only]
    edited = copy.copy(encoded)
    edited.input_ids = [[t for t, _ in tokens] for tokens in sequences]
    edited.special_tokens_mask = [[s for _, s in tokens] for tokens in sequences]
    edited.offsets = edited.word_ids = None
    return edited


def deletion_faithfulness(clf, texts, rationales, proba):
    """Comprehensiveness and sufficiency of one set of words per text (DeYoung et al., 2020).

    With ``p`` the probability of the class predicted on the full text:
    comprehensiveness = p(text) - p(text without the words), high when removing the words hurts
    the prediction; sufficiency = p(text) - p(only the words), low when the words alone
    suffice. Both lie in [-1, 1]. Words are removed as whole tokens from the encoded text (special
    tokens kept), so no re-tokenisation shifts the rest; one extra forward pass per batch of
    edited texts.

    Parameters
    ----------
    clf : AFASentimentClassifier
        A fitted classifier.
    texts : list of str
        Validated texts.
    rationales : list of sequence of int
        Per text, positions of the chosen words in the text's word list as
        :meth:`~skafa.AFASentimentClassifier.token_attention` returns it.
    proba : ndarray of shape (n_texts, n_classes)
        The classifier's probabilities on the full texts.

    Returns
    -------
    comprehensiveness, sufficiency : ndarray of shape (n_texts,)
    """
    encoded = EncodedTexts(clf.tokenizer_, texts, clf.max_length, with_offsets=True)
    edited = _token_sequences(encoded, rationales, clf.tokenizer_.pad_token_id)
    edited_proba = softmax(logits_of(clf, edited), axis=1)
    rows = np.arange(len(texts))
    predicted = proba.argmax(axis=1)
    full = proba[rows, predicted]
    n = len(texts)
    return full - edited_proba[:n][rows, predicted], full - edited_proba[n:][rows, predicted]
