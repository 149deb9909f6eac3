"""The ``skafa`` command line: ``train``, ``evaluate``, ``report``, ``info``, ``predict`` and ``demo``.

Each command is a module of this package with a ``run(args)`` function; the argparse definitions
are in :mod:`skafa.cli.parser` (the documentation's command-line page is generated from them).
Results go to stdout and everything for people watching (progress, the epoch table, summaries)
to stderr, so commands compose in pipelines. A problem with the invocation or its inputs is one
line ``skafa <command>: error: ...`` on stderr and exit code 2, as argparse does for bad flags.
"""

import importlib
import os
import sys

from ..progress import interactive
from .parser import build_parser

# Problems the user can fix (bad files, columns, parameters, models): one line, no traceback.
USER_ERRORS = (ValueError, TypeError, KeyError, OSError, ImportError)
EXIT_USAGE = 2


def _message(exc):
    # A KeyError's str() is the repr of its argument; its argument is the message.
    return exc.args[0] if isinstance(exc, KeyError) and exc.args else exc


def main(argv=None):
    """Run the ``skafa`` command with the arguments ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage or help: exit 2 or 0 as it says
        return exc.code
    if getattr(args, "quiet", False) or not interactive():
        # transformers' own bars (loading and writing weights) would land in logs as carriage-return noise.
        from transformers.utils import logging

        logging.disable_progress_bar()
    command = importlib.import_module(f"{__name__}.{args.command}")
    try:
        return command.run(args)
    except BrokenPipeError:
        # The reader of stdout went away (``skafa evaluate ... | head``): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except USER_ERRORS as exc:
        print(f"skafa {args.command}: error: {_message(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"skafa {args.command}: interrupted", file=sys.stderr)
        return 130
