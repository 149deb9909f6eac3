"""``skafa report``: a self-contained HTML page of where one model (or two, side by side) looks."""

import sys
from pathlib import Path

import numpy as np

from ..persistence import load_any
from ..viz import attention_figure, to_html
from .inputs import labels_of, read_table, texts_of

N_FIGURE_TEXTS = 8  # heat strips stay readable for a handful of texts


def _names(first, second):
    """Column names for the models: their folder or file names, told apart when they are equal."""
    names = [Path(first).name or str(first)]
    if second is not None:
        names.append(Path(second).name or str(second))
        if names[0] == names[1]:
            names = [f"{names[0]} (model)", f"{names[1]} (compare)"]
    return names


def run(args):
    if args.n < 1:
        raise ValueError(f"--n must be at least 1; got {args.n}.")
    outputs = [Path(args.output)] + ([Path(args.png)] if args.png else [])
    for output in outputs:
        if output.exists() and not args.overwrite:
            raise FileExistsError(f"{output} exists; pass --overwrite to replace it.")
    paths = [args.model] + ([args.compare] if args.compare else [])
    models = dict(zip(_names(args.model, args.compare), (load_any(p) for p in paths)))
    path = Path(args.input)
    columns = [("--text-column", args.text_column)] + ([("--label-column", args.label_column)] if args.label_column else [])
    frame = read_table(path, args.input_format, columns)
    n_rows = len(frame)
    if n_rows > args.n:
        # A random sample, shown in file order so rows can be found in the input.
        rows = np.sort(np.random.default_rng(args.seed).choice(len(frame), args.n, replace=False))
        frame = frame.iloc[rows]
    texts = texts_of(frame, args.text_column, path)
    labels = labels_of(frame, args.label_column, path) if args.label_column else None
    title = f"Where {' and '.join(models)} look: {len(texts)} texts of {path.name}"
    to_html(models, texts, labels, path=args.output, title=title)
    print(args.output)
    if args.png:
        shown = slice(0, N_FIGURE_TEXTS)
        attention_figure(models, texts[shown], None if labels is None else labels[shown], path=args.png)
        print(args.png)
    if not args.quiet:
        sample = f"a random sample (seed {args.seed}) of " if n_rows > args.n else ""
        print(f"{len(texts)} texts shown: {sample}the {n_rows} rows of {path}", file=sys.stderr)
    return 0
