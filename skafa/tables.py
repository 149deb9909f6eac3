"""Table files read in chunks and written chunk by chunk: CSV, TSV, JSON Lines (optionally gzipped) and Parquet."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .validation import check_choice

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


def is_missing(value):
    """Whether a cell holds no value (None, pandas' NA or NaT, or a float NaN)."""
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def file_format(path, fmt=None):
    """The table format of ``path``: ``fmt`` if given, else from the extension (``.gz`` allowed)."""
    if fmt is not None:
        check_choice("format", fmt, tuple(sorted(set(FORMATS.values()))))
        return fmt
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in FORMATS:
        found = FORMATS[suffixes[-1]]
        if found == "parquet" and Path(path).suffix.lower() == ".gz":
            raise ValueError(f"{path}: Parquet files are compressed internally; drop the .gz.")
        return found
    raise ValueError(
        f"Cannot tell the format of {path} from its extension; use one of {sorted(FORMATS)} (optionally + .gz) "
        "or name the format."
    )


def _open_text(path, mode):
    if str(path).lower().endswith(".gz"):
        import gzip

        return gzip.open(path, mode + "t", encoding="utf-8", newline="")
    return open(path, mode, encoding="utf-8", newline="")


def _require_pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError("Parquet needs pyarrow: pip install 'skafa[parquet]'.") from None
    return pyarrow


def read_chunks(path, fmt, chunk_size):
    """Yield the rows of a table file as DataFrames of at most ``chunk_size`` rows.

    CSV/TSV cells are read as text exactly as written (no NA guessing, so the text "NA" stays a
    text); JSON Lines values keep their JSON types; Parquet columns keep their Arrow types.
    """
    if fmt in ("csv", "tsv"):
        try:
            chunks = pd.read_csv(
                path,
                sep="," if fmt == "csv" else "\t",
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                chunksize=chunk_size,
            )
        except pd.errors.EmptyDataError:
            raise ValueError(f"{path} is empty: not even a header row.") from None
        yield from chunks
    elif fmt == "jsonl":
        yield from _read_jsonl(path, chunk_size)
    else:
        pyarrow = _require_pyarrow()
        parquet = pyarrow.parquet.ParquetFile(path)
        empty = True
        for batch in parquet.iter_batches(batch_size=chunk_size):
            empty = False
            yield batch.to_pandas(types_mapper=pd.ArrowDtype)
        if empty:
            yield parquet.schema_arrow.empty_table().to_pandas(types_mapper=pd.ArrowDtype)


def _read_jsonl(path, chunk_size):
    def frame(records):
        # object dtype keeps every value as JSON gave it (an int stays an int next to a null).
        return pd.DataFrame(records, dtype=object)

    records = []
    with _open_text(path, "r") as f:
        for line_number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}, line {line_number}: not valid JSON ({exc.msg}).") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}, line {line_number}: expected a JSON object, got {type(record).__name__}.")
            records.append(record)
            if len(records) == chunk_size:
                yield frame(records)
                records = []
    if records:
        yield frame(records)


def count_rows(path, fmt):
    """Rows of a Parquet file from its metadata; None for text formats (not counted ahead)."""
    if fmt != "parquet":
        return None
    return _require_pyarrow().parquet.ParquetFile(path).metadata.num_rows


def _json_value(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if is_missing(value):
        return None
    return str(value)


class TableWriter:
    """Appends DataFrame chunks to a CSV, TSV, JSON Lines or Parquet file."""

    def __init__(self, path, fmt):
        self.path, self.fmt = path, fmt
        self.handle = self.parquet = None

    def write(self, frame):
        if self.fmt == "parquet":
            pyarrow = _require_pyarrow()
            if self.parquet is None:
                table = pyarrow.Table.from_pandas(frame, preserve_index=False)
                self.parquet = pyarrow.parquet.ParquetWriter(self.path, table.schema)
            else:
                table = pyarrow.Table.from_pandas(frame, schema=self.parquet.schema, preserve_index=False)
            self.parquet.write_table(table)
            return
        first = self.handle is None
        if first:
            self.handle = _open_text(self.path, "w")
        if self.fmt == "jsonl":
            for record in frame.to_dict(orient="records"):
                record = {k: None if is_missing(v) else v for k, v in record.items()}
                self.handle.write(json.dumps(record, ensure_ascii=False, default=_json_value) + "\n")
        else:
            frame.to_csv(self.handle, sep="," if self.fmt == "csv" else "\t", index=False, header=first)

    def close(self):
        for sink in (self.parquet, self.handle):
            if sink is not None:
                sink.close()
        self.parquet = self.handle = None
