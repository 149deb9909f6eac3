"""Does AFA's adversary carry information? Diagnostics of every AFA variant on validation splits.

For each dataset (SST-2, MR by default) and variant, one fit on a training subset, scored on a
validation split carved from the training data (the test split is never read):

* the per-epoch AFA history columns (discriminator accuracy before its update, reward spread,
  share of masked copies whose prediction flips, mean |p(x) - p(x~)|, the correlation between a
  mask's reward and that change, share of masks hitting a VADER word), averaged over the fit;
* how far the fitted model is from the lambda = 0 control with the same seed and options (mean
  |dp| over the validation texts, predictions changed): does the mechanism act at all?
* per text, the Spearman correlation between a word's masking probability under the variant's
  policy and its occlusion importance (|dp(y^)| when that word alone is removed), averaged over
  texts: do the masks aim at the words that matter? (The policy is a monotone function of the
  word's attention, so this is +-Spearman(attention, occlusion); NaN for uniform masking.)
* attention share on VADER lexicon words and on the 100 most frequent training words.

Each finished fit is appended to ``results.jsonl``; ``summary.csv`` is rewritten after each.

    python benchmarks/afa_diagnostics.py --out docs/_static/afa_diagnostics
    python benchmarks/afa_diagnostics.py --quick --out /tmp/diag      # smoke test
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import accuracy  # noqa: E402  (the shared data splits and per-fit records)

from skafa import AFAOptions, AFASentimentClassifier  # noqa: E402
from skafa.inspection import attention_by_text, word_spans  # noqa: E402
from skafa.lexicon import load_lexicon  # noqa: E402

# Variant name -> (estimator parameters on top of the common ones, masking direction of its policy:
# -1 masks the complement of attention, +1 masks attention, 0 masks uniformly).
VARIANTS = {
    "plain": ({"afa": False}, 0),
    # The default before the AFA-signal work: a learned discriminator's reward, K = 2.
    "discriminator": ({"afa": AFAOptions(reward="discriminator", n_samples=2)}, -1),
    "kl": ({"afa": AFAOptions(reward="kl", n_samples=2), "afa_weight": 1.0}, -1),
    "kl_k1": ({"afa": AFAOptions(reward="kl", n_samples=1)}, -1),  # today's default
    "kl_centred": (
        {"afa": AFAOptions(reward="kl", n_samples=2, normalize_advantages=False), "afa_weight": 10.0}, -1
    ),
    "hidden_drop": (
        {"afa": AFAOptions(reward="discriminator", n_samples=2, discriminator_features="both"), "mask_mode": "drop"}, -1
    ),
    "handover_skill": (
        {"afa": AFAOptions(reward="handover", n_samples=2, skill_scaling=True, discriminator_features="both"),
         "mask_mode": "drop", "afa_weight": 1.0},
        -1,
    ),
    "explore_kl": ({"afa": AFAOptions(reward="kl", n_samples=2, exploration=0.3), "afa_weight": 1.0}, -1),
    "direct_kl": ({"afa": AFAOptions(policy="direct", reward="kl", n_samples=2), "afa_weight": 1.0}, 1),
}


def control_of(params):
    """The lambda = 0 control of a variant: same options and random stream, no policy gradient."""
    return {**params, "afa_weight": 0.0}


def occlusion_spearman(clf, texts, words_per_text, direction):
    """Mean over texts of Spearman(masking probability, occlusion importance) of their words, and of
    Spearman(attention, occlusion importance); the first is NaN for uniform masking (``direction=0``)."""
    proba = clf.predict_proba(texts)
    predicted = proba.argmax(axis=1)
    edited, owner = [], []
    for i, (text, words) in enumerate(zip(texts, words_per_text)):
        for start, end in word_spans(text, words):
            edited.append(text[:start] + text[end:])
            owner.append(i)
    edited_proba = clf.predict_proba([t if t.strip() else "." for t in edited])
    owner = np.asarray(owner)
    drops = np.abs(proba[owner, predicted[owner]] - edited_proba[np.arange(len(owner)), predicted[owner]])
    correlations = []
    for i, words in enumerate(words_per_text):
        importance = drops[owner == i]
        attention = np.array([w for _, w in words])
        if len(attention) >= 3 and np.ptp(importance) > 0 and np.ptp(attention) > 0:
            correlations.append(spearmanr(attention, importance).statistic)
    rho = float(np.nanmean(correlations)) if correlations else float("nan")
    return (direction * rho if direction else float("nan")), rho


def share(words_per_text, vocabulary):
    return float(np.mean([sum(w for word, w in words if word.strip().lower() in vocabulary) for words in words_per_text]))


AFA_COLUMNS = ("disc_acc", "reward_std", "mask_flip", "mask_dp", "reward_dp_corr", "mask_lexicon", "afa_lambda")


def run_fit(dataset, name, params, direction, args, lexicon):
    pool, evaluation, frequent = accuracy.evaluation_split(args.data_root, dataset, "valid", args.n_eval)
    train = accuracy.stratified_subset(pool, args.n_train, seed=args.seed)
    common = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "backbone": args.backbone}
    clf = AFASentimentClassifier(device="cpu", random_state=args.seed, verbose=0).set_params(**common, **params)
    start = time.perf_counter()
    clf.fit(train.text.tolist(), train.label.to_numpy())
    fit_s = time.perf_counter() - start
    texts = evaluation.text.tolist()
    logits, words = attention_by_text(clf, texts)
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    n_occ = min(args.n_occlusion, len(texts))
    mask_rho, attention_rho = occlusion_spearman(clf, texts[:n_occ], words[:n_occ], direction)
    history = clf.history_
    record = {
        "dataset": dataset,
        "variant": name,
        "seed": args.seed,
        "n_train": len(train),
        "n_eval": len(texts),
        "effective_params": accuracy.effective_params(clf),
        "accuracy": float((clf.classes_[logits.argmax(axis=1)] == evaluation.label.to_numpy()).mean()),
        "fit_s": fit_s,
        "epoch_s": [float(d) for d in history[:, "dur"]],
        "mask_occlusion_spearman": mask_rho,
        "attention_occlusion_spearman": attention_rho,
        "lexicon_share": share(words, lexicon),
        "frequent_share": share(words, frequent),
        "proba": proba[:, -1].round(5).tolist(),
    }
    for column in AFA_COLUMNS:
        values = [row[column] for row in history if column in row]
        record[column] = float(np.mean(values)) if values else None
        record[f"{column}_last"] = float(values[-1]) if values else None
    return record


def summarise(records):
    """One row per dataset x variant, with the distance to the variant's lambda = 0 control."""
    frame = pd.DataFrame(records)
    rows = []
    for (dataset, variant), group in frame.groupby(["dataset", "variant"], sort=False):
        if variant.endswith("@control"):
            continue
        row = group.iloc[-1].drop(["proba", "effective_params", "epoch_s"]).to_dict()
        control = frame[(frame.dataset == dataset) & (frame.variant == f"{variant}@control")]
        if len(control):
            a, b = np.array(group.iloc[-1].proba), np.array(control.iloc[-1].proba)
            row["dp_vs_control"] = float(np.abs(a - b).mean())
            row["changed_vs_control"] = int(((a > 0.5) != (b > 0.5)).sum())
            row["control_accuracy"] = float(control.iloc[-1].accuracy)
        rows.append(row)
    return pd.DataFrame(rows)


DOC_COLUMNS = [
    "dataset", "variant", "accuracy", "control_accuracy", "dp_vs_control", "changed_vs_control", "disc_acc_last",
    "reward_std", "mask_flip", "mask_dp", "reward_dp_corr", "mask_lexicon", "mask_occlusion_spearman",
    "attention_occlusion_spearman", "lexicon_share", "frequent_share",
]


def write_summaries(out):
    """``summary.csv`` (every column) and ``table.csv`` (the columns the docs show).

    ``epoch_ratio`` (epoch time against plain's in this run) is in the summary only: fits here share
    the machine with whatever else runs, so cost is measured by ``benchmarks/afa_cost.py``.
    """
    records = accuracy.load_records(out / "results.jsonl")
    summary = summarise(records)
    epoch_s = {(r["dataset"], r["variant"]): float(np.mean(r["epoch_s"])) for r in records}
    summary["epoch_ratio"] = [
        epoch_s[(d, v)] / epoch_s[(d, "plain")] if (d, "plain") in epoch_s else np.nan
        for d, v in zip(summary.dataset, summary.variant)
    ]
    summary.to_csv(out / "summary.csv", index=False, float_format="%.4f")
    summary[[c for c in DOC_COLUMNS if c in summary]].to_csv(out / "table.csv", index=False, float_format="%.3f")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="sst2,mr")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-eval", type=int, default=500)
    parser.add_argument("--n-occlusion", type=int, default=150, help="validation texts for the occlusion statistic")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backbone", default=accuracy.DEFAULT_BACKBONE)
    parser.add_argument("--data-root", default=str(HERE.parent.parent / "shared" / "datasets"))
    parser.add_argument("--no-controls", action="store_true", help="skip the lambda = 0 control fits")
    parser.add_argument("--quick", action="store_true", help="tiny sizes for a smoke test")
    parser.add_argument("--aggregate-only", action="store_true", help="rewrite the summaries from results.jsonl")
    parser.add_argument("--out", default=str(HERE.parent / "docs" / "_static" / "afa_diagnostics"))
    args = parser.parse_args(argv)
    if args.quick:
        args.n_train, args.n_eval, args.n_occlusion, args.epochs = 64, 32, 8, 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.aggregate_only:
        return write_summaries(out)
    lexicon = load_lexicon("vader")
    names = args.variants.split(",")
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; choose from {sorted(VARIANTS)}")
    results = out / "results.jsonl"
    done = {(r["dataset"], r["variant"]) for r in accuracy.load_records(results)}
    with (out / "commands.txt").open("a") as f:  # one line per run: results.jsonl may grow over several
        f.write(" ".join(["python", "benchmarks/afa_diagnostics.py", *(argv or sys.argv[1:])]) + "\n")
    for dataset in args.datasets.split(","):
        for name in names:
            params, direction = VARIANTS[name]
            todo = [(name, params)]
            if params.get("afa", True) is not False and not args.no_controls:
                todo.append((f"{name}@control", control_of(params)))
            for label, fit_params in todo:
                if (dataset, label) in done:
                    continue
                record = run_fit(dataset, label, fit_params, direction, args, lexicon)
                with results.open("a") as f:
                    f.write(json.dumps(record) + "\n")
                print(
                    f"{dataset} {label}: acc={record['accuracy']:.4f} disc_acc={record['disc_acc']} "
                    f"flip={record['mask_flip']} rho={record['attention_occlusion_spearman']:.3f} fit={record['fit_s']:.0f}s",
                    flush=True,
                )
                write_summaries(out)


if __name__ == "__main__":
    main()
