"""Long texts (IMDB: truncation vs sliding windows), multi-class data (SST-5, TweetEval), and how
much of a Chinese corpus (ChnSentiCorp) the default backbone's English vocabulary knows.

    python benchmarks/realworld.py --data-root ../shared/datasets --out docs/_static/realworld
    python benchmarks/realworld.py --only chinese     # tokenisation only: seconds, no training

Writes ``long_texts.csv``, ``multiclass.csv`` and ``chinese_vocabulary.csv`` (and JSON with the
command, versions, device and date). Sizes are fixed subsets, stated in the files; ``--quick``
shrinks everything for a smoke run.
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
from skafa.backbone import DEFAULT_BACKBONE, load_tokenizer


def read(root, name, split):
    path = Path(root) / name / f"{split}.csv"
    if not path.exists():
        path = path.with_suffix(".csv.gz")
    return pd.read_csv(path, keep_default_na=False)


def timed_predict(clf, texts):
    start = time.perf_counter()
    pred = clf.predict(texts)
    return pred, time.perf_counter() - start


def long_texts(args):
    train = read(args.data_root, "imdb", "train").sample(args.imdb_train, random_state=0)
    test = read(args.data_root, "imdb", "test").sample(args.imdb_test, random_state=0)
    rows = []
    for truncation in ("head", "head_tail"):
        clf = AFASentimentClassifier(
            max_length=args.imdb_max_length, truncation=truncation, epochs=args.epochs, device=args.device,
            random_state=0, verbose=0, max_batch_tokens=16 * args.imdb_max_length,
        ).fit(train.text, train.label)
        for long_text in ("truncate", "window"):
            clf.set_params(long_text=long_text)
            pred, seconds = timed_predict(clf, test.text)
            rows.append({
                "training truncation": truncation,
                "prediction": long_text if long_text == "window" else truncation,
                "accuracy": accuracy_score(test.label, pred),
                "predict_s": seconds,
            })
            print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    base = frame.groupby("training truncation")["predict_s"].transform("first")
    frame["time_ratio"] = frame["predict_s"] / base
    return frame, {"imdb_train": len(train), "imdb_test": len(test), "max_length": args.imdb_max_length}


def multiclass(args):
    specs = {
        "SST-5": (read(args.data_root, "sst5", "train"), read(args.data_root, "sst5", "test")),
        # TweetEval sentiment ships no train split here: train on dev, test on a fixed test subset.
        "TweetEval": (read(args.data_root, "tweeteval_sentiment", "dev"),
                      read(args.data_root, "tweeteval_sentiment", "test").sample(args.tweet_test, random_state=0)),
    }
    rows = []
    for name, (train, test) in specs.items():
        if args.multiclass_train:
            train = train.sample(min(len(train), args.multiclass_train), random_state=0)
        if args.multiclass_test:
            test = test.sample(min(len(test), args.multiclass_test), random_state=0)
        for afa in (False, True):
            clf = AFASentimentClassifier(epochs=args.epochs, afa=afa, device=args.device, random_state=0, verbose=0)
            clf.fit(train.text, train.label.astype(str))
            pred = clf.predict(test.text)
            rows.append({
                "dataset": name, "method": "AFA" if afa else "plain", "classes": len(clf.classes_),
                "n_train": len(train), "n_test": len(test),
                "accuracy": accuracy_score(test.label.astype(str), pred),
                "macro_f1": f1_score(test.label.astype(str), pred, average="macro"),
            })
            print(rows[-1], flush=True)
    return pd.DataFrame(rows), {"multiclass_train": args.multiclass_train, "multiclass_test": args.multiclass_test}


def chinese_vocabulary(args):
    """Share of ChnSentiCorp's word pieces that the default tokenizer maps to its unknown token.

    Counts content tokens only (no [CLS]/[SEP]), over every text of every split, once without
    truncation and once within the classifier's default 128 tokens.
    """
    tokenizer = load_tokenizer(DEFAULT_BACKBONE)
    unk, special = tokenizer.unk_token_id, set(tokenizer.all_special_ids)
    rows = []
    for split in ("train", "dev", "test"):
        texts = read(args.data_root, "chnsenticorp", split).text.tolist()
        if args.quick:
            texts = texts[:100]
        for max_length in (None, 128):
            ids = tokenizer(texts, truncation=max_length is not None, max_length=max_length)["input_ids"]
            content = [i for row in ids for i in row if i not in special or i == unk]
            rows.append({
                "split": split, "texts": len(texts), "max_length": max_length or "none",
                "content_tokens": len(content), "unk_tokens": sum(i == unk for i in content),
                "unk_share": sum(i == unk for i in content) / len(content),
            })
            print(rows[-1], flush=True)
    return pd.DataFrame(rows), {"backbone": DEFAULT_BACKBONE, "tokenizer_vocab_size": tokenizer.vocab_size}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="../shared/datasets")
    parser.add_argument("--out", default="docs/_static/realworld")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--imdb-train", type=int, default=4000)
    parser.add_argument("--imdb-test", type=int, default=2000)
    parser.add_argument("--imdb-max-length", type=int, default=256)
    parser.add_argument("--tweet-test", type=int, default=4000)
    parser.add_argument("--multiclass-train", type=int, default=None, help="random training subset per dataset")
    parser.add_argument("--multiclass-test", type=int, default=None, help="random test subset per dataset")
    parser.add_argument("--only", choices=["long", "multiclass", "chinese"], default=None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.imdb_train, args.imdb_test, args.imdb_max_length, args.epochs, args.tweet_test = 64, 32, 64, 1, 100
        args.multiclass_train, args.multiclass_test = 200, 100
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": "python benchmarks/realworld.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
        "skafa": skafa.__version__, "torch": torch.__version__, "machine": platform.machine(),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "date": time.strftime("%Y-%m-%d"),
    }
    for name, job in (("long_texts", long_texts), ("multiclass", multiclass), ("chinese_vocabulary", chinese_vocabulary)):
        if args.only and not name.startswith(args.only):
            continue
        frame, sizes = job(args)
        frame.round(4).to_csv(out / f"{name}.csv", index=False)
        (out / f"{name}.json").write_text(json.dumps({"meta": {**meta, **sizes}, "results": frame.to_dict("records")}, indent=2))
        print(frame.round(4).to_string(index=False))


if __name__ == "__main__":
    main()
