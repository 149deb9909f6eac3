"""CPU scoring throughput: skafa predict, skafa with int8 quantisation, the Hugging Face pipeline, the CLI.

One run, one machine, one process for (a)-(c) and the same batch size and max length for all:

(a) ``predict`` of a fitted classifier (length-sorted batches, dynamic padding, inference mode);
(b) the same with ``quantize=True`` (dynamic int8 linear layers), with its accuracy change;
(c) ``transformers.pipeline("text-classification")`` on the same fine-tuned weights, exported
    to a ``AutoModelForSequenceClassification`` folder (checked to give the same logits);
(d) ``skafa predict`` as a subprocess on a CSV of ``--cli-rows`` texts sampled from the data set,
    timed end to end (start-up and model loading included), with its peak memory; and the peak
    memory of the same command on ``--memory-rows`` rows, which should be about the same.

Also reports the size of the saved artifacts next to the size of the backbone's weights.
Writes ``scoring.csv``, ``artifacts.csv`` and ``scoring.json`` to ``--out``.

``--sizes-only`` fits the classifier, measures the saved artifacts alone and writes them to
``sizes.csv`` and ``sizes.json`` instead (no scoring; the full run's files are left alone).

    python benchmarks/scoring.py                      # full run (the docs' numbers)
    python benchmarks/scoring.py --quick --out /tmp/q # minutes-long smoke run, small sizes
    python benchmarks/scoring.py --sizes-only --n-train 500   # saved sizes only, about a minute on a CPU
"""

import argparse
import copy
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import skafa
from skafa import AFASentimentClassifier
from skafa.backbone import DEFAULT_BACKBONE
from skafa.scoring import scoring_copy

ROOT = Path(__file__).resolve().parents[1]
FULL = dict(n_train=3000, epochs=1, n_eval=None, cli_rows=50_000, memory_rows=200_000, repeats=3)
QUICK = dict(n_train=64, epochs=1, n_eval=200, cli_rows=500, memory_rows=0, repeats=1)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run (not for the docs)")
    parser.add_argument("--data", default=str(ROOT / ".." / "shared" / "datasets" / "sst2_sentence"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "_static" / "scoring"))
    parser.add_argument("--backbone", default=DEFAULT_BACKBONE)
    parser.add_argument("--model", default=None, help="score with this saved model folder instead of training one")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sizes-only", action="store_true", help="measure the saved artifacts only: sizes.csv, sizes.json")
    for name, value in FULL.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None, help=f"default {value} (quick: {QUICK[name]})")
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def read(path):
    return pd.read_csv(path, keep_default_na=False)


def timed(fn, repeats):
    """Median wall-clock seconds of ``fn()`` over ``repeats`` runs, and its last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def export_for_transformers(clf, folder):
    """Write the fine-tuned classifier as an ``AutoModelForSequenceClassification`` folder.

    Works for backbones whose sequence-classification model is "base model + dropout + one linear
    layer on the pooled output" (BERT and its relatives, such as the default MiniLM); anything
    else raises.
    """
    from transformers import AutoModelForSequenceClassification

    module = clf.net_.module_
    config = copy.deepcopy(module.backbone.config)
    labels = [str(c) for c in clf.classes_.tolist()]
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: i for i, label in enumerate(labels)}
    model = AutoModelForSequenceClassification.from_config(config, attn_implementation="sdpa")
    heads = [name for name, child in model.named_children() if isinstance(child, torch.nn.Linear)]
    if len(heads) != 1:
        raise NotImplementedError(f"{type(model).__name__} has no single linear classification layer; cannot export.")
    state = {
        f"{model.base_model_prefix}.{key.removeprefix('backbone.')}": value
        for key, value in module.state_dict().items()
        if key.startswith("backbone.")
    }
    state.update({f"{heads[0]}.{key.removeprefix('head.')}": v for key, v in module.state_dict().items() if key.startswith("head.")})
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise NotImplementedError(f"Export mismatch for {type(model).__name__}: missing {missing}, unexpected {unexpected}.")
    model.save_pretrained(folder)
    clf.tokenizer_.save_pretrained(folder)
    return model.eval()


def check_export(clf, model, texts):
    """Largest difference between skafa's and the exported model's logits (must be ~0)."""
    encoded = clf.tokenizer_(texts, truncation=True, max_length=clf.max_length, padding=True, return_tensors="pt")
    with torch.inference_mode():
        theirs = model(**encoded).logits.float().numpy()
    ours = clf.predict_log_proba(texts)
    theirs = torch.log_softmax(torch.as_tensor(theirs), dim=1).numpy()
    return float(np.abs(ours - theirs).max())


def run_cli(model_dir, csv, out_csv, batch_size):
    """Run ``skafa predict`` in a fresh process; wall seconds and peak RSS (MiB) of that process.

    The peak is the kernel's high-water mark of the process's own memory (``VmHWM``), polled every
    20 ms. (``wait4``'s ``ru_maxrss`` would not do: it carries over this big parent's peak through
    fork and exec.)
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "skafa.cli", "predict", str(model_dir), str(csv), "-o", str(out_csv)]
    command += ["--batch-size", str(batch_size), "--quiet", "--overwrite"]
    start = time.perf_counter()
    log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a full pipe would stall the child
    process = subprocess.Popen(command, env=env, stderr=log, text=True)
    peak_kib = 0
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
            peak_kib = max(peak_kib, int(line.split()[1]))
        except (OSError, StopIteration):  # the process is exiting
            pass
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    log.seek(0)
    stderr = log.read()
    if process.returncode != 0:
        raise RuntimeError(f"skafa predict failed:\n{stderr}")
    return seconds, peak_kib / 1024 if peak_kib else float("nan"), stderr.strip()


def folder_bytes(folder):
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def artifact_sizes(clf, model_dir, full_pickle):
    """Sizes of the saved forms of ``clf`` (MB and relative to the backbone's float32 weights)."""
    backbone_bytes = sum(t.numel() * t.element_size() for k, t in clf.net_.module_.state_dict().items() if k.startswith("backbone."))
    artifacts = [
        ("backbone weights alone (float32)", backbone_bytes),
        ("pickle, default (trimmed for prediction)", len(pickle.dumps(clf))),
        ("pickle, keep_training_state=True", full_pickle),
        ("safe folder (clf.save), all files", folder_bytes(model_dir)),
        ("safe folder: model.safetensors", (model_dir / "model.safetensors").stat().st_size),
    ]
    return pd.DataFrame(
        [
            {"artifact": name, "MB": size / 1e6, "vs_backbone_weights": size / backbone_bytes}
            for name, size in artifacts
            if size is not None
        ]
    )


def main(argv=None):
    args = parse_args(argv)
    from transformers import pipeline

    data = Path(args.data)
    train, test = read(data / "train.csv"), read(data / "test.csv")
    pool = pd.concat([read(p) for p in sorted(data.glob("*.csv"))], ignore_index=True)["text"]
    if args.n_eval:
        test = test.sample(min(args.n_eval, len(test)), random_state=args.seed)
    texts, labels = test["text"].tolist(), test["label"].to_numpy()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="skafa-scoring-bench-"))
    torch.manual_seed(args.seed)

    if args.model:
        clf = skafa.load(args.model)
        full_pickle = None
    else:
        train = train.sample(min(args.n_train, len(train)), random_state=args.seed)
        clf = AFASentimentClassifier(
            args.backbone, epochs=args.epochs, max_length=args.max_length, random_state=args.seed, device="cpu", verbose=1
        ).fit(train["text"], train["label"])
        full_pickle = len(pickle.dumps(clf.set_params(keep_training_state=True)))
        clf.set_params(keep_training_state=False)
    clf.set_params(max_length=args.max_length)
    model_dir = clf.save(work / "model")
    artifacts = artifact_sizes(clf, model_dir, full_pickle)
    if args.sizes_only:
        meta = {
            "command": "python benchmarks/scoring.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "data": str(data),
            "n_train": None if args.model else len(train),
            "epochs": None if args.model else args.epochs,
            "backbone": clf.backbone,
            "word_counts_pickled_bytes": len(pickle.dumps(getattr(clf, "word_counts_", None))),
            "skafa": skafa.__version__,
            "torch": torch.__version__,
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "date": time.strftime("%Y-%m-%d"),
        }
        (out / "sizes.json").write_text(json.dumps({"meta": meta, "artifacts": artifacts.to_dict("records")}, indent=2))
        artifacts.round(3).to_csv(out / "sizes.csv", index=False)
        print(artifacts.round(3).to_string(index=False))
        return None, artifacts, meta

    warm = texts[:64]
    plain = scoring_copy(clf, batch_size=args.batch_size)
    quantized = scoring_copy(clf, batch_size=args.batch_size, quantize=True)
    hf_model = export_for_transformers(clf, work / "hf")
    export_error = check_export(clf, hf_model, texts[:64])
    if export_error > 1e-3:
        raise RuntimeError(f"The exported model disagrees with skafa (max log-proba difference {export_error}).")
    pipe = pipeline("text-classification", model=str(work / "hf"), device="cpu")
    to_label = {str(c): c for c in clf.classes_.tolist()}

    def hf_predict(batch):
        found = pipe(batch, batch_size=args.batch_size, truncation=True, max_length=args.max_length)
        return np.array([to_label[r["label"]] for r in found])

    methods = {
        "skafa predict": plain.predict,
        "skafa predict, quantize=True": quantized.predict,
        'HF pipeline("text-classification")': hf_predict,
    }
    rows, predictions = [], {}
    for name, predict in methods.items():
        predict(warm)
        seconds, pred = timed(lambda: predict(texts), args.repeats)
        predictions[name] = pred
        rows.append({"method": name, "rows": len(texts), "texts_per_s": len(texts) / seconds, "accuracy": float(np.mean(pred == labels))})
        print(rows[-1], flush=True)

    rng = np.random.default_rng(args.seed)
    cli_runs = [("skafa predict CLI", args.cli_rows)] + ([("skafa predict CLI (memory)", args.memory_rows)] if args.memory_rows else [])
    for name, n_rows in cli_runs:
        csv = work / f"texts_{n_rows}.csv"
        pd.DataFrame({"id": np.arange(n_rows), "text": pool.to_numpy()[rng.integers(len(pool), size=n_rows)]}).to_csv(csv, index=False)
        seconds, peak_mib, summary = run_cli(model_dir, csv, work / "scored.csv", args.batch_size)
        n_out = len(pd.read_csv(work / "scored.csv", usecols=["id"]))
        if n_out != n_rows:
            raise RuntimeError(f"The CLI wrote {n_out} rows for {n_rows} input rows.")
        rows.append({"method": f"{name}, {n_rows:,}-row CSV", "rows": n_rows, "texts_per_s": n_rows / seconds, "peak_rss_mib": peak_mib})
        print(rows[-1], summary, flush=True)

    results = pd.DataFrame(rows)
    hf_speed = results.loc[results["method"].str.startswith("HF"), "texts_per_s"].item()
    results["speed_vs_hf_pipeline"] = results["texts_per_s"] / hf_speed
    results.insert(0, "mode", "quick (smoke run)" if args.quick else "full")
    results = results[["mode", "method", "rows", "texts_per_s", "speed_vs_hf_pipeline", "accuracy", "peak_rss_mib"]]

    meta = {
        "command": "python benchmarks/scoring.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "mode": "quick" if args.quick else "full",
        "data": str(data),
        "n_train": None if args.model else len(train),
        "n_eval": len(texts),
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "backbone": clf.backbone,
        "export_max_logprob_difference": export_error,
        "quantize_accuracy_change": float(np.mean(predictions["skafa predict, quantize=True"] == labels) - np.mean(predictions["skafa predict"] == labels)),
        "quantize_prediction_agreement": float(np.mean(predictions["skafa predict, quantize=True"] == predictions["skafa predict"])),
        "hf_prediction_agreement": float(np.mean(predictions['HF pipeline("text-classification")'] == predictions["skafa predict"])),
        "skafa": skafa.__version__,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "date": time.strftime("%Y-%m-%d"),
    }
    (out / "scoring.json").write_text(
        json.dumps({"meta": meta, "results": results.to_dict("records"), "artifacts": artifacts.to_dict("records")}, indent=2)
    )
    results.round(4).to_csv(out / "scoring.csv", index=False)
    artifacts.round(3).to_csv(out / "artifacts.csv", index=False)
    print(results.round(3).to_string(index=False))
    print(artifacts.round(3).to_string(index=False))
    print({k: meta[k] for k in ("quantize_accuracy_change", "quantize_prediction_agreement", "hf_prediction_agreement")})
    return results, artifacts, meta


if __name__ == "__main__":
    main()
