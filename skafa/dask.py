"""Scoring a Dask DataFrame partition by partition, on Dask's own scheduler (optional extra).

Needs ``pip install 'skafa[dask]'``. With a ``dask.distributed`` client the model is sent to
every worker once (``client.scatter(..., broadcast=True)``) and each partition's task refers to
that copy; without one, the local scheduler's threads share the model in memory.
"""

import os
import threading

import pandas as pd

from .persistence import load_any
from .scoring import check_columns, prediction_columns, score_frame, scoring_copy
from .validation import check_choice, check_number

try:
    import dask.dataframe as dd
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("skafa.dask needs Dask: pip install 'skafa[dask]'.") from exc


def _active_client():
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:  # no client has been created in this process
        return None


# Attention capture registers the captured module process-wide, so partitions that ask for top
# words take turns when a worker runs several threads; plain scoring runs concurrently.
_CAPTURE_LOCK = threading.Lock()


def _score_partition(frame, clf, text_column, on_empty, top_words):
    def score():
        return score_frame(
            clf, frame, text_column, on_empty=on_empty, top_words=top_words, source="a partition (by index label)"
        )[0]

    if top_words:
        with _CAPTURE_LOCK:
            return score()
    return score()


def predict_dataframe(
    ddf, model, text_column="text", *, on_empty="error", top_words=0, batch_size=None, quantize=False, client=None
):
    """Add predictions to a Dask DataFrame of texts, lazily, one partition at a time.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        Rows to score; every column and row is kept.
    model : AFASentimentClassifier or path
        A fitted classifier, a folder written by ``save`` or a pickle/joblib file (trusted only).
    text_column : str, default="text"
        Column holding the texts.
    on_empty : {"error", "empty"}, default="error"
        Rows whose text is missing or empty: "error" fails the computation naming them (by index
        label); "empty" keeps them with a missing label and probabilities, so
        ``result["predicted_label"].isna()`` finds them. Skipping is not offered here because a
        lazy result could not report what it left out; filter the "empty" rows instead.
    top_words : int, default=0
        Add a ``top_words`` column with this many most attended words per text.
    batch_size : int or None, default=None
        Texts per forward pass; None uses the model's.
    quantize : bool, default=False
        Dynamic int8 quantisation for CPU workers (see :func:`skafa.scoring.scoring_copy`).
    client : distributed.Client or None, default=None
        Client whose workers receive the model; None uses the current client if there is one.

    Returns
    -------
    dask.dataframe.DataFrame
        ``ddf`` with ``predicted_label``, ``proba_<label>`` per class and optionally
        ``top_words`` appended; compute it (or write it with ``to_parquet``) to score.
    """
    check_choice("on_empty", on_empty, ("error", "empty"))
    check_number("top_words", top_words, low=0, integer=True)
    if not isinstance(ddf, dd.DataFrame):
        raise TypeError(f"ddf must be a dask.dataframe.DataFrame; got {type(ddf).__name__}.")
    clf = load_any(model) if isinstance(model, (str, os.PathLike)) else model
    clf = scoring_copy(clf, batch_size=batch_size, quantize=quantize)
    check_columns(ddf.columns, clf, text_column, top_words=top_words)
    meta = ddf._meta.copy()
    for name, dtype in prediction_columns(clf, top_words).items():
        meta[name] = pd.Series(dtype=dtype)
    client = client or _active_client()
    # One copy per worker, referred to by every partition's task, instead of one per task.
    shipped = clf if client is None else client.scatter(clf, broadcast=True, hash=False)
    return ddf.map_partitions(_score_partition, shipped, text_column, on_empty, top_words, meta=meta)
