"""The ``skafa`` command line."""

import argparse
import sys

from . import __version__


def _demo(args):
    from .demo import run_demo

    run_demo(epochs=args.epochs, n_train=args.n_train, afa=not args.plain, seed=args.seed, verbose=int(not args.quiet))
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
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
