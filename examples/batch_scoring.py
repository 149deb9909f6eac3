"""Train once, save both ways, score a dataset file in a fresh process that sees no GPU.

    python examples/batch_scoring.py --train ../shared/datasets/sst2_sentence/train.csv \\
        --score ../shared/datasets/mr/all.csv --out /tmp/skafa-batch

The batch-scoring life cycle in one script:

1. fit a classifier in this process and save it twice: ``clf.save(folder)`` (JSON, safetensors
   and tokenizer files, loaded without running code from the folder) and ``joblib.dump`` (a
   pickle: only for files you trust);
2. run ``skafa predict`` on the ``--score`` file with each, in a fresh process started with
   ``CUDA_VISIBLE_DEVICES=""`` (as on a scoring machine without a GPU);
3. check that every input row is accounted for, in order, and that both outputs agree with the
   in-process ``predict_proba``.

Rows whose text is empty are written with an empty prediction (``--on-empty empty``) and counted.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from skafa import AFASentimentClassifier
from skafa.scoring import LABEL_COLUMN, PROBA_PREFIX, has_text


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", default="../shared/datasets/sst2_sentence/train.csv", help="CSV with text,label")
    parser.add_argument("--score", default="../shared/datasets/mr/all.csv", help="file to score (CSV/TSV/JSONL/Parquet)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--out", default="batch-scoring", help="folder for the models and scored files")
    parser.add_argument("--n-train", type=int, default=1000, help="training subset size (0 = all)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rows", type=int, default=0, help="score only the first N rows (0 = all)")
    parser.add_argument("--backbone", default=None, help="default: the packaged MiniLM-L6")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train = pd.read_csv(args.train, keep_default_na=False)
    if args.n_train:
        train = train.sample(min(args.n_train, len(train)), random_state=0)
    params = {"backbone": args.backbone} if args.backbone else {}
    clf = AFASentimentClassifier(**params, epochs=args.epochs, device="cpu", random_state=0)
    clf.fit(train.text, train.label)
    clf.save(out / "model", overwrite=True)
    joblib.dump(clf, out / "model.joblib")

    to_score = Path(args.score)
    if args.rows:
        to_score = out / f"first_{args.rows}_rows.csv"
        pd.read_csv(args.score, nrows=args.rows, keep_default_na=False).to_csv(to_score, index=False)
    texts = pd.read_csv(to_score, keep_default_na=False)[args.text_column]
    expected = clf.predict_proba(texts[has_text(texts)])

    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    for model in (out / "model", out / "model.joblib"):
        scored_path = out / f"scored_by_{model.name}.csv"
        command = [sys.executable, "-m", "skafa.cli", "predict", str(model), str(to_score), "-o", str(scored_path),
                   "--text-column", args.text_column, "--row-number-column", "row", "--on-empty", "empty",
                   "--overwrite"]
        subprocess.run(command, env=env, check=True)
        scored = pd.read_csv(scored_path, keep_default_na=False)
        if scored["row"].tolist() != list(range(len(texts))):
            raise SystemExit(f"{scored_path}: rows missing or out of order")
        predicted = scored[scored[LABEL_COLUMN].astype(str) != ""]
        proba = predicted[[f"{PROBA_PREFIX}{c}" for c in clf.classes_]].to_numpy(float)
        gap = float(np.abs(proba - expected).max())
        print(f"{model.name}: {len(texts)} rows in, {len(scored)} out, {len(predicted)} predicted, "
              f"{len(scored) - len(predicted)} without text; max |proba - in-process proba| = {gap:.1e}")
        if gap > 1e-5:
            raise SystemExit(f"{scored_path}: predictions differ from the in-process model")
    return scored


if __name__ == "__main__":
    main()
