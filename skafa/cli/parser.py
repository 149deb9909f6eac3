"""The argparse definitions of every ``skafa`` command (the command-line docs page is generated from them)."""

import argparse

from .._version import __version__

FORMATS = ["csv", "tsv", "jsonl", "parquet"]


def _quiet(parser, what="progress bars, tables and summaries on stderr"):
    parser.add_argument("--quiet", "-q", action="store_true", help=f"no {what}")


def _model(parser):
    parser.add_argument("model", help="model folder (loaded safely) or a pickle/joblib file (trusted sources only)")


def _table_input(parser, *, labels):
    parser.add_argument(
        "input", help="a .csv, .tsv, .jsonl or .parquet file (text formats may end in .gz); header row required"
    )
    parser.add_argument("--text-column", default="text", help="column holding the texts (default: text)")
    if labels:
        parser.add_argument("--label-column", default="label", help="column holding the labels (default: label)")
    parser.add_argument("--input-format", choices=FORMATS, default=None, help="override the input's extension")


def _add_train(commands):
    train = commands.add_parser(
        "train",
        help="train a classifier on a labelled table and save it",
        description="Train a classifier on the texts and labels of INPUT and save it as a model folder (safe "
        "format, with a model card). The per-epoch table and progress go to stderr; the folder written and the "
        "validation scores to stdout. CSV/TSV labels that are all whole numbers become integer labels.",
    )
    _table_input(train, labels=True)
    train.add_argument("--output", "-o", required=True, metavar="MODEL_DIR", help="model folder to write")
    train.add_argument("--epochs", type=int, default=None, help="passes over the data (default: the estimator's, 3)")
    train.add_argument("--no-afa", action="store_true", help="plain fine-tuning instead of AFA")
    train.add_argument("--backbone", default=None, help="Hugging Face id or local folder (default: packaged MiniLM-L6)")
    train.add_argument(
        "--valid-fraction",
        type=float,
        default=None,
        metavar="F",
        help="hold out this fraction of the rows (stratified), score the model on it and record the scores in "
        "the model card",
    )
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any AFASentimentClassifier parameter, e.g. --set lr=5e-5 --set afa__reward=kl; values are read as "
        "Python literals (numbers, true/false, none) or else as text, and checked like the Python API checks them",
    )
    train.add_argument("--seed", type=int, default=None, help="random seed of training and of the split (default: 0)")
    train.add_argument("--overwrite", action="store_true", help="replace MODEL_DIR if it is a skafa model folder")
    _quiet(train, "epoch table or progress bar")
    return train


def _add_evaluate(commands):
    evaluate = commands.add_parser(
        "evaluate",
        help="score a saved model on a labelled table",
        description="Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix of MODEL on the "
        "labelled rows of INPUT (read into memory). Labels the model never saw in training are reported and "
        "counted as errors.",
    )
    _model(evaluate)
    _table_input(evaluate, labels=True)
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON instead of a table")
    evaluate.add_argument("--batch-size", type=int, default=None, help="texts per forward pass (default: the model's)")
    _quiet(evaluate)
    return evaluate


def _add_report(commands):
    report = commands.add_parser(
        "report",
        help="an HTML page of where a model looks, optionally next to a second model",
        description="A self-contained HTML page of a sample of INPUT's texts, each word shaded by the model's "
        "attention, with the prediction above each text; with --compare, a second model's column beside it.",
    )
    _model(report)
    _table_input(report, labels=False)
    report.add_argument("--label-column", default=None, help="column of true labels: shown, and wrong predictions marked")
    report.add_argument("--output", "-o", required=True, help="HTML file to write")
    report.add_argument("--n", type=int, default=50, help="texts in the sample (default: 50; all if fewer)")
    report.add_argument("--seed", type=int, default=0, help="seed of the sample (default: 0)")
    report.add_argument("--compare", default=None, metavar="OTHER_MODEL", help="a second model shown beside the first")
    report.add_argument(
        "--png", default=None, metavar="PATH", help="also a heat-strip figure of the first 8 texts (needs matplotlib)"
    )
    report.add_argument("--overwrite", action="store_true", help="replace the output files if they exist")
    _quiet(report)
    return report


def _add_info(commands):
    info = commands.add_parser(
        "info",
        help="what a model folder holds, without loading its weights",
        description="Backbone, classes, training data size, scores, parameters, the versions that wrote it, and "
        "each file's size and SHA-256, read from the folder's skafa.json; the weights are not loaded.",
    )
    info.add_argument("model", help="model folder written by skafa train or save()")
    info.add_argument("--json", action="store_true", help="print the folder's whole description as JSON")
    info.add_argument("--verify", action="store_true", help="also check every file against its recorded checksum")
    _quiet(info, "confirmation of --verify on stderr (a failed check is still an error)")
    return info


def _add_predict(commands):
    predict = commands.add_parser(
        "predict",
        help="score a CSV, TSV, JSON Lines or Parquet file with a saved model",
        description="Score every row of INPUT with MODEL and write the rows, in order, with the predicted label "
        "and one probability per class to OUTPUT. The file is streamed in chunks, so it may be larger than memory.",
    )
    _model(predict)
    _table_input(predict, labels=False)
    predict.add_argument("--output", "-o", required=True, help="file to write; format from its extension")
    predict.add_argument("--id-column", default=None, help="input column identifying rows in reports")
    predict.add_argument(
        "--row-number-column", default=None, metavar="NAME", help="add a column NAME with each row's input position"
    )
    predict.add_argument(
        "--on-empty",
        choices=["error", "skip", "empty"],
        default="error",
        help="rows with missing or empty text: stop with an error naming them (default), skip them, or write them "
        "with an empty prediction; skipped and empty rows are reported",
    )
    predict.add_argument("--top-words", type=int, default=0, metavar="K", help="add the K most attended words")
    predict.add_argument("--quantize", action="store_true", help="dynamic int8 quantisation for faster CPU scoring")
    predict.add_argument("--batch-size", type=int, default=None, help="texts per forward pass (default: the model's)")
    predict.add_argument("--chunk-size", type=int, default=4096, help="rows read and written at a time (default: 4096)")
    predict.add_argument("--output-format", choices=FORMATS, default=None, help="override the output's extension")
    predict.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    _quiet(predict, "progress bar (the summary, which accounts for skipped rows, is always printed)")
    return predict


def _add_demo(commands):
    demo = commands.add_parser("demo", help="train AFA on a small packaged sample and show where it looks")
    demo.add_argument("--epochs", type=int, default=2, help="training epochs (default: 2)")
    demo.add_argument("--n-train", type=int, default=None, help="train on this many sentences (default: all 1,600)")
    demo.add_argument("--plain", action="store_true", help="plain fine-tuning instead of AFA")
    demo.add_argument("--seed", type=int, default=0)
    _quiet(demo, "progress bar or epoch table")
    return demo


def build_parser():
    """The ``skafa`` argument parser; ``args.command`` names the module of :mod:`skafa.cli` that runs it."""
    parser = argparse.ArgumentParser(
        prog="skafa",
        description="Transformer text classifiers trained with AFA, from the shell: train, evaluate, report, "
        "info, predict. Results go to stdout, progress and messages to stderr; errors exit with code 2.",
    )
    parser.add_argument("--version", action="version", version=f"skafa {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_train, _add_evaluate, _add_report, _add_info, _add_predict, _add_demo):
        add(commands)
    return parser
