"""The ``skafa`` command line."""

import argparse
import sys

from ._version import __version__


def _demo(args):
    from .demo import run_demo

    run_demo(epochs=args.epochs, n_train=args.n_train, afa=not args.plain, seed=args.seed, verbose=int(not args.quiet))
    return 0


def _predict(args):
    from .scoring import predict_file

    try:
        report = predict_file(
            args.model,
            args.input,
            args.output,
            text_column=args.text_column,
            id_column=args.id_column,
            row_number_column=args.row_number_column,
            on_empty=args.on_empty,
            top_words=args.top_words,
            input_format=args.input_format,
            output_format=args.output_format,
            chunk_size=args.chunk_size,
            batch_size=args.batch_size,
            quantize=args.quantize,
            progress=not args.quiet,
            overwrite=args.overwrite,
        )
    except (ValueError, TypeError, KeyError, OSError, ImportError) as exc:
        # Input and model problems are the user's to fix: say what is wrong, without a traceback.
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"skafa predict: error: {message}", file=sys.stderr)
        return 1
    print(report.summary(), file=sys.stderr)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="skafa", description="Transformer text classifiers trained with AFA.")
    parser.add_argument("--version", action="version", version=f"skafa {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="train AFA on a small packaged sample and show where it looks")
    demo.add_argument("--epochs", type=int, default=2, help="training epochs (default: 2)")
    demo.add_argument("--n-train", type=int, default=None, help="train on this many sentences (default: all 1,600)")
    demo.add_argument("--plain", action="store_true", help="plain fine-tuning instead of AFA")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quiet", action="store_true", help="no progress bar or epoch table")
    demo.set_defaults(run=_demo)

    formats = ["csv", "tsv", "jsonl", "parquet"]
    predict = commands.add_parser(
        "predict",
        help="score a CSV, TSV, JSON Lines or Parquet file with a saved model",
        description="Score every row of INPUT with MODEL and write the rows, in order, with the predicted label "
        "and one probability per class to OUTPUT. The file is streamed in chunks, so it may be larger than memory.",
    )
    predict.add_argument("model", help="folder written by save() (loaded safely) or a pickle/joblib file (trusted only)")
    predict.add_argument("input", help="file to score: .csv, .tsv, .jsonl or .parquet (text formats may end in .gz)")
    predict.add_argument("--output", "-o", required=True, help="file to write; format from its extension")
    predict.add_argument("--text-column", default="text", help="column holding the texts (default: text)")
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
    predict.add_argument("--input-format", choices=formats, default=None, help="override the input's extension")
    predict.add_argument("--output-format", choices=formats, default=None, help="override the output's extension")
    predict.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(run=_predict)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
