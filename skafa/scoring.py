"""Batch scoring: a fitted classifier over a table of texts, chunk by chunk.

The scoring of one table (:func:`score_frame`) is shared by :func:`predict_file`, which streams
CSV, TSV, JSON Lines and Parquet files in bounded memory, and by :mod:`skafa.dask`.
"""

import copy
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .atomic import atomic_path
from .inspection import attention_by_text
from .lora import merged
from .persistence import load_any
from .pickling import prediction_net
from .progress import interactive
from .tables import TableWriter, count_rows, file_format, is_missing, read_chunks
from .validation import _rows, check_bool, check_choice, check_number

ON_EMPTY = ("error", "skip", "empty")
LABEL_COLUMN = "predicted_label"
PROBA_PREFIX = "proba_"
TOP_WORDS_COLUMN = "top_words"
# Identifiers of rows without text kept in a ScoringReport; the count is always exact.
MAX_LISTED_ROWS = 1000


class EmptyTextError(ValueError):
    """Rows have a missing or empty text and ``on_empty="error"``."""


# --- preparing a model ----------------------------------------------------------------------


def quantize_module(module):
    """A dynamically int8-quantised copy of ``module`` for CPU inference (the original is unchanged).

    Every ``nn.Linear`` gets int8 weights and activations quantised on the fly
    (``torch.ao.quantization.quantize_dynamic``); embeddings and layer norms stay in float32.
    LoRA adapters are merged into the weights first (quantised adapters cannot run).
    """
    from torch.ao.quantization import quantize_dynamic

    module = (merged(module) if getattr(module, "lora", None) else copy.deepcopy(module)).cpu().eval()
    with warnings.catch_warnings():
        # torch announces the move of eager quantisation to torchao; the API still works here.
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*torch.ao.quantization.*")
        warnings.filterwarnings("ignore", category=UserWarning, message=".*quantize_per_tensor.*")
        return quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


def scoring_copy(clf, *, batch_size=None, quantize=False):
    """The classifier as used for scoring: ``clf`` itself, or a light copy with other settings.

    The copy shares the tokenizer and labels and, unless quantised, the weights; ``clf`` is not
    changed.

    Parameters
    ----------
    clf : AFASentimentClassifier
        A fitted classifier.
    batch_size : int or None, default=None
        Texts per forward pass; None keeps the classifier's ``batch_size``.
    quantize : bool, default=False
        Score on the CPU with dynamic int8 quantisation of the linear layers (see
        :func:`quantize_module`): faster, with a small accuracy change to measure on your data.

    Returns
    -------
    AFASentimentClassifier
    """
    check_is_fitted(clf)
    check_bool("quantize", quantize)
    if batch_size is None and not quantize:
        return clf
    net = prediction_net(clf.net_)
    if batch_size is not None:
        check_number("batch_size", batch_size, low=1, integer=True)
        net.batch_size = batch_size
    if quantize:
        net.module_ = quantize_module(net.module_)
        net.device = "cpu"
    scorer = copy.copy(clf)
    scorer.net_ = net
    return scorer


# --- scoring one table ----------------------------------------------------------------------


def label_dtype(classes):
    """A pandas dtype able to hold ``classes`` and missing values, the same for every chunk."""
    kind = classes.dtype.kind
    nullable = {"i": "Int64", "u": "UInt64", "b": "boolean", "f": "Float64", "U": "string"}
    if kind in nullable:
        return nullable[kind]
    if kind == "O" and all(isinstance(c, str) for c in classes):
        return "string"
    return object


def prediction_columns(clf, top_words=0):
    """Names and dtypes of the columns scoring adds: label, one probability per class, top words."""
    columns = {LABEL_COLUMN: label_dtype(clf.classes_)}
    columns.update({f"{PROBA_PREFIX}{label}": "Float64" for label in clf.classes_.tolist()})
    if top_words:
        columns[TOP_WORDS_COLUMN] = "string"
    return columns


def check_columns(columns, clf, text_column, id_column=None, top_words=0, extra=()):
    """Raise if a named input column is absent or an output column would overwrite an input one."""
    columns = [str(c) for c in columns]
    for role, name in (("text_column", text_column), ("id_column", id_column)):
        if name is not None and name not in columns:
            raise KeyError(f"{role}={name!r} is not a column of the input; its columns are {columns}.")
    taken = sorted(set(columns) & (set(prediction_columns(clf, top_words)) | {c for c in extra if c}))
    if taken:
        raise ValueError(
            f"The input already has column(s) {taken}, which scoring would write; rename them in the input."
        )


def has_text(texts, source="the table"):
    """Boolean mask of the entries of a text column (Series) that hold a non-blank text.

    Missing entries (None, NaN, null) and empty or whitespace-only strings are False; any other
    non-string value is an error naming its rows.
    """
    values = texts.tolist()
    bad_type = [i for i, t in enumerate(values) if not (is_missing(t) or isinstance(t, str))]
    if bad_type:
        kinds = sorted({type(values[i]).__name__ for i in bad_type})
        raise TypeError(
            f"Column {texts.name!r} of {source} must hold texts; {_rows(texts.index[bad_type])} hold "
            f"{', '.join(kinds)}."
        )
    return np.array([isinstance(t, str) and bool(t.strip()) for t in values], dtype=bool)


def empty_text_error(text_column, source, rows, n_rows, ids=None):
    """The :class:`EmptyTextError` for ``n_rows`` rows without text, the first ones in ``rows``."""
    where = _rows(rows) if n_rows <= len(rows) else f"{n_rows} rows, the first at {_rows(rows)}"
    if ids is not None:
        where += f" (ids {', '.join(repr(i) for i in ids[:5])})"
    return EmptyTextError(
        f"Column {text_column!r} of {source} has missing or empty texts at {where}. Pass on_empty='skip' "
        "to leave them out or on_empty='empty' to keep them without a prediction."
    )


def score_frame(clf, frame, text_column, *, on_empty="error", top_words=0, id_column=None, source="the table"):
    """Add predictions to a DataFrame of texts.

    Parameters
    ----------
    clf : AFASentimentClassifier
        A fitted classifier (see :func:`scoring_copy`).
    frame : pandas.DataFrame
        Rows to score; every column is kept, in order.
    text_column : str
        Column holding the texts.
    on_empty : {"error", "skip", "empty"}, default="error"
        Rows whose text is missing (None, NaN, null) or empty/whitespace-only: "error" raises
        :class:`EmptyTextError` naming them; "skip" leaves them out of the result; "empty" keeps
        them with a missing label and missing probabilities.
    top_words : int, default=0
        Add a ``top_words`` column: the ``top_words`` words with the most attention, as a JSON
        list of ``[word, weight]`` pairs (computed in the same forward pass, with attention
        capture).
    id_column : str or None, default=None
        Column naming rows in error messages (next to their index labels).
    source : str, default="the table"
        How error messages name the input.

    Returns
    -------
    scored : pandas.DataFrame
        ``frame`` with ``predicted_label``, ``proba_<label>`` per class and optionally
        ``top_words`` appended.
    empty : pandas.Index
        Index labels of the rows without text.
    """
    valid = has_text(frame[text_column], source)
    empty = frame.index[~valid]
    if len(empty) and on_empty == "error":
        ids = None if id_column is None else frame.loc[empty, id_column].tolist()
        raise empty_text_error(text_column, source, empty[:5].tolist(), len(empty), ids)
    texts = frame[text_column][valid].tolist()
    columns = prediction_columns(clf, top_words)
    proba = np.full((len(frame), len(clf.classes_)), np.nan)
    labels = np.full(len(frame), None, dtype=object)
    words = np.full(len(frame), None, dtype=object)
    if texts:
        if top_words:
            logits, attention = attention_by_text(clf, texts)
            words[valid] = [_top_words(pairs, top_words) for pairs in attention]
            proba[valid] = torch.softmax(torch.as_tensor(logits), dim=1).numpy()
        else:
            proba[valid] = clf.predict_proba(texts)
        labels[valid] = clf.classes_[proba[valid].argmax(axis=1)].tolist()
    scored = frame.copy()
    names = list(columns)
    scored[LABEL_COLUMN] = pd.array(labels, dtype=columns[LABEL_COLUMN])
    for j, name in enumerate(names[1 : 1 + len(clf.classes_)]):
        scored[name] = pd.array(proba[:, j], dtype="Float64")
    if top_words:
        scored[TOP_WORDS_COLUMN] = pd.array(words, dtype="string")
    if on_empty == "skip":
        scored = scored[valid]
    return scored, empty


def _top_words(pairs, k):
    top = sorted(pairs, key=lambda pair: -pair[1])[:k]
    return json.dumps([[word, round(weight, 4)] for word, weight in top], ensure_ascii=False)


@dataclass
class ScoringReport:
    """What :func:`predict_file` did.

    Attributes
    ----------
    output : pathlib.Path
        The file written.
    n_rows : int
        Rows read from the input.
    n_written : int
        Rows written (``n_rows`` minus skipped rows).
    n_empty : int
        Rows whose text was missing or empty (skipped or written without prediction).
    empty_rows : list
        Their positions in the input (counted from 0, header excluded), or their ids when an
        ``id_column`` was given; the first ``MAX_LISTED_ROWS`` of them.
    on_empty : str
        The policy applied to them.
    seconds : float
        Wall-clock duration, model loading excluded.
    """

    output: Path
    n_rows: int = 0
    n_written: int = 0
    n_empty: int = 0
    empty_rows: list = field(default_factory=list)
    on_empty: str = "error"
    seconds: float = 0.0

    @property
    def texts_per_second(self):
        """Rows scored per second."""
        return (self.n_rows - self.n_empty) / self.seconds if self.seconds else float("nan")

    def summary(self):
        """One paragraph for people: rows read, written and without text."""
        text = f"{self.n_rows} rows read, {self.n_written} written to {self.output} in {self.seconds:.1f} s."
        if self.n_empty:
            action = "skipped (not in the output)" if self.on_empty == "skip" else "written without a prediction"
            listed = ", ".join(str(r) for r in self.empty_rows[:20])
            more = f" and {self.n_empty - 20} more" if self.n_empty > 20 else ""
            text += f" {self.n_empty} rows had no text and were {action}: {listed}{more}."
        return text


def predict_file(
    model,
    input,
    output,
    *,
    text_column="text",
    id_column=None,
    row_number_column=None,
    on_empty="error",
    top_words=0,
    input_format=None,
    output_format=None,
    chunk_size=4096,
    batch_size=None,
    quantize=False,
    progress=True,
    overwrite=False,
):
    """Score every row of a CSV, TSV, JSON Lines or Parquet file and write the results.

    The input is read and scored in chunks of ``chunk_size`` rows, so memory stays flat however
    large the file. The output holds every input column and row in input order, followed by
    ``predicted_label``, one ``proba_<label>`` column per class and, if asked, ``top_words``.
    It is written under a temporary name and renamed when complete: a failed run leaves no
    partial output.

    Parameters
    ----------
    model : AFASentimentClassifier or path
        A fitted classifier, a folder written by ``save`` (loaded safely) or a pickle/joblib file
        (trusted sources only).
    input, output : str or path-like
        Files; the format follows the extension (``.csv``, ``.tsv``, ``.jsonl``, ``.parquet``,
        text formats optionally ``.gz``) unless given.
    text_column : str, default="text"
        Column holding the texts.
    id_column : str or None, default=None
        An input column that identifies rows; rows without text are then reported by id.
    row_number_column : str or None, default=None
        Add a column of this name holding each row's position in the input (from 0), so output
        rows can be matched to input rows even when rows are skipped.
    on_empty : {"error", "skip", "empty"}, default="error"
        Rows whose text is missing or empty: "error" stops with :class:`EmptyTextError` naming
        them (no output is left); "skip" leaves them out of the output and reports them;
        "empty" writes them with a missing label and missing probabilities and reports them.
    top_words : int, default=0
        Add a ``top_words`` column with the this many most attended words of each text.
    input_format, output_format : {"csv", "tsv", "jsonl", "parquet"} or None
        Override the format given by the extension.
    chunk_size : int, default=4096
        Rows read, scored and written at a time.
    batch_size : int or None, default=None
        Texts per forward pass; None uses the model's ``batch_size``.
    quantize : bool, default=False
        Dynamic int8 quantisation of the linear layers for CPU scoring (see :func:`scoring_copy`).
    progress : bool, default=True
        Show a progress bar (rows) on stderr when stderr is a terminal or a notebook.
    overwrite : bool, default=False
        Replace ``output`` if it exists.

    Returns
    -------
    ScoringReport
    """
    check_choice("on_empty", on_empty, ON_EMPTY)
    check_number("chunk_size", chunk_size, low=1, integer=True)
    check_number("top_words", top_words, low=0, integer=True)
    input, output = Path(input), Path(output)
    in_fmt, out_fmt = file_format(input, input_format), file_format(output, output_format)
    if not input.is_file():
        raise FileNotFoundError(f"No input file {input}.")
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass overwrite=True (--overwrite) to replace it.")
    if output.resolve() == input.resolve():
        raise ValueError("output must differ from input.")
    clf = load_any(model) if isinstance(model, (str, os.PathLike)) else model
    clf = scoring_copy(clf, batch_size=batch_size, quantize=quantize)

    report = ScoringReport(output=output, on_empty=on_empty)
    source = f"{input} (rows counted from 0, header excluded)"
    start = time.perf_counter()
    bar = tqdm(total=count_rows(input, in_fmt), unit=" rows", disable=not (progress and interactive()), desc="scoring")
    try:
        with atomic_path(output) as partial:
            writer = TableWriter(partial, out_fmt)
            try:
                chunks = read_chunks(input, in_fmt, chunk_size)
                _score_chunks(
                    clf, chunks, writer, report, bar, source=source, text_column=text_column, id_column=id_column,
                    row_number_column=row_number_column, on_empty=on_empty, top_words=top_words,
                )
            finally:
                writer.close()
    finally:
        bar.close()
    report.seconds = time.perf_counter() - start
    return report


def _score_chunks(clf, chunks, writer, report, bar, *, source, text_column, id_column, row_number_column, on_empty, top_words):
    """Score and write each chunk, counting rows into ``report``; raise on rows without text if asked."""
    # With on_empty="error", the first row without text stops the scoring, but reading goes on to
    # count and name all such rows in one error.
    n_failed, failed_rows, failed_ids = 0, [], []
    for chunk in chunks:
        if report.n_rows == 0:
            check_columns(chunk.columns, clf, text_column, id_column, top_words, extra=[row_number_column])
        chunk = chunk.set_axis(pd.RangeIndex(report.n_rows, report.n_rows + len(chunk)))
        report.n_rows += len(chunk)
        bar.update(len(chunk))
        if on_empty == "error":
            empty = chunk.index[~has_text(chunk[text_column], source)]
            n_failed += len(empty)
            failed_rows += empty[: 5 - len(failed_rows)].tolist()
            if id_column is not None:
                failed_ids += chunk.loc[empty[: 5 - len(failed_ids)], id_column].tolist()
            if n_failed:
                continue
        if row_number_column is not None:
            chunk[row_number_column] = chunk.index.to_numpy()
        scored, empty = score_frame(
            clf, chunk, text_column, on_empty=on_empty, top_words=top_words, id_column=id_column, source=source
        )
        writer.write(scored)
        if len(empty) and len(report.empty_rows) < MAX_LISTED_ROWS:
            ids = empty.tolist() if id_column is None else chunk.loc[empty, id_column].tolist()
            report.empty_rows.extend(ids[: MAX_LISTED_ROWS - len(report.empty_rows)])
        report.n_written += len(scored)
        report.n_empty += len(empty)
    if n_failed:
        raise empty_text_error(text_column, source, failed_rows, n_failed, failed_ids or None)
