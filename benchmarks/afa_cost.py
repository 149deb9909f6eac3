"""What does AFA cost per epoch, against plain fine-tuning measured in the same run?

One epoch on the same SST-2 training sentences for plain fine-tuning and each AFA variant, in
rounds (every variant once per round, the order rotating), on this machine's CPU (or a GPU with
``--device cuda``); the ratio of each variant's median epoch time to plain's is written to
``cost.csv`` with every effective parameter in ``results.jsonl``.

    python benchmarks/afa_cost.py --out docs/_static/afa_cost
"""

import argparse
import json
import platform
import sys
from pathlib import Path

import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import accuracy  # noqa: E402

from skafa import AFAOptions, AFASentimentClassifier  # noqa: E402

VARIANTS = {
    "plain": {"afa": False},
    # The default until the AFA-signal work: a learned discriminator's reward, K = 2 masks per text.
    "discriminator": {"afa": AFAOptions(reward="discriminator", n_samples=2)},
    "discriminator_k1": {"afa": AFAOptions(reward="discriminator", n_samples=1)},
    "kl": {"afa": AFAOptions(reward="kl", n_samples=2)},
    "kl_k1": {"afa": AFAOptions(reward="kl", n_samples=1)},  # today's default
    "direct_kl": {"afa": AFAOptions(policy="direct", reward="kl", n_samples=2)},
    "direct_kl_k1": {"afa": AFAOptions(policy="direct", reward="kl", n_samples=1)},
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backbone", default=accuracy.DEFAULT_BACKBONE)
    parser.add_argument("--data-root", default=str(HERE.parent.parent / "shared" / "datasets"))
    parser.add_argument("--out", default=str(HERE.parent / "docs" / "_static" / "afa_cost"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pool, _, _ = accuracy.evaluation_split(args.data_root, "sst2", "valid", None)
    train = accuracy.stratified_subset(pool, args.n_train, seed=0)
    names = args.variants.split(",")
    records = []
    for round_ in range(args.rounds):
        for name in names[round_ % len(names):] + names[: round_ % len(names)]:
            clf = AFASentimentClassifier(
                backbone=args.backbone, epochs=1, device=args.device, random_state=round_, verbose=0
            ).set_params(**VARIANTS[name])
            clf.fit(train.text.tolist(), train.label.to_numpy())
            record = {"variant": name, "round": round_, "epoch_s": float(clf.history_[-1, "dur"]),
                      "n_train": len(train), "device": args.device, "threads": torch.get_num_threads(),
                      "machine": platform.processor() or platform.machine(),
                      "effective_params": accuracy.effective_params(clf)}
            records.append(record)
            print(f"{name}: {record['epoch_s']:.1f} s", flush=True)
            with (out / "results.jsonl").open("a") as f:
                f.write(json.dumps(record) + "\n")
    frame = pd.DataFrame(records)
    median = frame.groupby("variant", sort=False).epoch_s.median()
    table = pd.DataFrame({"epoch_s": median, "ratio_to_plain": median / median["plain"]}).reset_index()
    table.to_csv(out / "cost.csv", index=False, float_format="%.3f")
    (out / "command.txt").write_text(" ".join(["python", "benchmarks/afa_cost.py", *(argv or sys.argv[1:])]) + "\n")
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
