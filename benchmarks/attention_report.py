"""Where plain fine-tuning and AFA look, on SST-2 (sentence level) with the default backbone.

Fits both models on the same training subset with the same seed, then on the test set measures
accuracy and the means of :class:`skafa.AttentionReport`'s statistics (frequent-word share,
entropy, comprehensiveness and sufficiency of the top-k words). Writes to ``--out``:
``attention_stats.csv`` (the table the docs show), ``attention_stats.json`` (the same with the
command, versions and date), ``compare.html`` (test sentences highlighted by both models),
``compare.png`` (heat strips of a few of them) and ``frequency.png`` (attention by training
word-frequency rank).

    python benchmarks/attention_report.py            # the run quoted in the docs
    python benchmarks/attention_report.py --quick    # smoke test of the script: a few minutes
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import sklearn
import torch
import transformers

import skafa
from skafa import AFASentimentClassifier, viz

STATISTICS = ["frequent_share", "entropy", "comprehensiveness", "sufficiency"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/datasets/sst2_sentence", help="folder with train.csv, test.csv")
    parser.add_argument("--out", default="docs/_static/attention")
    parser.add_argument("--n-train", type=int, default=800, help="random training subset (0: all)")
    parser.add_argument("--n-test", type=int, default=800, help="random test subset (0: all)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--n-frequent", type=int, default=100)
    parser.add_argument("--n-html", type=int, default=40, help="test sentences in compare.html")
    parser.add_argument("--n-figure", type=int, default=6, help="test sentences in compare.png")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke test: 300 training and 200 test texts, 1 epoch")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_train, args.n_test, args.epochs, args.n_html, args.n_figure = 300, 200, 1, 10, 4
    return args


def load(path, n, seed):
    data = pd.read_csv(path, keep_default_na=False)
    return data.sample(n, random_state=seed) if 0 < n < len(data) else data


def main(argv=None):
    args = parse_args(argv)
    train = load(Path(args.data) / "train.csv", args.n_train, args.seed)
    test = load(Path(args.data) / "test.csv", args.n_test, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    models, rows = {}, []
    for name, afa in (("plain fine-tuning", False), ("AFA", True)):
        clf = AFASentimentClassifier(epochs=args.epochs, afa=afa, random_state=args.seed, verbose=1)
        start = time.perf_counter()
        clf.fit(train.text, train.label)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        table = clf.attention_report(test.text, top_k=args.top_k, n_frequent=args.n_frequent, faithfulness=True)
        report_s = time.perf_counter() - start
        rows.append(
            {
                "model": name,
                "test_accuracy": float((table.label.to_numpy() == test.label.to_numpy()).mean()),
                **{stat: float(table[stat].mean()) for stat in STATISTICS},
                "fit_s": fit_s,
                "report_s": report_s,
            }
        )
        models[name] = clf
        print(rows[-1], flush=True)

    shown = test.sample(min(args.n_html, len(test)), random_state=args.seed)
    viz.to_html(models, shown.text, shown.label, path=out / "compare.html", title="SST-2 test sentences")
    few = shown.head(args.n_figure)
    viz.attention_figure(models, few.text, few.label, path=out / "compare.png")
    viz.frequency_figure(models, test.text, path=out / "frequency.png")

    frequent = [word for word, _ in models["AFA"].word_counts_.most_common(args.n_frequent)]
    meta = {
        "command": " ".join(["python", "benchmarks/attention_report.py", *sys.argv[1:]]),
        "quick": args.quick,
        "data": Path(args.data).name,
        "n_train": len(train),
        "n_test": len(test),
        "epochs": args.epochs,
        "top_k": args.top_k,
        "n_frequent": args.n_frequent,
        "frequent_words": frequent,
        "seed": args.seed,
        "versions": {
            "skafa": skafa.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "scikit-learn": sklearn.__version__,
            "python": platform.python_version(),
        },
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "device": models["AFA"].device_,
        "date": time.strftime("%Y-%m-%d"),
    }
    (out / "attention_stats.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    table = pd.DataFrame(rows).drop(columns=["fit_s", "report_s"]).round(4)
    table.to_csv(out / "attention_stats.csv", index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
