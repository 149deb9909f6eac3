"""Plain fine-tuning vs AFA on SST-2 (sentence level, train -> test) with the default backbone.

Measures, in one run and on one machine: test accuracy and macro-F1, wall-clock fit time per
epoch, and prediction throughput; writes JSON and a Markdown table next to the docs.

    python benchmarks/sst2_core.py --data ../shared/datasets/sst2_sentence --out docs/_static/bench
"""

import argparse
import json
import platform
import time
from pathlib import Path

import pandas as pd
import torch
from sklearn.metrics import accuracy_score, f1_score

import skafa
from skafa import AFASentimentClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/datasets/sst2_sentence")
    parser.add_argument("--out", default="docs/_static/bench")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=None, help="use a random subset of the training set")
    args = parser.parse_args()

    train = pd.read_csv(Path(args.data) / "train.csv")
    test = pd.read_csv(Path(args.data) / "test.csv")
    if args.n_train:
        train = train.sample(args.n_train, random_state=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for afa in (False, True):
        clf = AFASentimentClassifier(epochs=args.epochs, afa=afa, random_state=args.seed, verbose=1)
        start = time.perf_counter()
        clf.fit(train.text, train.label)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        pred = clf.predict(test.text)
        predict_s = time.perf_counter() - start
        epoch_s = [float(d) for d in clf.history_[:, "dur"]]
        rows.append(
            {
                "method": "AFA" if afa else "plain fine-tuning",
                "test_accuracy": accuracy_score(test.label, pred),
                "test_macro_f1": f1_score(test.label, pred, average="macro"),
                "fit_s": fit_s,
                "epoch_s": sum(epoch_s) / len(epoch_s),
                "predict_texts_per_s": len(test) / predict_s,
            }
        )
        print(rows[-1], flush=True)
    rows[1]["epoch_time_ratio"] = rows[1]["epoch_s"] / rows[0]["epoch_s"]
    rows[0]["epoch_time_ratio"] = 1.0
    meta = {
        "command": "python benchmarks/sst2_core.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None),
        "n_train": len(train),
        "n_test": len(test),
        "epochs": args.epochs,
        "seed": args.seed,
        "skafa": skafa.__version__,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "date": time.strftime("%Y-%m-%d"),
    }
    write_results(rows, meta, out)
    print(pd.DataFrame(rows).round(4).to_string(index=False))


def write_results(rows, meta, out):
    """JSON with everything, and a rounded CSV that the docs include as a table."""
    (out / "sst2_core.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    pd.DataFrame(rows).round(4).to_csv(out / "sst2_core.csv", index=False)

if __name__ == "__main__":
    main()
