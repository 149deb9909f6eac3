"""``skafa predict``: score a table file with a saved model, streamed in chunks."""

import sys

from ..scoring import predict_file


def run(args):
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
    # Even with --quiet: the summary is where skipped rows are accounted for.
    print(report.summary(), file=sys.stderr)
    return 0
