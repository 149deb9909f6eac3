"""Does AFA beat plain fine-tuning? Accuracy benchmark of AFA, its ablations and baselines.

Every cell (dataset x method x seed) is one fit of :class:`skafa.AFASentimentClassifier` with the
same backbone, epochs, learning rate and batch size; methods differ only in their parameters.
Each finished fit is appended to ``results.jsonl`` at once, so a run cut short loses at most the
fits in flight and ``--resume`` continues it; the summary table, paired tests, plot and
``meta.json`` are written at the end (or alone with ``--aggregate-only``).

CPU (default sizes, about two hours on 2 cores):
    python benchmarks/accuracy.py
One GPU, eight fits at a time, stop starting fits after 7 minutes:
    python benchmarks/accuracy.py --device cuda --jobs 8 --time-budget 420 --n-train 2000 --epochs 3
Tuning, on a validation split carved from the training data (the test split is not read):
    python benchmarks/accuracy.py --split valid --datasets sst2 --methods plain,afa,afa:afa_weight=0.3
Smoke test (used by the test suite):
    python benchmarks/accuracy.py --quick --out /tmp/acc
"""

import argparse
import concurrent.futures as cf
import functools
import json
import multiprocessing
import os
import platform
import re
import resource
import shlex
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import transformers
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from accuracy_report import git_commit, write_report
from skafa import AFASentimentClassifier
from skafa.backbone import DEFAULT_BACKBONE
from skafa.cli.inputs import parse_assignments
from skafa.training import resolve_device
from skafa.inspection import attention_by_text
from skafa.params import afa_options

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset lives and its default sizes (chosen so the default CPU run fits ~2 h).

    ``n_test=None`` evaluates on the whole test split; ``max_length`` bounds tokens per text.
    Datasets with an ``all.csv`` and a ``fold`` column use fold 0 as the test split.
    """

    folder: str
    n_train: int
    n_test: int | None = None
    max_length: int = 128


DATASETS = {
    "sst2": DatasetSpec("sst2_sentence", n_train=500),
    "mr": DatasetSpec("mr", n_train=500),
    "cr": DatasetSpec("cr", n_train=500),
    "imdb": DatasetSpec("imdb", n_train=200, n_test=500, max_length=256),
    "sst5": DatasetSpec("sst5", n_train=500),
}

# Method name -> estimator parameters on top of the defaults. token_dropout's rate is filled in
# by method_params: it must equal AFA's mask_ratio ("dropout at the same rate").
METHODS = {
    "plain": {"afa": False},
    "afa": {},
    "afa_random": {"afa__policy": "random"},
    # K = 2 as when these rows were first run (the default then); afa_discriminator is the old default.
    "afa_kl": {"afa__reward": "kl", "afa__n_samples": 2},
    "afa_discriminator": {"afa__reward": "discriminator", "afa__n_samples": 2},
    "token_dropout": {"afa": False},
}

VALID_SEED = 12345  # fixed carving of the validation split, independent of the fit seeds
MAX_VALID = 1000
N_FREQUENT = 100
WORD = re.compile(r"\w+|[^\w\s]")  # words and punctuation, as BERT-style pre-tokenisers split them


# --- configuration ------------------------------------------------------------------------


def method_params(spec, common):
    """Estimator parameters of a method spec ``name[:key=value...]`` on top of ``common``."""
    name, *overrides = spec.split(":")
    if name not in METHODS:
        raise SystemExit(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    own = parse_assignments(overrides, option="a method option")
    params = {**common, **METHODS[name], **own}
    if name == "token_dropout" and "token_dropout" not in own:
        params["token_dropout"] = params.get("mask_ratio", AFASentimentClassifier().mask_ratio)
    return params


def size(text):
    """A subset size; "all" (None) keeps the whole split."""
    return None if str(text) == "all" else int(text)


def per_dataset(text, datasets, field):
    """``"300"``, ``"all"`` or ``"sst2=300,imdb=all"`` -> {dataset: size}, defaults from DATASETS."""
    sizes = {name: getattr(DATASETS[name], field) for name in datasets}
    if text is None:
        return sizes
    if "=" not in text:
        return dict.fromkeys(datasets, size(text))
    for name, value in parse_assignments(text.split(","), option="a per-dataset size").items():
        if name not in sizes:
            raise SystemExit(f"--{field.replace('_', '-')}: {name!r} is not among --datasets")
        sizes[name] = size(value)
    return sizes


def build_cells(args):
    """All fits of the run, seed-major so that a run cut short still has whole seeds."""
    common = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "backbone": args.backbone}
    common.update(parse_assignments(args.param, option="--param"))
    methods = {spec: method_params(spec, common) for spec in args.methods}
    for spec, params in methods.items():
        try:
            AFASentimentClassifier().set_params(**params)
        except ValueError as exc:
            raise SystemExit(f"method {spec!r}: {exc}") from None
    n_train = per_dataset(args.n_train, args.datasets, "n_train")
    n_test = per_dataset(args.n_test, args.datasets, "n_test")
    cells = []
    for seed in range(args.seeds):
        for dataset in args.datasets:
            max_length = args.max_length or DATASETS[dataset].max_length
            for spec, params in methods.items():
                cells.append(
                    {
                        "dataset": dataset,
                        "method": spec,
                        "seed": seed,
                        "split": args.split,
                        "n_train": n_train[dataset],
                        "n_test": n_test[dataset],
                        "params": {**params, "max_length": max_length},
                    }
                )
    return cells


def cell_key(cell):
    return json.dumps({k: cell[k] for k in ("dataset", "method", "seed", "split", "n_train", "n_test", "params")},
                      sort_keys=True)


# --- data ---------------------------------------------------------------------------------


def read_csv(folder, stem):
    for suffix in (".csv", ".csv.gz"):
        path = folder / f"{stem}{suffix}"
        if path.exists():
            return pd.read_csv(path, keep_default_na=False)  # some texts are literally "NA"
    raise FileNotFoundError(f"no {stem}.csv or {stem}.csv.gz in {folder}")


@functools.lru_cache(maxsize=None)
def load_dataset(data_root, name):
    """(train, test) frames with ``text`` and ``label``."""
    folder = Path(data_root) / DATASETS[name].folder
    if (folder / "all.csv").exists() or (folder / "all.csv.gz").exists():
        frame = read_csv(folder, "all")
        return frame[frame.fold != 0].reset_index(drop=True), frame[frame.fold == 0].reset_index(drop=True)
    return read_csv(folder, "train"), read_csv(folder, "test")


def stratified_subset(frame, n, seed):
    if n is None or n >= len(frame):
        return frame
    subset, _ = train_test_split(frame, train_size=n, stratify=frame.label, random_state=seed)
    return subset


@functools.lru_cache(maxsize=None)
def evaluation_split(data_root, name, split, n_test):
    """(training pool, evaluation set, frequent words of the pool).

    ``split="test"`` evaluates on the test split (a fixed subset when ``n_test`` is set);
    ``split="valid"`` carves the evaluation set out of the training split and never reads the
    test split, so tuning on it is honest.
    """
    train, test = load_dataset(data_root, name)
    if split == "test":
        pool, evaluation = train, stratified_subset(test, n_test, seed=0)
    else:
        n_valid = n_test or min(MAX_VALID, len(train) // 4)
        pool, evaluation = train_test_split(train, test_size=n_valid, stratify=train.label, random_state=VALID_SEED)
    return pool, evaluation, frequent_words(pool.text)


def frequent_words(texts, k=N_FREQUENT):
    counts = Counter(word for text in texts for word in WORD.findall(text.lower()))
    return frozenset(word for word, _ in counts.most_common(k))


# --- one fit ------------------------------------------------------------------------------


def frequent_share(words_per_text, frequent):
    """Mean over texts of the attention share on ``frequent`` words (shares sum to 1 per text)."""
    shares = [sum(w for word, w in words if word.strip().lower() in frequent) for words in words_per_text]
    return float(np.mean(shares))


def reset_peak_memory(device):
    """Restart the peak-RSS counter (Linux); False where only the process-lifetime peak exists."""
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_memory_mb(device):
    """(peak RSS, peak GPU memory allocated by torch or None) in MiB since the last reset."""
    try:
        status = Path("/proc/self/status").read_text()
        rss = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
    except (OSError, AttributeError):
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
    gpu = None
    if device.startswith("cuda"):
        gpu = torch.cuda.max_memory_allocated() / 2**20
    return rss, gpu


def cpu_seconds():
    """CPU time of this process: unlike wall-clock, barely affected by other load on the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_cell(cell, data_root, device, deadline=None):
    """Fit and evaluate one cell; None when ``deadline`` (epoch seconds) has passed."""
    if deadline is not None and time.time() > deadline:
        return None
    pool, evaluation, frequent = evaluation_split(data_root, cell["dataset"], cell["split"], cell["n_test"])
    train = stratified_subset(pool, cell["n_train"], seed=cell["seed"])
    device = resolve_device(device)
    clf = AFASentimentClassifier(device=device, random_state=cell["seed"], verbose=0).set_params(**cell["params"])
    rss_reset = reset_peak_memory(device)
    start, cpu_start = time.perf_counter(), cpu_seconds()
    clf.fit(train.text.tolist(), train.label.to_numpy())
    fit_s, fit_cpu_s = time.perf_counter() - start, cpu_seconds() - cpu_start
    # One pass gives both the predictions and the attention that token_attention reports.
    start, cpu_start = time.perf_counter(), cpu_seconds()
    logits, words = attention_by_text(clf, evaluation.text.tolist())
    eval_s, eval_cpu_s = time.perf_counter() - start, cpu_seconds() - cpu_start
    pred = clf.classes_[logits.argmax(axis=1)]
    rss, gpu = peak_memory_mb(device)
    return {
        **cell,
        "effective_params": effective_params(clf),
        "accuracy": accuracy_score(evaluation.label, pred),
        "macro_f1": f1_score(evaluation.label, pred, average="macro"),
        "fit_s": fit_s,
        "fit_cpu_s": fit_cpu_s,
        "epoch_s": [float(d) for d in clf.history_[:, "dur"]],
        "eval_s": eval_s,
        "eval_cpu_s": eval_cpu_s,
        "n_train_used": len(train),
        "n_eval": len(evaluation),
        "freq_share": frequent_share(words, frequent),
        "peak_rss_mb": rss,
        "rss_peak_is_per_fit": rss_reset,
        "peak_gpu_mb": gpu,
        "device": device,
        "gpu": torch.cuda.get_device_name(device) if device.startswith("cuda") else None,
        "threads": torch.get_num_threads(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def effective_params(clf):
    """Every parameter of a fit as it ran (defaults included, AFA options expanded), for the record."""
    params = clf.get_params(deep=True)
    params["afa"] = bool(params["afa"])
    if params["afa"]:
        params.update({f"afa__{k}": v for k, v in afa_options(clf.afa).items()})
    return {k: v if isinstance(v, (str, int, float, bool, type(None))) else repr(v) for k, v in sorted(params.items())}


def init_worker(threads):
    """Each worker gets a few CPU threads, so many fits can share one machine and one GPU."""
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # no tokenizer thread pool per worker either
    torch.set_num_threads(threads)
    transformers.utils.logging.disable_progress_bar()


# --- the run ------------------------------------------------------------------------------


def load_records(path):
    if not path.exists():
        return []
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def log_run(out, command):
    """Append this run's command to runs.jsonl: results.jsonl may grow over several resumed runs."""
    entry = {"command": command, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node(),
             "git_commit": git_commit()}
    with (out / "runs.jsonl").open("a") as f:
        f.write(json.dumps(entry) + "\n")


class Progress:
    """Prints one line per finished fit with a rough time-to-go."""

    def __init__(self, total):
        self.total, self.done, self.start = total, 0, time.perf_counter()

    def report(self, record):
        self.done += 1
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done)
        print(
            f"[{self.done:>4}/{self.total}] {record['dataset']} {record['method']} seed={record['seed']}: "
            f"acc={record['accuracy']:.4f} f1={record['macro_f1']:.4f} fit={record['fit_s']:.1f}s "
            f"| {elapsed / 60:.1f} min elapsed, ~{left / 60:.1f} min to go",
            flush=True,
        )


def execute(todo, args, results_path):
    """Run the cells, appending each result as it arrives; returns (n_skipped, n_failed)."""
    deadline = None if args.time_budget is None else time.time() + args.time_budget
    progress = Progress(len(todo))
    skipped = failed = 0
    with results_path.open("a") as sink:

        def handle(cell, get):
            nonlocal skipped, failed
            try:
                record = get()
            except Exception as exc:  # one failed fit must not lose the others
                failed += 1
                print(f"FAILED {cell['dataset']} {cell['method']} seed={cell['seed']}:", file=sys.stderr)
                traceback.print_exception(exc)
                return
            if record is None:
                skipped += 1
                return
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            progress.report(record)

        if args.jobs == 1:
            init_worker(args.threads)
            for cell in todo:
                handle(cell, functools.partial(run_cell, cell, args.data_root, args.device, deadline))
        else:
            context = multiprocessing.get_context("spawn")  # CUDA cannot be forked
            with cf.ProcessPoolExecutor(args.jobs, mp_context=context, initializer=init_worker,
                                        initargs=(args.threads,)) as pool:
                futures = {pool.submit(run_cell, cell, args.data_root, args.device, deadline): cell for cell in todo}
                for future in cf.as_completed(futures):
                    handle(futures[future], future.result)
    return skipped, failed


def add_execution_options(parser, *, out):
    """Where fits run and what they read and write: shared by the benchmarks built on :func:`execute`."""
    parser.add_argument("--device", default="auto")
    parser.add_argument("--jobs", type=int, default=1, help="fits run at the same time (worker processes)")
    parser.add_argument("--threads", type=int, help="torch CPU threads per worker (default: cores / jobs)")
    parser.add_argument("--time-budget", type=float, help="seconds after which no new fit starts")
    parser.add_argument("--data-root", default=str(HERE.parent.parent / "shared" / "datasets"))
    parser.add_argument("--out", default=str(HERE.parent / "docs" / "_static" / out))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    csv = lambda text: [item for item in text.split(",") if item]  # noqa: E731
    estimator = AFASentimentClassifier()
    parser.add_argument("--datasets", type=csv, default=list(DATASETS), help=f"from {', '.join(DATASETS)}")
    parser.add_argument("--methods", type=csv, default=list(METHODS),
                        help="method names, each optionally with overrides: afa:afa_weight=0.3:mask_ratio=0.2")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    parser.add_argument("--epochs", type=int, default=2, help="default 2, to fit the CPU run in two hours")
    parser.add_argument("--batch-size", type=int, default=estimator.batch_size)
    parser.add_argument("--lr", type=float, default=estimator.lr)
    parser.add_argument("--n-train", help="training texts per fit: N or all, or per dataset: sst2=N,imdb=M")
    parser.add_argument("--n-test", help="evaluation texts (fixed subset), same syntax; default: see DATASETS")
    parser.add_argument("--max-length", type=int, help="tokens per text (default 128; imdb 256)")
    parser.add_argument("--backbone", default=DEFAULT_BACKBONE)
    parser.add_argument("--param", action="append", default=[], help="estimator parameter for all methods: k=v")
    parser.add_argument("--split", choices=("test", "valid"), default="test",
                        help="valid: evaluate on a split carved from the training data (for tuning)")
    add_execution_options(parser, out="accuracy")
    parser.add_argument("--resume", action="store_true", help="skip cells already in results.jsonl")
    parser.add_argument("--aggregate-only", action="store_true", help="only rewrite the summary from results.jsonl")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: sst2, 64 texts, 1 seed, 1 epoch, plain and afa")
    args = parser.parse_args(argv)
    if args.quick:
        args.datasets, args.methods, args.seeds, args.epochs = ["sst2"], ["plain", "afa"], 1, 1
        args.n_train = args.n_test = "64"
    unknown = set(args.datasets) - set(DATASETS)
    if unknown:
        parser.error(f"unknown datasets {sorted(unknown)}; choose from {', '.join(DATASETS)}")
    args.threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = "python benchmarks/accuracy.py " + shlex.join(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.jsonl"
    if results_path.exists() and not (args.resume or args.aggregate_only):
        raise SystemExit(f"{results_path} exists: pass --resume to continue it, or delete it to start over")
    cells = build_cells(args)
    keys = {cell_key(cell) for cell in cells}
    failed = 0
    if not args.aggregate_only:
        done = {cell_key(record) for record in load_records(results_path)}
        todo = [cell for cell in cells if cell_key(cell) not in done]
        print(f"{len(cells)} fits, {len(cells) - len(todo)} already done, {len(todo)} to run "
              f"({args.jobs} at a time, {args.threads} threads each)", flush=True)
        log_run(out, command)
        start = time.perf_counter()
        skipped, failed = execute(todo, args, results_path)
        print(f"finished in {(time.perf_counter() - start) / 60:.1f} min; {skipped} not started (time budget), "
              f"{failed} failed", flush=True)
    records = [record for record in load_records(results_path) if cell_key(record) in keys]
    summary = write_report(records, args, command, out)
    print(summary)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
