"""``skafa train``: a labelled table in, a saved model folder (with its model card) out."""

import contextlib
import difflib
import sys
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from ..estimator import AFASentimentClassifier
from ..evaluation import evaluate
from ..model_card import ModelCardData
from ..params import AFAOptions, validate_params
from ..safe_format import CONFIG_FILE
from .inputs import labels_of, parse_assignments, read_table, texts_of

# Parameters a run cannot take from the shell: Python objects, or set by the command's own flags.
NOT_SETTABLE = {"callbacks": "it takes Python objects", "verbose": "use --quiet"}
# The flags that set a parameter, by the parameter's name.
FLAGS = {"epochs": "--epochs", "backbone": "--backbone", "afa": "--no-afa", "random_state": "--seed"}


def estimator(args):
    """The classifier the flags and ``--set`` describe, its parameters checked before any data is read."""
    given = {"epochs": args.epochs, "backbone": args.backbone, "afa": False if args.no_afa else None,
             "random_state": args.seed}
    params = {name: value for name, value in given.items() if value is not None}
    known = set(AFASentimentClassifier().get_params(deep=False))
    options = {f"afa__{name}" for name in AFAOptions().get_params()}
    for name, value in parse_assignments(args.set).items():
        if name in NOT_SETTABLE:
            raise ValueError(f"--set {name}: not available from the command line ({NOT_SETTABLE[name]}).")
        if name in params:
            raise ValueError(f"{name} is given twice: by {FLAGS[name]} and by --set {name}=...")
        if name not in known | options:
            close = difflib.get_close_matches(name, sorted(known | options), n=3)
            hint = f"did you mean {' or '.join(close)}?" if close else "see the API reference for the parameters."
            raise ValueError(f"--set {name}: AFASentimentClassifier has no parameter {name!r}; {hint}")
        params[name] = value
    # A run from the shell is reproducible unless asked otherwise (--set random_state=none).
    params.setdefault("random_state", 0)
    params["verbose"] = 0 if args.quiet else 1
    clf = AFASentimentClassifier().set_params(**params)
    validate_params(clf.get_params(deep=False))
    return clf


def check_output(output, overwrite):
    """Refuse, before training, an output that exists (unless replaceable) or whose folder does not."""
    if output.exists() and not (overwrite and (output / CONFIG_FILE).is_file()):
        why = "pass --overwrite to replace it" if (output / CONFIG_FILE).is_file() else "it is not a skafa model folder"
        raise FileExistsError(f"{output} exists; {why}.")
    if not output.parent.is_dir():
        raise FileNotFoundError(f"the folder {output.parent} for {output.name} does not exist.")


def check_classes(labels, valid_fraction, path, column):
    """At least two classes, each with two rows, and a validation part that can hold every class."""
    counts = pd.Series(labels).value_counts()
    if len(counts) < 2:
        raise ValueError(f"column {column!r} of {path} holds a single label ({counts.index[0]!r}); "
                         "a classifier needs at least two.")
    few = counts[counts < 2]
    if len(few):
        listed = ", ".join(f"{label!r}" for label in few.index[:10])
        raise ValueError(f"too few rows per class: {listed} {'has' if len(few) == 1 else 'have'} a single row in "
                         f"column {column!r} of {path}; each class needs at least 2 (fix or drop the rows).")
    if valid_fraction is not None:
        if not 0 < valid_fraction < 1:
            raise ValueError(f"--valid-fraction must be between 0 and 1; got {valid_fraction}.")
        n_valid, n_train = round(valid_fraction * len(labels)), len(labels) - round(valid_fraction * len(labels))
        if min(n_valid, n_train) < len(counts):
            raise ValueError(f"too few rows per class: --valid-fraction {valid_fraction} splits {len(labels)} rows "
                             f"into {n_train} for training and {n_valid} for validation, and each part needs at "
                             f"least one row of each of the {len(counts)} classes.")


def run(args):
    clf = estimator(args)
    output = Path(args.output)
    check_output(output, args.overwrite)
    path = Path(args.input)
    frame = read_table(path, args.input_format, [("--text-column", args.text_column),
                                                  ("--label-column", args.label_column)])
    texts, labels = texts_of(frame, args.text_column, path), labels_of(frame, args.label_column, path)
    check_classes(labels, args.valid_fraction, path, args.label_column)
    card = ModelCardData(dataset=path.name)
    split_seed = clf.random_state if isinstance(clf.random_state, int) else 0
    if args.valid_fraction is not None:
        texts, valid_texts, labels, valid_labels = train_test_split(
            texts, labels, test_size=args.valid_fraction, stratify=labels, random_state=split_seed
        )
    # The epoch table is for people: on stderr, so stdout carries only the result.
    with contextlib.redirect_stdout(sys.stderr):
        clf.fit(texts, labels)
    if args.valid_fraction is not None:
        scores = evaluate(clf, valid_texts, valid_labels)
        card.metrics = {"accuracy": scores.accuracy, "macro_f1": scores.macro_f1}
        card.evaluated_on = (f"{scores.n_rows} texts of {path.name} held out from training "
                             f"(stratified {args.valid_fraction:.0%}, seed {split_seed})")
    clf.save(output, overwrite=args.overwrite, card_data=card)
    print(f"saved {output} ({len(texts)} training texts, {clf.n_epochs_} epoch{'s' if clf.n_epochs_ > 1 else ''})")
    if card.metrics:
        print(f"validation accuracy {card.metrics['accuracy']:.4f}  macro-F1 {card.metrics['macro_f1']:.4f}  "
              f"on {scores.n_rows} held-out texts")
    return 0
