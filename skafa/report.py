"""``AttentionReport``: a pipeline step that says, per text, what a classifier predicts and where it looks."""

import numpy as np
import pandas as pd
from scipy.special import softmax
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from .faithfulness import deletion_faithfulness
from .frequency import frequency_ranks
from .inspection import attention_by_text
from .lexicon import LEXICONS, load_lexicon
from .validation import check_bool, check_number, check_texts
from .viz import to_html


def _weights(words):
    return np.fromiter((weight for _, weight in words), dtype=np.float64, count=len(words))


def _entropy(words):
    # Renormalised, so float32 rounding of the attention cannot make the entropy negative.
    weights = _weights(words)
    weights = weights[weights > 0] / max(weights.sum(), np.finfo(float).tiny)
    return float((weights * np.log(1 / weights)).sum())


def _share(words, vocabulary):
    return float(sum(weight for word, weight in words if word.lower() in vocabulary))


class AttentionReport(TransformerMixin, BaseEstimator):
    """One row per text: the prediction, where the classifier looks, and how much that matters.

    Wraps a classifier: ``fit`` fits a clone of it (or, with ``prefit=True``, checks that the
    given classifier is fitted), and ``transform`` runs it on texts with attention capture, one
    batched forward pass per batch of texts (plus prediction on two edited copies of each text
    with ``faithfulness=True``). Attention is the pooling position's attention on each word (word
    pieces merged back into the words of the text), summing to 1 per text.

    The table mixes words and numbers, so ``transform`` returns a pandas DataFrame; that is also
    its ``set_output(transform="default")`` output, ``"pandas"`` keeps it and ``"polars"`` converts
    it.

    Parameters
    ----------
    estimator : AFASentimentClassifier
        The classifier to fit and inspect (any skafa classifier offering ``token_attention``).
    prefit : bool, default=False
        Use ``estimator`` as already fitted: ``fit`` only checks that it is, and neither trains
        nor copies it.
    top_k : int, default=5
        How many of the most attended words (with their weights) to list per text, and the
        words whose deletion the faithfulness columns measure.
    faithfulness : bool, default=False
        Add ``comprehensiveness`` and ``sufficiency`` of the ``top_k`` words (see
        :meth:`transform`); costs prediction on two edited copies of every text.
    lexicon : {"vader", "afinn"}, iterable of str or None, default=None
        Words of interest, compared lower-cased to the words of the texts; adds the column
        ``lexicon_share``. "vader" and "afinn" name the sentiment lexicons of the PyPI packages
        ``vadersentiment`` and ``afinn`` (``pip install "skafa[lexicon]"``).
    n_frequent : int, default=100
        How many of the most frequent words of the training texts count as frequent for
        ``frequent_share``.

    Attributes
    ----------
    estimator_ : AFASentimentClassifier
        The fitted classifier: a fitted clone of ``estimator``, or ``estimator`` itself with
        ``prefit=True``.
    classes_ : ndarray of shape (n_classes,)
        The classifier's classes, in the order of the probability columns.
    frequent_words_ : list of str
        The ``n_frequent`` most frequent lower-cased words of the classifier's training texts,
        most frequent first.
    lexicon_ : frozenset of str or None
        The lower-cased lexicon.

    See Also
    --------
    AFASentimentClassifier.attention_report : The same table from a fitted classifier.
    skafa.viz.to_html : Texts with their words highlighted by attention.

    Examples
    --------
    >>> from sklearn.pipeline import Pipeline
    >>> from skafa import AFASentimentClassifier, AttentionReport
    >>> pipe = Pipeline([("report", AttentionReport(AFASentimentClassifier(epochs=1)))])
    >>> table = pipe.fit(texts, labels).transform(new_texts)  # doctest: +SKIP
    >>> table[["label", "top1_word", "frequent_share"]]  # doctest: +SKIP
    """

    def __init__(self, estimator, *, prefit=False, top_k=5, faithfulness=False, lexicon=None, n_frequent=100):
        self.estimator = estimator
        self.prefit = prefit
        self.top_k = top_k
        self.faithfulness = faithfulness
        self.lexicon = lexicon
        self.n_frequent = n_frequent

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def _check_params(self):
        """Raise on a bad parameter; return the lower-cased lexicon (or None)."""
        if not callable(getattr(self.estimator, "token_attention", None)):
            raise TypeError(
                "estimator must be a skafa classifier such as AFASentimentClassifier (one with "
                f"token_attention); got {type(self.estimator).__name__}."
            )
        check_bool("prefit", self.prefit)
        check_number("top_k", self.top_k, low=1, integer=True)
        check_bool("faithfulness", self.faithfulness)
        check_number("n_frequent", self.n_frequent, low=1, integer=True)
        if self.lexicon is None:
            return None
        if isinstance(self.lexicon, str):
            if self.lexicon not in LEXICONS:
                raise ValueError(
                    f"lexicon={self.lexicon!r} is not a packaged lexicon ({sorted(LEXICONS)}); pass a collection "
                    "of words to use your own."
                )
            return load_lexicon(self.lexicon)
        if isinstance(self.lexicon, bytes):
            raise TypeError("lexicon must be a collection of words or the name of a packaged lexicon.")
        lexicon = list(self.lexicon)
        if not lexicon or not all(isinstance(word, str) for word in lexicon):
            raise TypeError("lexicon must be a non-empty collection of strings.")
        return frozenset(word.lower() for word in lexicon)

    def fit(self, X, y=None, **fit_params):
        """Fit the classifier on texts ``X`` and labels ``y``, or check it with ``prefit=True``.

        Parameters
        ----------
        X : sequence of str
            Training texts (with ``prefit=True`` they are only validated).
        y : array-like of shape (n_samples,), optional
            Labels; required unless ``prefit=True``.
        **fit_params
            Passed to the classifier's ``fit`` (for example ``sample_weight``).

        Returns
        -------
        self : AttentionReport
        """
        self.lexicon_ = self._check_params()
        X = check_texts(X, allow_empty=getattr(self.estimator, "on_empty_text", "error") == "model")
        if self.prefit:
            if fit_params:
                raise ValueError(f"fit parameters {sorted(fit_params)} were given, but prefit=True fits nothing.")
            try:
                check_is_fitted(self.estimator)
            except NotFittedError:
                raise NotFittedError(
                    f"AttentionReport(prefit=True) needs a fitted classifier, but this "
                    f"{type(self.estimator).__name__} is not fitted: call its fit(X, y) first, or use prefit=False."
                ) from None
            self.estimator_ = self.estimator
        else:
            if y is None:
                raise ValueError("AttentionReport.fit needs labels y to fit the classifier (or prefit=True).")
            self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        self.classes_ = self.estimator_.classes_
        self.frequent_words_ = list(frequency_ranks(self.estimator_.word_counts_))[: self.n_frequent]
        return self

    def get_feature_names_out(self, input_features=None):
        """Names of the columns of :meth:`transform`.

        Parameters
        ----------
        input_features : None
            Ignored: the columns do not depend on input feature names (the input is text).

        Returns
        -------
        ndarray of str objects
        """
        check_is_fitted(self)
        names = ["label", *(f"proba_{c}" for c in self.classes_)]
        for rank in range(1, self.top_k + 1):
            names += [f"top{rank}_word", f"top{rank}_weight"]
        names += ["entropy", "frequent_share"]
        if self.lexicon_ is not None:
            names.append("lexicon_share")
        if self.faithfulness:
            names += ["comprehensiveness", "sufficiency"]
        return np.asarray(names, dtype=object)

    def transform(self, X):
        """The report table, one row per text.

        Columns: ``label`` (predicted), ``proba_<class>`` per class, ``top<i>_word`` and
        ``top<i>_weight`` for the ``top_k`` most attended words (most attended first; missing
        values when a text has fewer words), ``entropy`` of the attention over the words (nats; 0
        when all of it is on one word, log(n_words) when spread evenly), ``frequent_share``
        (attention on ``frequent_words_``), ``lexicon_share`` (attention on the lexicon, with
        ``lexicon``), and with ``faithfulness``: ``comprehensiveness`` (drop of the predicted
        class's probability when the top-k words are deleted; higher means they mattered; NaN
        when the text has no other word) and ``sufficiency`` (drop when only they are kept;
        lower means they suffice), both in [-1, 1]; see
        :func:`~skafa.faithfulness.deletion_faithfulness`.

        Parameters
        ----------
        X : sequence of str
            Texts; a pandas Series or one-column DataFrame keeps its index in the output.

        Returns
        -------
        pandas.DataFrame of shape (n_texts, n_columns)
            Columns as :meth:`get_feature_names_out`.
        """
        check_is_fitted(self)
        index = X.index if isinstance(X, (pd.Series, pd.DataFrame)) else None
        texts = check_texts(X, allow_empty=self.estimator_.on_empty_text == "model")
        logits, words = attention_by_text(self.estimator_, texts)
        proba = softmax(logits.astype(np.float64), axis=1)
        columns = [self.classes_[proba.argmax(axis=1)], *proba.T]
        top = [np.argsort(-_weights(w), kind="stable")[: self.top_k] for w in words]
        for rank in range(self.top_k):
            columns.append([words[i][t[rank]][0] if rank < len(t) else None for i, t in enumerate(top)])
            columns.append([words[i][t[rank]][1] if rank < len(t) else np.nan for i, t in enumerate(top)])
        frequent = set(self.frequent_words_)
        columns += [[_entropy(w) for w in words], [_share(w, frequent) for w in words]]
        if self.lexicon_ is not None:
            columns.append([_share(w, self.lexicon_) for w in words])
        if self.faithfulness:
            columns += deletion_faithfulness(self.estimator_, texts, words, top, proba)
        return pd.DataFrame(dict(zip(self.get_feature_names_out(), columns)), index=index)

    def to_html(self, X, y=None, *, path=None, title=None):
        """The texts as HTML, each word highlighted by the classifier's attention.

        Delegates to :func:`skafa.viz.to_html` with the fitted classifier.

        Parameters
        ----------
        X : sequence of str
            Texts.
        y : array-like of shape (n_texts,), optional
            True labels, shown next to the predictions.
        path : str or path-like, optional
            Also write the page to this file (UTF-8).
        title : str, optional
            Heading of the page.

        Returns
        -------
        str
            A self-contained HTML page.
        """
        check_is_fitted(self)
        return to_html(self.estimator_, X, y, path=path, title=title)
