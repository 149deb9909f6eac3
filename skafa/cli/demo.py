"""``skafa demo``: train on the packaged sample and show where the model looks."""

from ..demo import run_demo


def run(args):
    run_demo(epochs=args.epochs, n_train=args.n_train, afa=not args.plain, seed=args.seed, verbose=int(not args.quiet))
    return 0
