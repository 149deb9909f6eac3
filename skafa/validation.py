"""Input checks shared by every entry point: texts, labels, sample weights, parameters."""

import numbers

import numpy as np
import pandas as pd

MAX_REPORTED_ROWS = 5


def _rows(positions):
    positions = list(positions)
    shown = ", ".join(str(p) for p in positions[:MAX_REPORTED_ROWS])
    more = f" and {len(positions) - MAX_REPORTED_ROWS} more" if len(positions) > MAX_REPORTED_ROWS else ""
    return f"row(s) {shown}{more}"


def check_texts(X, name="X", allow_empty=False):
    """Return ``X`` as a list of str, or raise naming the problem and the offending rows.

    Accepts a list, tuple, 1-D numpy array, pandas Series or single-column DataFrame of strings;
    empty or whitespace-only strings are refused unless ``allow_empty``.
    """
    if isinstance(X, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of texts, not a single string; wrap it in a list.")
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(
                f"{name} is a DataFrame with {X.shape[1]} columns {list(X.columns)}; pass the one text "
                "column (for example X['text'])."
            )
        X = X.iloc[:, 0]
    if isinstance(X, pd.Series):
        X = X.tolist()
    elif isinstance(X, np.ndarray):
        if X.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional (one text per row); got shape {X.shape}.")
        X = X.tolist()
    else:
        try:
            X = list(X)
        except TypeError:
            raise TypeError(f"{name} must be a sequence of texts; got {type(X).__name__}.") from None
    if not X:
        raise ValueError(f"{name} is empty: at least one text is needed.")
    not_str = [i for i, x in enumerate(X) if not isinstance(x, str)]
    if not_str:
        kinds = sorted({type(X[i]).__name__ for i in not_str})
        raise TypeError(f"{name} must contain only strings; {_rows(not_str)} hold {', '.join(kinds)}.")
    empty = [] if allow_empty else [i for i, x in enumerate(X) if not x.strip()]
    if empty:
        raise ValueError(
            f"{name} contains empty or whitespace-only texts at {_rows(empty)}; remove them or set "
            "on_empty_text='model'."
        )
    return X


def check_labels(y, n_samples):
    """Return ``y`` as a 1-D numpy array of length ``n_samples`` without missing values."""
    if isinstance(y, (pd.Series, pd.DataFrame)):
        y = y.to_numpy()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y must be one-dimensional (one label per text); got shape {y.shape}.")
    if len(y) != n_samples:
        raise ValueError(f"X and y have different lengths: {n_samples} texts but {len(y)} labels.")
    missing = [i for i, v in enumerate(y) if v is None or (isinstance(v, float) and np.isnan(v))]
    if missing:
        raise ValueError(f"y contains missing labels (None/NaN) at {_rows(missing)}.")
    return y


def check_sample_weight(sample_weight, n_samples):
    """Return finite, non-negative float32 weights (ones when None)."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=np.float32)
    if isinstance(sample_weight, numbers.Number):
        return np.full(n_samples, float(sample_weight), dtype=np.float32)
    sw = np.asarray(sample_weight, dtype=np.float64)
    if sw.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},); got {sw.shape}.")
    bad = np.flatnonzero(~np.isfinite(sw) | (sw < 0))
    if bad.size:
        raise ValueError(f"sample_weight must be finite and non-negative; see {_rows(bad)}.")
    if sw.sum() <= 0:
        raise ValueError("sample_weight sums to zero: at least one text must have a positive weight.")
    return sw.astype(np.float32)


def check_choice(name, value, choices):
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}.")


def check_bool(name, value):
    # `1 in (True, False)` is true in Python, so booleans are checked by type.
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}.")


def check_number(name, value, *, low=None, high=None, integer=False, low_inclusive=True, high_inclusive=True):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an integer' if integer else 'a number'}; got {value!r}.")
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high or (not integer and not np.isfinite(value)):
        lo = "" if low is None else f"{low} {'<=' if low_inclusive else '<'} "
        hi = "" if high is None else f" {'<=' if high_inclusive else '<'} {high}"
        raise ValueError(f"{name} must satisfy {lo}{name}{hi}; got {value!r}.")
