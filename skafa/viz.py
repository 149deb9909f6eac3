"""Pictures of where fitted classifiers look: highlighted HTML pages and matplotlib figures.

Every function takes one fitted classifier or a dict ``{name: classifier}``; several classifiers
are shown side by side on the same texts. HTML needs nothing extra; figures need matplotlib
(``pip install 'skafa[viz]'``).
"""

import html
from pathlib import Path

import numpy as np
from scipy.special import softmax
from sklearn.utils.validation import check_is_fitted

from .frequency import attention_by_frequency
from .inspection import attention_by_text, word_spans
from .validation import check_labels, check_texts

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-top: 1px solid #ddd; padding: .6em; text-align: left; vertical-align: top; }
.text { white-space: pre-wrap; line-height: 1.9; }
.w { border-radius: 3px; }
.tail { color: #999; }
.pred { font-size: .85em; color: #555; margin-bottom: .3em; }
.wrong { color: #b00; }
.legend { color: #555; }
"""
_RGB = "214, 39, 40"


def _check_models(models):
    """``{name: fitted classifier}`` from one classifier or a dict of them."""
    if not isinstance(models, dict):
        models = {type(models).__name__: models}
    if not models:
        raise ValueError("models is empty: pass a fitted classifier or a dict {name: fitted classifier}.")
    for name, clf in models.items():
        if not callable(getattr(clf, "token_attention", None)):
            raise TypeError(f"models[{name!r}] is a {type(clf).__name__}, not a skafa classifier.")
        check_is_fitted(clf)
    return {str(name): clf for name, clf in models.items()}


def _attention(models, texts):
    """Per model: predicted labels, their probabilities, and the per-word attention of each text."""
    results = {}
    for name, clf in models.items():
        logits, words = attention_by_text(clf, texts)
        proba = softmax(logits.astype(np.float64), axis=1)
        results[name] = (clf.classes_[proba.argmax(axis=1)], proba.max(axis=1), words)
    return results


def _segments(text, words):
    """Cut ``text`` into ``(piece, weight)``: its attended words, and between them ``weight=None``.

    Text after the last word is whitespace or what truncation to ``max_length`` cut off.
    """
    segments, position = [], 0
    for (start, end), (word, weight) in zip(word_spans(text, words), words):
        if start > position:
            segments.append((text[position:start], None))
        segments.append((word, weight))
        position = end
    if position < len(text):
        segments.append((text[position:], None))
    return segments


def _highlighted(text, words, scale):
    parts = []
    segments = _segments(text, words)
    for i, (piece, weight) in enumerate(segments):
        escaped = html.escape(piece)
        if weight is not None:
            alpha = min(1.0, weight / scale) if scale > 0 else 0.0
            parts.append(
                f'<span class="w" style="background-color: rgba({_RGB}, {0.85 * alpha:.3f})" '
                f'title="{weight:.3f}">{escaped}</span>'
            )
        elif i == len(segments) - 1 and piece.strip():
            parts.append(f'<span class="tail" title="beyond max_length: not read by the model">{escaped}</span>')
        else:
            parts.append(escaped)
    return "".join(parts)


def to_html(models, X, y=None, *, path=None, title=None):
    """A self-contained HTML page of the texts with each word shaded by attention.

    One row per text and one column per classifier, each cell showing the predicted label and
    its probability above the text. A word's shade is its share of the pooling position's
    attention, relative to the largest share any of the classifiers gives a word of that text,
    so darker means more attention and the columns of a row compare directly; hovering a word
    shows its share. Texts are HTML-escaped; text beyond ``max_length`` is grey.

    Parameters
    ----------
    models : AFASentimentClassifier or dict of str to AFASentimentClassifier
        One fitted classifier, or several by name (for example plain fine-tuning and AFA).
    X : sequence of str
        Texts.
    y : array-like of shape (n_texts,), optional
        True labels, shown per row; wrong predictions are marked.
    path : str or path-like, optional
        Also write the page to this file (UTF-8).
    title : str, optional
        Heading of the page.

    Returns
    -------
    str
        The HTML page.
    """
    models = _check_models(models)
    texts = check_texts(X)
    y = None if y is None else check_labels(y, len(texts))
    results = _attention(models, texts)
    title = title or "Where the classifier looks"
    head = "".join(f"<th>{html.escape(name)}</th>" for name in models)
    rows = []
    for i, text in enumerate(texts):
        scale = max((max((w for _, w in result[2][i]), default=0.0) for result in results.values()), default=0.0)
        truth = "" if y is None else f'<div class="pred">true: {html.escape(str(y[i]))}</div>'
        cells = [f"<td>{i}{truth}</td>"]
        for labels, confidence, words in results.values():
            wrong = " wrong" if y is not None and labels[i] != y[i] else ""
            cells.append(
                f'<td><div class="pred{wrong}">predicted <b>{html.escape(str(labels[i]))}</b>, '
                f'p = {confidence[i]:.2f}</div><div class="text">{_highlighted(text, words[i], scale)}</div></td>'
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        '<p class="legend">Shade: the share of the classifier\'s attention on each word, relative to '
        "the most attended word of the text across the columns; hover a word for its share.</p>\n"
        f"<table>\n<thead><tr><th>#</th>{head}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n"
        "</body>\n</html>\n"
    )
    if path is not None:
        Path(path).write_text(page, encoding="utf-8")
    return page


def _figure(**kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("skafa's figures need matplotlib: pip install 'skafa[viz]'.") from None
    return Figure(layout="constrained", **kwargs)


def _save(figure, path):
    if path is not None:
        figure.savefig(path, dpi=150)
    return figure


def attention_figure(models, X, y=None, *, path=None, max_words=30):
    """One heat strip per text: the attention of each classifier on each word.

    Parameters
    ----------
    models : AFASentimentClassifier or dict of str to AFASentimentClassifier
        One fitted classifier, or several by name; each is one row of every strip.
    X : sequence of str
        Texts (a handful: one strip each).
    y : array-like of shape (n_texts,), optional
        True labels, shown in the strip titles.
    path : str or path-like, optional
        Also save the figure to this file (format from the extension, e.g. ``.png``).
    max_words : int, default=30
        Words shown per text (the first ones); the title says when a text has more.

    Returns
    -------
    matplotlib.figure.Figure
    """
    models = _check_models(models)
    texts = check_texts(X)
    y = None if y is None else check_labels(y, len(texts))
    results = _attention(models, texts)
    split = [[[word for word, _ in w] for w in result[2]] for result in results.values()]
    if any(words != split[0] for words in split[1:]):
        raise ValueError(
            "attention_figure needs classifiers that split the texts into the same words (the same "
            "backbone tokenizer and max_length); to_html shows any classifiers side by side."
        )
    longest = max(len(words[:max_words]) for words in split[0])
    figure = _figure(figsize=(min(16, max(6, 0.5 * longest)), len(texts) * (0.35 * len(models) + 1.4)))
    for i, ax in enumerate(np.atleast_1d(figure.subplots(len(texts), 1))):
        words = [result[2][i][:max_words] for result in results.values()]
        weights = np.array([[weight for _, weight in w] for w in words])
        ax.imshow(weights, cmap="Reds", vmin=0, vmax=max(weights.max(initial=0), 1e-12), aspect="auto")
        ax.set_xticks(range(weights.shape[1]), [word for word, _ in words[0]], rotation=45, ha="right",
                      fontsize=8, parse_math=False)
        labels = [f"{name}: {lab[i]} ({conf[i]:.2f})" for name, (lab, conf, _) in results.items()]
        ax.set_yticks(range(len(models)), labels, fontsize=8, parse_math=False)
        n_words = len(next(iter(results.values()))[2][i])
        note = f", first {max_words} of {n_words} words" if n_words > max_words else ""
        truth = "" if y is None else f", true label {y[i]}"
        ax.set_title(f"text {i}{truth}{note}", fontsize=9, loc="left", parse_math=False)
    return _save(figure, path)


def frequency_figure(models, X, *, path=None, edges=(10, 100, 1000)):
    """Bars of the attention share on words of each training-frequency rank bucket, per classifier.

    Buckets come from the first classifier's training word counts (see
    :func:`skafa.frequency.attention_by_frequency`), so classifiers trained on the same texts share
    them; grey bars show the share of the words themselves, what evenly spread attention gives.

    Parameters
    ----------
    models : AFASentimentClassifier or dict of str to AFASentimentClassifier
        One fitted classifier, or several by name.
    X : sequence of str
        Texts to average over.
    path : str or path-like, optional
        Also save the figure to this file.
    edges : sequence of int, default=(10, 100, 1000)
        Rank bucket edges.

    Returns
    -------
    matplotlib.figure.Figure
    """
    models = _check_models(models)
    counts = next(iter(models.values())).word_counts_
    tables = {name: attention_by_frequency(clf, X, edges, word_counts=counts) for name, clf in models.items()}
    bars = {"share of words": next(iter(tables.values()))["word_share"]}
    bars.update({name: table["attention_share"] for name, table in tables.items()})
    figure = _figure(figsize=(7, 4))
    ax = figure.subplots()
    width = 0.8 / len(bars)
    positions = np.arange(len(bars["share of words"]))
    for j, (name, values) in enumerate(bars.items()):
        color = "0.75" if j == 0 else None
        ax.bar(positions + (j - (len(bars) - 1) / 2) * width, values, width, label=name, color=color)
    ax.set_xticks(positions, bars["share of words"].index)
    ax.set_xlabel("word frequency rank in the training texts")
    ax.set_ylabel("mean share of attention")
    ax.legend()
    return _save(figure, path)
