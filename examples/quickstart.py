"""Fit, evaluate and inspect an AFA classifier on a real dataset folder.

    python examples/quickstart.py --data ../shared/datasets/sst2_sentence --n-train 2000 --epochs 2

The folder needs ``train.csv`` and ``test.csv`` with ``text`` and ``label`` columns. Defaults are
sized for a few minutes on 2 CPU cores; drop ``--n-train`` (and use a GPU) for the full set.
"""

import argparse
from pathlib import Path

import pandas as pd
from sklearn.metrics import classification_report

from skafa import AFASentimentClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/datasets/sst2_sentence")
    parser.add_argument("--n-train", type=int, default=2000, help="training subset size (0 = all)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--plain", action="store_true", help="plain fine-tuning instead of AFA")
    args = parser.parse_args()

    train = pd.read_csv(Path(args.data) / "train.csv", keep_default_na=False)
    test = pd.read_csv(Path(args.data) / "test.csv", keep_default_na=False)
    if args.n_train:
        train = train.sample(min(args.n_train, len(train)), random_state=0)

    clf = AFASentimentClassifier(epochs=args.epochs, afa=not args.plain, validation_fraction=0.1, random_state=0)
    clf.fit(train.text, train.label)
    print(classification_report(test.label, clf.predict(test.text), digits=3))

    for text, words in zip(test.text[:3], clf.token_attention(test.text[:3])):
        top = sorted(words, key=lambda pair: -pair[1])[:3]
        print(text, "->", ", ".join(f"{w} ({a:.2f})" for w, a in top))


if __name__ == "__main__":
    main()
