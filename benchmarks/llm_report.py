"""The LLM-backbone table: prompted references, fine-tuning, AFA and its control, per backbone and dataset.

Reads ``prompting.jsonl`` (``benchmarks/llm_prompting.py``) and the ``results.jsonl`` of one or
more ``benchmarks/accuracy.py`` runs on a decoder backbone, and writes ``table.csv``: accuracy mean
and standard deviation over seeds (few-shot: over example draws), and for AFA its paired difference
to plain fine-tuning of the same kind (LoRA or full) and to its lambda = 0 control with t-test
p-values, and its relative gain over that plain fine-tuning and over the zero-shot model, the
figures to set beside the paper's "12.6%".

    python benchmarks/llm_report.py docs/_static/llm --runs lora
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from accuracy import load_records  # noqa: E402
from accuracy_report import paired_tests  # noqa: E402

# accuracy.py method spec -> row name, for LoRA and for full fine-tuning (lora_r None or 0).
ROWS = {
    "lora": {"plain": "LoRA fine-tuning", "afa": "AFA + LoRA", "afa:afa_weight=0": "AFA + LoRA, lambda = 0 control"},
    "full": {"plain": "full fine-tuning", "afa": "AFA + full fine-tuning",
             "afa:afa_weight=0": "AFA + full fine-tuning, lambda = 0 control"},
}
ORDER = [name for rows in ROWS.values() for name in rows.values()]


def fine_tuning_rows(records):
    frame = pd.DataFrame(records)
    kinds = ["full" if r["effective_params"].get("lora_r") in (None, 0) else "lora" for r in records]
    frame["row"] = [ROWS[kind].get(r["method"], r["method"]) for kind, r in zip(kinds, records)]
    frame["backbone"] = [r["effective_params"]["backbone"] for r in records]
    return frame


def table_rows(backbone, dataset, here, prompting):
    """The rows of one backbone on one dataset: the prompted references measured, then fine-tuning."""
    rows = []
    zero_shot = prompting[prompting.method == "zero_shot"].accuracy
    zero = zero_shot.mean()  # NaN when not measured: no gain over it either
    few = prompting[prompting.method == "few_shot"].accuracy
    if len(zero_shot):
        rows.append({"method": "zero-shot (skorch.llm)", "accuracy": zero, "std": np.nan, "seeds": 1})
    if len(few):
        rows.append({"method": "few-shot, 5 examples (skorch.llm)", "accuracy": few.mean(),
                     "std": few.std(ddof=1) if len(few) > 1 else np.nan, "seeds": len(few)})
    by_seed = {name: group.set_index("seed").accuracy for name, group in here.groupby("row")}
    for name, acc in sorted(by_seed.items(), key=lambda item: ORDER.index(item[0]) if item[0] in ORDER else len(ORDER)):
        row = {"method": name, "accuracy": acc.mean(), "std": acc.std(ddof=1) if len(acc) > 1 else np.nan,
               "seeds": len(acc), "fit_min": here[here.row == name].fit_s.mean() / 60,
               "peak_rss_gb": here[here.row == name].peak_rss_mb.max() / 1024}
        kind = next((kind for kind, names in ROWS.items() if name == names["afa"]), None)
        if kind:  # AFA against plain fine-tuning of the same kind and against its control
            for other, label in ((ROWS[kind]["plain"], "plain"), (ROWS[kind]["afa:afa_weight=0"], "control")):
                if other in by_seed:
                    diff, p, _ = paired_tests(acc.to_dict(), by_seed[other].to_dict())
                    row[f"d_vs_{label}"], row[f"p_vs_{label}"] = diff, p
            if ROWS[kind]["plain"] in by_seed:
                row["rel_gain_vs_plain_pct"] = 100 * (acc.mean() / by_seed[ROWS[kind]["plain"]].mean() - 1)
            row["rel_gain_vs_zero_shot_pct"] = 100 * (acc.mean() / zero - 1)
        rows.append(row)
    return [{"backbone": backbone, "dataset": dataset, **row} for row in rows]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="holds prompting.jsonl and the runs' folders")
    parser.add_argument("--runs", default="lora", help="comma-separated accuracy.py output folders inside FOLDER")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    prompting = pd.DataFrame([json.loads(line) for line in (folder / "prompting.jsonl").read_text().splitlines()])
    records = [r for run in args.runs.split(",") for r in load_records(folder / run / "results.jsonl")]
    tuned = fine_tuning_rows(records)
    rows = []
    for (backbone, dataset), here in tuned.groupby(["backbone", "dataset"], sort=False):
        rows.extend(table_rows(backbone, dataset, here, prompting[(prompting.backbone == backbone)
                                                                   & (prompting.dataset == dataset)]))
    table = pd.DataFrame(rows)
    table.to_csv(folder / "table.csv", index=False, float_format="%.4f")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
