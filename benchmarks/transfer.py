"""Cross-domain transfer (issue 12): train on SST-2 sentences, score the same model on other domains.

Each fit is one method x seed of :class:`skafa.AFASentimentClassifier`, trained on a stratified
subset of the SST-2 sentence training split (``--n-train``, default 1,000; 2 epochs; the default
backbone) and then scored with ``predict`` on every target:

* ``sst2_dev``: the SST-2 sentence dev split (872), the in-domain reference (not in the mean);
* ``mr``: 1,000 texts of MR (stratified, seed 0) among those that are *not* SST-2 training
  sentences. SST was built from the same Rotten Tomatoes snippets: about half of MR is in the
  SST-2 sentence training split (compared lower-cased, letters and digits only), so those are
  dropped before sampling. MR is the same source as SST-2: the nearest of the targets;
* ``cr``: 1,000 texts of CR (stratified, seed 0; nothing of CR is trained on);
* ``imdb``: 500 texts of the IMDB test split (stratified, seed 0, as in accuracy.py);
* ``amazon_<domain>``: the Amazon multi-domain dev split, one target per domain (books, dvd,
  electronics, kitchen, airline; 300 each);
* ``yelp``: TextFooler's 1,000 Yelp polarity reviews.

All subsets are fixed (seed 0) and the same for every fit. Long texts (IMDB, Amazon, Yelp) are cut
to 128 tokens with ``truncation="head_tail"`` (a quarter from the beginning, the rest from the end),
set for all methods through ``--param`` (SST-2 training sentences are far below 128 tokens, so it
changes nothing in training).

The fits run through accuracy.py's machinery (cells, method specs ``name[:key=value...]``,
``effective_params``, ``execute`` with ``--jobs``/``--threads``/``--time-budget``); each finished fit
is appended to ``results.jsonl`` (per-target accuracies under ``accuracy_by_target``; ``accuracy``
is their mean over the transfer targets) and ``--resume`` skips the finished ones. The report
(``comparison.csv``, written at the end and by ``--report``) pairs each AFA candidate with plain
fine-tuning and with its lambda = 0 control (the same parameters with ``afa_weight=0``) by seed,
per target and as the mean over the transfer targets, with paired t-test p-values (via
afa_signal_report.compare).

    OMP_NUM_THREADS=1 python benchmarks/transfer.py --threads 1 --seeds 10 \\
        --methods plain,afa,afa:afa_weight=0
    python benchmarks/transfer.py --report
    python benchmarks/transfer.py --quick --out /tmp/transfer     # smoke test
"""

import argparse
import functools
import json
import os
import re
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, f1_score

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import accuracy  # noqa: E402  (cells, method specs, data helpers, execute)
from accuracy_report import git_commit  # noqa: E402
from afa_signal_report import compare  # noqa: E402

from skafa import AFASentimentClassifier  # noqa: E402
from skafa.training import resolve_device  # noqa: E402

TRAIN_DATASET = "sst2"  # accuracy.DATASETS key: the SST-2 sentence splits
IN_DOMAIN = "sst2_dev"
AMAZON_DOMAINS = ("books", "dvd", "electronics", "kitchen", "airline")


@dataclass(frozen=True)
class Target:
    """A scoring set: ``stem`` of a CSV in ``folder``, optionally one ``domain``, a fixed subset of ``n``."""

    folder: str
    stem: str
    n: int | None = None
    domain: str | None = None
    unseen: bool = False  # drop texts that are in the SST-2 sentence training split


TARGETS = {
    IN_DOMAIN: Target("sst2_sentence", "dev"),
    "mr": Target("mr", "all", n=1000, unseen=True),
    "cr": Target("cr", "all", n=1000),
    "imdb": Target("imdb", "test", n=500),
    **{f"amazon_{d}": Target("amazon_multidomain", "dev", domain=d) for d in AMAZON_DOMAINS},
    "yelp": Target("textfooler_attack_sets", "yelp_1000"),
}
TRANSFER = [name for name in TARGETS if name != IN_DOMAIN]


def normalise(text):
    """Lower-cased letters and digits only, PTB brackets undone: SST-2 and MR tokenise differently."""
    return re.sub(r"[^a-z0-9]", "", text.lower().replace("-lrb-", "(").replace("-rrb-", ")"))


@functools.lru_cache(maxsize=None)
def load_target(data_root, name, n_eval=None):
    """The fixed scoring frame (``text``, ``label``) of a target; ``n_eval`` caps its size."""
    spec = TARGETS[name]
    frame = accuracy.read_csv(Path(data_root) / spec.folder, spec.stem)
    if spec.domain is not None:
        frame = frame[frame.domain == spec.domain]
        if frame.empty:
            raise ValueError(f"no rows of domain {spec.domain!r} in {spec.folder}/{spec.stem}")
    if spec.unseen:
        train, _ = accuracy.load_dataset(data_root, TRAIN_DATASET)
        frame = frame[~frame.text.map(normalise).isin(set(train.text.map(normalise)))]
    n = spec.n if n_eval is None else min(n_eval, spec.n or n_eval)
    return accuracy.stratified_subset(frame.reset_index(drop=True), n, seed=0)


def run_transfer_cell(cell, data_root, device, deadline=None):
    """Fit one cell on SST-2 sentences and score every target; None when ``deadline`` has passed.

    Stands in for accuracy.run_cell inside accuracy.execute (same signature and record keys).
    """
    if deadline is not None and time.time() > deadline:
        return None
    pool, _ = accuracy.load_dataset(data_root, cell["dataset"])
    train = accuracy.stratified_subset(pool, cell["n_train"], seed=cell["seed"])
    device = resolve_device(device)
    clf = AFASentimentClassifier(device=device, random_state=cell["seed"], verbose=0).set_params(**cell["params"])
    accuracy.reset_peak_memory(device)
    start, cpu_start = time.perf_counter(), accuracy.cpu_seconds()
    clf.fit(train.text.tolist(), train.label.to_numpy())
    fit_s, fit_cpu_s = time.perf_counter() - start, accuracy.cpu_seconds() - cpu_start
    acc, f1, n_eval = {}, {}, {}
    start = time.perf_counter()
    for name in cell["targets"]:
        frame = load_target(data_root, name, cell["n_eval"])
        pred = clf.predict(frame.text.tolist())
        acc[name] = accuracy_score(frame.label, pred)
        f1[name] = f1_score(frame.label, pred, average="macro")
        n_eval[name] = len(frame)
    score_s = time.perf_counter() - start
    transfer = [name for name in cell["targets"] if name != IN_DOMAIN]
    rss, gpu = accuracy.peak_memory_mb(device)
    return {
        **cell,
        "effective_params": accuracy.effective_params(clf),
        "accuracy": float(np.mean([acc[t] for t in transfer])),  # mean over the transfer targets
        "macro_f1": float(np.mean([f1[t] for t in transfer])),
        "accuracy_by_target": acc,
        "macro_f1_by_target": f1,
        "n_eval_by_target": n_eval,
        "fit_s": fit_s,
        "fit_cpu_s": fit_cpu_s,
        "epoch_s": [float(d) for d in clf.history_[:, "dur"]],
        "score_s": score_s,
        "n_train_used": len(train),
        "peak_rss_mb": rss,
        "peak_gpu_mb": gpu,
        "device": device,
        "threads": torch.get_num_threads(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def build_cells(args):
    """accuracy.py's cells (seed-major, parameters checked) on SST-2, with the targets added."""
    cells = accuracy.build_cells(args)
    for cell in cells:
        cell.update(targets=args.targets, n_eval=args.n_eval)
    return cells


def cell_key(cell):
    return json.dumps([accuracy.cell_key(cell), cell["targets"], cell["n_eval"]])


# --- report -------------------------------------------------------------------------------


def per_target_rows(records):
    """One row per fit and target, shaped as afa_signal_report.compare reads accuracy records."""
    return [
        {"dataset": target, "method": r["method"], "seed": r["seed"], "accuracy": value}
        for r in records
        for target, value in r["accuracy_by_target"].items()
    ]


# With the fixed KL reward and afa_weight=0 these options change nothing that training uses: no
# discriminator learns, and the masks draw the same random numbers whatever their probabilities.
UNUSED_AT_ZERO_WEIGHT_WITH_KL = ("afa__policy", "afa__temperature", "afa__exploration")


def same_but_weight(params):
    """Effective parameters without the seed, with afa_weight zeroed: what a control must match."""
    # Parameters added to skafa after a fit was recorded take their defaults.
    defaults = accuracy.effective_params(AFASentimentClassifier())
    key = {**defaults, **{k: v for k, v in params.items() if k != "random_state"}, "afa_weight": 0}
    if key.get("afa__reward") == "kl":
        key = {k: v for k, v in key.items() if k not in UNUSED_AT_ZERO_WEIGHT_WITH_KL}
    return json.dumps(key, sort_keys=True)


def control_pairs(records):
    """(candidate, control) method specs: AFA fits with afa_weight != 0 and a run differing only in it
    (control None when the records hold no such run)."""
    params = {r["method"]: r["effective_params"] for r in records}
    pairs = []
    for method, p in params.items():
        if not p["afa"] or p["afa_weight"] == 0:
            continue
        controls = [m for m, q in params.items() if q["afa"] and q["afa_weight"] == 0
                    and same_but_weight(q) == same_but_weight(p)]
        pairs.extend((method, control) for control in controls or [None])  # None: compared with plain only
    return pairs


def comparison(records, pairs=None):
    """Candidate - plain and candidate - control per target and as means over the transfer targets.

    ``mean``: over all transfer targets (each Amazon domain counts as one target);
    ``mean_amazon_once``: the five Amazon domains first averaged into one target (equal sizes, so
    that is the accuracy on the whole Amazon dev split). ``p_vs_*`` are two-sided paired t-test
    p-values over seeds (scipy ttest_1samp of the per-seed differences = ttest_rel).
    """
    pairs = control_pairs(records) if pairs is None else pairs
    if not pairs:
        return None
    rows = pd.DataFrame(per_target_rows(records))
    twice = rows.duplicated(["dataset", "method", "seed"])
    if twice.any():
        raise ValueError(f"several fits of the same method and seed (runs of different settings in one results.jsonl?): "
                         f"{rows[twice][['method', 'seed']].drop_duplicates().to_dict('records')}")
    transfer = rows[rows.dataset != IN_DOMAIN]
    amazon_once = transfer.assign(dataset=transfer.dataset.where(~transfer.dataset.str.startswith("amazon_"), "amazon"))
    amazon_once = amazon_once.groupby(["dataset", "method", "seed"], as_index=False).accuracy.mean()
    tables = [
        compare(transfer.to_dict("records"), pairs),
        compare(amazon_once.to_dict("records"), pairs).query("dataset == 'mean'").assign(dataset="mean_amazon_once"),
    ]
    if (rows.dataset == IN_DOMAIN).any():
        tables.append(compare(rows[rows.dataset == IN_DOMAIN].to_dict("records"), pairs).query("dataset != 'mean'"))
    table = pd.concat(tables, ignore_index=True)
    order = {name: i for i, name in enumerate([*TARGETS, "mean", "mean_amazon_once"])}
    table = table.sort_values(["method", "dataset"], key=lambda s: s.map(order) if s.name == "dataset" else s,
                              kind="stable")
    plain = rows[rows.method == "plain"].groupby("dataset").accuracy.mean()
    plain["mean"] = rows[(rows.method == "plain") & (rows.dataset != IN_DOMAIN)].groupby("seed").accuracy.mean().mean()
    plain["mean_amazon_once"] = amazon_once[amazon_once.method == "plain"].groupby("seed").accuracy.mean().mean()
    table["plain_acc_mean"] = table.dataset.map(plain)
    seeds = rows.groupby("method").seed.agg(set)
    paired = lambda a, b: len(seeds.get(a, set()) & seeds.get(b, set()))  # noqa: E731
    table["seeds_vs_plain"] = [paired(m, "plain") for m in table.method]
    table["seeds_vs_control"] = [paired(m, c) for m, c in zip(table.method, table.control)]
    return table.reset_index(drop=True)


def accuracy_by_method(records):
    """Mean and standard deviation over seeds of each method's accuracy per target and over the transfer targets."""
    rows = pd.DataFrame(per_target_rows(records))
    means = rows[rows.dataset != IN_DOMAIN].groupby(["method", "seed"], as_index=False).accuracy.mean()
    rows = pd.concat([rows, means.assign(dataset="mean")], ignore_index=True)
    table = rows.groupby(["method", "dataset"], sort=False).accuracy.agg(["mean", "std", "count"]).reset_index()
    return table.rename(columns={"mean": "acc_mean", "std": "acc_sd", "count": "seeds"})


def write_comparison(out, records):
    if not records:
        return None
    accuracy_by_method(records).to_csv(out / "accuracy_by_method.csv", index=False, float_format="%.4f")
    table = comparison(records)
    if table is None:
        return None
    table.to_csv(out / "comparison.csv", index=False, float_format="%.4f")
    return table


# --- the run ------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    csv = lambda text: [item for item in text.split(",") if item]  # noqa: E731
    estimator = AFASentimentClassifier()
    parser.add_argument("--methods", type=csv, default=["plain", "afa", "afa:afa_weight=0"],
                        help="method specs as in accuracy.py: name[:key=value...]")
    parser.add_argument("--targets", type=csv, default=list(TARGETS), help=f"from {', '.join(TARGETS)}")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=estimator.batch_size)
    parser.add_argument("--lr", type=float, default=estimator.lr)
    parser.add_argument("--n-train", default="1000", help="SST-2 training sentences per fit (stratified by seed)")
    parser.add_argument("--n-eval", type=int, help="cap on every target's size (fixed subset); default: see TARGETS")
    parser.add_argument("--max-length", type=int, help="tokens per text (default 128)")
    parser.add_argument("--backbone", default=accuracy.DEFAULT_BACKBONE)
    parser.add_argument("--param", action="append", default=None,
                        help="estimator parameter for all methods: k=v (default: truncation=head_tail)")
    accuracy.add_execution_options(parser, out="transfer")
    parser.add_argument("--resume", action="store_true", help="skip fits already in results.jsonl")
    parser.add_argument("--report", action="store_true", help="only rewrite comparison.csv from results.jsonl")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 64 training texts, 16 per target, 1 seed, 1 epoch, plain, afa and its control")
    args = parser.parse_args(argv)
    if args.quick:
        args.methods, args.seeds, args.epochs, args.n_train, args.n_eval = ["plain", "afa", "afa:afa_weight=0"], 1, 1, "64", 16
    unknown = sorted(set(args.targets) - set(TARGETS))
    if unknown:
        parser.error(f"unknown targets {unknown}; choose from {', '.join(TARGETS)}")
    if args.param is None:
        args.param = ["truncation=head_tail"]
    # What accuracy.build_cells and accuracy.execute read: one training dataset, no test split of it.
    args.datasets, args.split, args.n_test = [TRAIN_DATASET], "transfer", "all"
    args.threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.jsonl"
    failed = 0
    if not args.report:
        if results_path.exists() and not args.resume:
            raise SystemExit(f"{results_path} exists: pass --resume to continue it, or delete it to start over")
        cells = build_cells(args)
        done = {cell_key(record) for record in accuracy.load_records(results_path)}
        todo = [cell for cell in cells if cell_key(cell) not in done]
        print(f"{len(cells)} fits, {len(cells) - len(todo)} already done, {len(todo)} to run "
              f"({args.jobs} at a time, {args.threads} threads each)", flush=True)
        command = "python benchmarks/transfer.py " + shlex.join(argv)
        with (out / "commands.txt").open("a") as f:  # one line per run: results.jsonl may grow over several
            f.write(f"{command}  # {time.strftime('%Y-%m-%dT%H:%M:%S%z')} commit {git_commit()}\n")
        start = time.perf_counter()
        with mock.patch.object(accuracy, "run_cell", run_transfer_cell):
            skipped, failed = accuracy.execute(todo, args, results_path)
        print(f"finished in {(time.perf_counter() - start) / 60:.1f} min; {skipped} not started (time budget), "
              f"{failed} failed", flush=True)
    records = accuracy.load_records(results_path)
    if not args.report:  # this run's fits only; --report reads them all
        keys = {cell_key(cell) for cell in cells}
        records = [record for record in records if cell_key(record) in keys]
    table = write_comparison(out, records)
    if table is not None:
        print(table.to_string(index=False))
    if failed:
        raise SystemExit(1)
    return table


if __name__ == "__main__":
    main()
