"""CPU cost of the accuracy benchmark's default run, from fits that ``accuracy.py`` already recorded.

Trains nothing: it reads ``results.jsonl`` files written by ``benchmarks/accuracy.py`` on a CPU
with one torch thread per fit, pools their fits per kind of text (sentences, or IMDB reviews)
and method, and writes

``throughput.csv``
    training texts (texts x epochs) per CPU second of the fit, model loading and tokenisation
    included (``fit_cpu_s``), and evaluation texts per CPU second (``eval_cpu_s``; for records
    older than that field, per wall-clock second, ``eval_s``), with the number of fits and the
    result folders they come from;
``estimate.csv``
    the CPU seconds the default run (``python benchmarks/accuracy.py``: its datasets, methods,
    seeds, epochs and subset sizes) needs at those rates, per dataset and in total, and the
    wall-clock minutes with ``--jobs 2`` on two free cores;
``cost.json``
    both tables, the sources and the command.

Methods without a measured rate take the rate of the method that runs the same passes:
``afa_random`` that of ``afa``, ``token_dropout`` that of ``plain``, and ``afa_kl``, where it
was not measured, that of ``afa``.

    python benchmarks/cpu_cost.py
"""

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
STATIC = HERE.parent / "docs" / "_static"
SOURCES = [
    STATIC / "accuracy_cpu",  # sentences: SST-2, MR, CR; plain and afa; 30 fits, nothing else running
    STATIC / "accuracy_tuning" / "afa_params",  # sentences: SST-2; also afa_kl
    STATIC / "accuracy_cost" / "imdb_cpu",  # IMDB reviews: plain and afa
]
SAME_PASSES = {"afa_random": "afa", "token_dropout": "plain", "afa_kl": "afa"}


def relative(folder):
    folder = Path(folder).resolve()
    return str(folder.relative_to(HERE.parent)) if folder.is_relative_to(HERE.parent) else str(folder)


def kind(dataset):
    return "IMDB" if dataset == "imdb" else "sentences"


def load(folders):
    rows = []
    for folder in folders:
        for line in (Path(folder) / "results.jsonl").read_text().splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            # Only CPU fits on one thread, and only methods without overrides ("afa", not "afa:lr=...").
            if record.get("device") != "cpu" or record.get("threads") != 1 or ":" in record["method"]:
                continue
            eval_cpu = record.get("eval_cpu_s")
            rows.append(
                {
                    "texts": kind(record["dataset"]),
                    "method": record["method"],
                    "train_texts": record["n_train_used"] * record["params"]["epochs"],
                    "fit_cpu_s": record["fit_cpu_s"],
                    "n_eval": record["n_eval"],
                    "eval_s": eval_cpu if eval_cpu is not None else record["eval_s"],
                    "eval_clock": "cpu" if eval_cpu is not None else "wall",
                    "source": relative(folder),
                }
            )
    return pd.DataFrame(rows)


def throughput(fits):
    """Pooled rates per (texts, method): total texts over total seconds."""
    rows = []
    for (texts, method), group in fits.groupby(["texts", "method"], sort=False):
        rows.append(
            {
                "texts": texts,
                "method": method,
                "fits": len(group),
                "train_texts_per_cpu_s": group.train_texts.sum() / group.fit_cpu_s.sum(),
                "eval_texts_per_s": group.n_eval.sum() / group.eval_s.sum(),
                "eval_clock": "/".join(sorted(set(group.eval_clock))),
                "sources": " ".join(sorted(set(group.source))),
            }
        )
    return pd.DataFrame(rows)


def rate(rates, texts, method, field):
    while True:
        found = rates[(rates.texts == texts) & (rates.method == method)]
        if len(found):
            return float(found[field].iloc[0]), method
        if method not in SAME_PASSES:
            raise SystemExit(f"no measured rate for {method} on {texts}")
        method = SAME_PASSES[method]


def default_run_estimate(rates, data_root):
    """CPU seconds of ``python benchmarks/accuracy.py`` with its defaults, at the measured rates."""
    sys.path.insert(0, str(HERE))
    import accuracy  # the harness's own defaults, so the estimate follows them

    args = accuracy.parse_args(["--data-root", str(data_root)])
    n_train = accuracy.per_dataset(args.n_train, args.datasets, "n_train")
    n_test = accuracy.per_dataset(args.n_test, args.datasets, "n_test")
    rows = []
    for dataset in args.datasets:
        texts = kind(dataset)
        _, test = accuracy.load_dataset(str(data_root), dataset)
        n_eval = len(test) if n_test[dataset] is None else min(n_test[dataset], len(test))
        cpu_s = 0.0
        for method in args.methods:
            train_rate, _ = rate(rates, texts, method, "train_texts_per_cpu_s")
            eval_rate, _ = rate(rates, texts, method, "eval_texts_per_s")
            cpu_s += args.seeds * (n_train[dataset] * args.epochs / train_rate + n_eval / eval_rate)
        rows.append(
            {
                "dataset": dataset,
                "fits": args.seeds * len(args.methods),
                "n_train": n_train[dataset],
                "epochs": args.epochs,
                "n_eval": n_eval,
                "cpu_s": cpu_s,
            }
        )
    frame = pd.DataFrame(rows)
    total = {"dataset": "total", "fits": int(frame.fits.sum()), "cpu_s": float(frame.cpu_s.sum())}
    frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    frame = frame.astype({"n_train": "Int64", "epochs": "Int64", "n_eval": "Int64"})
    frame["minutes_jobs_2"] = frame.cpu_s / 2 / 60  # two one-thread fits at a time on two free cores
    mapping = {
        kind(d): {m: rate(rates, kind(d), m, "train_texts_per_cpu_s")[1] for m in args.methods} for d in args.datasets
    }
    return frame, {"datasets": args.datasets, "methods": args.methods, "seeds": args.seeds, "epochs": args.epochs,
                   "rate_used_for_method": mapping}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", nargs="+", default=[str(p) for p in SOURCES],
                        help="folders holding an accuracy.py results.jsonl from CPU runs")
    parser.add_argument("--data-root", default=str(HERE.parent.parent / "shared" / "datasets"))
    parser.add_argument("--out", default=str(STATIC / "accuracy_cost"))
    args = parser.parse_args(argv)
    rates = throughput(load(args.results))
    estimate, config = default_run_estimate(rates, args.data_root)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rates.round({"train_texts_per_cpu_s": 1, "eval_texts_per_s": 1}).to_csv(out / "throughput.csv", index=False)
    estimate.round({"cpu_s": 0, "minutes_jobs_2": 0}).astype({"cpu_s": int, "minutes_jobs_2": int}).to_csv(
        out / "estimate.csv", index=False
    )
    meta = {
        "command": "python benchmarks/cpu_cost.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": time.strftime("%Y-%m-%d"),
        "sources": [relative(folder) for folder in args.results],
        "default_run": config,
    }
    (out / "cost.json").write_text(json.dumps(
        {"meta": meta, "throughput": rates.to_dict("records"), "estimate": estimate.to_dict("records")}, indent=2
    ))
    print(rates.round(1).to_string(index=False))
    print(estimate.round(0).to_string(index=False))


if __name__ == "__main__":
    main()
