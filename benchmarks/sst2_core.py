"""Plain fine-tuning vs AFA on SST-2 (sentence level, train -> dev and test) with the default backbone.

Measures, in one run and on one machine: dev and test accuracy, test macro-F1, wall-clock fit
time per epoch, and prediction throughput, for every method x learning rate. The dev split is
the one to choose a learning rate on; the test split is reported for every fit, chosen or not.
Each finished fit is written at once (JSON and a CSV table next to the docs), so a run cut short
keeps what it measured.

    python benchmarks/sst2_core.py --epochs 2 --lrs 1e-4,2e-4,5e-5 --out docs/_static/bench
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
    parser.add_argument("--lrs", default=None, help="comma-separated learning rates (default: the estimator's)")
    parser.add_argument("--methods", default="plain,afa", help="from plain, afa")
    parser.add_argument("--n-train", type=int, default=None, help="use a random subset of the training set")
    parser.add_argument("--save-models", default=None, help="folder to save every fitted model in (clf.save)")
    args = parser.parse_args()

    data = Path(args.data)
    train = pd.read_csv(data / "train.csv")
    dev = pd.read_csv(data / "dev.csv")
    test = pd.read_csv(data / "test.csv")
    if args.n_train:
        train = train.sample(args.n_train, random_state=args.seed)
    lrs = [float(v) for v in args.lrs.split(",")] if args.lrs else [AFASentimentClassifier().lr]
    methods = args.methods.split(",")
    unknown = set(methods) - {"plain", "afa"}
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from plain, afa")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": "python benchmarks/sst2_core.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None),
        "n_train": len(train),
        "n_dev": len(dev),
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
    rows = []
    for lr in lrs:
        for method in methods:
            clf = AFASentimentClassifier(
                epochs=args.epochs, lr=lr, afa=method == "afa", random_state=args.seed, verbose=1
            )
            start = time.perf_counter()
            clf.fit(train.text, train.label)
            fit_s = time.perf_counter() - start
            dev_pred = clf.predict(dev.text)
            start = time.perf_counter()
            pred = clf.predict(test.text)
            predict_s = time.perf_counter() - start
            epoch_s = [float(d) for d in clf.history_[:, "dur"]]
            rows.append(
                {
                    "method": "AFA" if method == "afa" else "plain fine-tuning",
                    "lr": lr,
                    "dev_accuracy": accuracy_score(dev.label, dev_pred),
                    "test_accuracy": accuracy_score(test.label, pred),
                    "test_macro_f1": f1_score(test.label, pred, average="macro"),
                    "fit_s": fit_s,
                    "epoch_s": sum(epoch_s) / len(epoch_s),
                    "epochs_s": epoch_s,
                    "predict_texts_per_s": len(test) / predict_s,
                }
            )
            if args.save_models:
                clf.save(Path(args.save_models) / f"{method}_lr{lr:g}")
            print(rows[-1], flush=True)
            write_results(rows, meta, out)
    print(pd.read_csv(out / "sst2_core.csv").to_string(index=False))


def write_results(rows, meta, out):
    """JSON with everything, and a rounded CSV that the docs include as a table.

    ``epoch_time_ratio`` is each fit's mean epoch time over plain fine-tuning's at the same
    learning rate in this run.
    """
    table = pd.DataFrame(rows).drop(columns="epochs_s")
    plain = table[table.method == "plain fine-tuning"].set_index("lr").epoch_s
    table["epoch_time_ratio"] = table.epoch_s / table.lr.map(plain)
    (out / "sst2_core.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    table.round({c: 4 for c in table.columns if c != "lr"}).to_csv(out / "sst2_core.csv", index=False)


if __name__ == "__main__":
    main()
