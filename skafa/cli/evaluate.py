"""``skafa evaluate``: accuracy, macro-F1, per-class report and confusion matrix of a saved model on a table."""

import json
from pathlib import Path

from ..evaluation import evaluate
from ..persistence import load_any
from ..scoring import scoring_copy
from .inputs import labels_of, read_table, texts_of


def run(args):
    path = Path(args.input)
    clf = scoring_copy(load_any(args.model), batch_size=args.batch_size)
    frame = read_table(path, args.input_format, [("--text-column", args.text_column),
                                                  ("--label-column", args.label_column)])
    scores = evaluate(clf, texts_of(frame, args.text_column, path), labels_of(frame, args.label_column, path))
    print(json.dumps(scores.to_dict(), indent=2) if args.json else scores.summary())
    return 0
