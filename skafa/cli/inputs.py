"""What the commands read: whole table files, their text and label columns, models, ``--set`` values."""

import ast
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..tables import file_format, is_missing, read_chunks
from ..validation import _rows, check_texts

INTEGER = re.compile(r"[+-]?\d+")


def read_table(path, fmt=None, columns=()):
    """The whole table file ``path`` as a DataFrame; raises naming a missing file or column."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no input file {path}.")
    frame = pd.concat(list(read_chunks(path, file_format(path, fmt), 65536)), ignore_index=True)
    present = [str(c) for c in frame.columns]
    for option, name in columns:
        if name not in present:
            raise KeyError(f"{option} {name!r} is not a column of {path}; its columns are {present}.")
    if frame.empty:
        raise ValueError(f"{path} has a header but no rows.")
    return frame


def texts_of(frame, column, path):
    """The column's texts; missing, non-text or empty cells raise naming their rows."""
    values = ["" if is_missing(v) else v for v in frame[column].tolist()]
    return check_texts(values, name=f"column {column!r} of {path}")


def labels_of(frame, column, path):
    """The column's labels; text labels that are all whole numbers become ints (CSV cells are text)."""
    values = frame[column].tolist()
    missing = [i for i, v in enumerate(values) if is_missing(v) or (isinstance(v, str) and not v.strip())]
    if missing:
        raise ValueError(f"column {column!r} of {path} has no label at {_rows(missing)} (counted from 0).")
    if all(isinstance(v, str) and INTEGER.fullmatch(v.strip()) for v in values):
        return np.array([int(v) for v in values])
    if all(isinstance(v, str) for v in values):
        return np.array([v.strip() for v in values], dtype=object)
    return np.array(values, dtype=object) if any(isinstance(v, str) for v in values) else np.array(values)


def parse_value(text):
    """``--set`` values: Python literals (``3``, ``1e-4``, ``[1, 2]``), true/false/none in any case, else text."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text.strip()


def parse_assignments(items, option="--set"):
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``; raises on a malformed or repeated name."""
    pairs = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"{option} expects NAME=VALUE; got {item!r}.")
        if name in pairs:
            raise ValueError(f"{option} {name} is given twice.")
        pairs[name] = parse_value(value)
    return pairs
