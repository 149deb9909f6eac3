"""AFA candidates against plain fine-tuning and against their lambda = 0 controls, from an accuracy run.

Reads the ``results.jsonl`` of ``benchmarks/accuracy.py`` and writes ``comparison.csv``: per
dataset and pooled over datasets (the mean of the per-dataset differences, paired by seed), the
accuracy difference of each candidate to plain fine-tuning and to its control (same options and
random stream, ``afa_weight=0``), with paired t-test p-values over the seeds.

    python benchmarks/afa_signal_report.py docs/_static/accuracy_afa_signal \\
        --pair afa afa:afa_weight=0 --pair afa:afa__reward=kl:afa_weight=1.0 afa:afa__reward=kl:afa_weight=0
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from accuracy import load_records  # noqa: E402
from accuracy_report import paired_tests  # noqa: E402


def pooled(frame, method, other):
    """Per seed, the mean over datasets of (method - other); datasets missing either are skipped."""
    per_seed = {}
    for seed, group in frame.groupby("seed"):
        diffs = []
        for _, rows in group.groupby("dataset"):
            a, b = rows[rows.method == method].accuracy, rows[rows.method == other].accuracy
            if len(a) and len(b):
                diffs.append(a.iloc[0] - b.iloc[0])
        if diffs:
            per_seed[seed] = float(np.mean(diffs))
    return per_seed


def compare(records, pairs):
    frame = pd.DataFrame(records)
    rows = []
    for method, control in pairs:
        for dataset in [*sorted(frame.dataset.unique()), "mean"]:
            here = frame if dataset == "mean" else frame[frame.dataset == dataset]
            row = {"method": method, "control": control, "dataset": dataset}
            for name, other in (("plain", "plain"), ("control", control)):
                if dataset == "mean":
                    diffs = pooled(here, method, other)
                    d, p, _ = paired_tests(diffs, dict.fromkeys(diffs, 0.0))
                else:
                    acc = lambda m: dict(zip(here[here.method == m].seed, here[here.method == m].accuracy))  # noqa: E731
                    d, p, _ = paired_tests(acc(method), acc(other))
                row[f"d_acc_vs_{name}"], row[f"p_vs_{name}"] = d, p
            row["acc_mean"] = here[here.method == method].groupby("seed").accuracy.mean().mean()
            row["seeds"] = here[here.method == method].seed.nunique()
            rows.append(row)
    return pd.DataFrame(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="folder of an accuracy run (holds results.jsonl)")
    parser.add_argument("--pair", nargs=2, action="append", required=True, metavar=("METHOD", "CONTROL"),
                        help="a candidate and its control, method specs as in the run")
    args = parser.parse_args(argv)
    run = Path(args.run)
    table = compare(load_records(run / "results.jsonl"), [tuple(pair) for pair in args.pair])
    table.to_csv(run / "comparison.csv", index=False, float_format="%.4f")
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
