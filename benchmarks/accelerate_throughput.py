"""Training throughput of one process against N data-parallel processes (Accelerate).

For each N in ``--processes`` the script launches itself with ``torchrun`` on N processes (one GPU
each where there are GPUs, else the CPU with the gloo backend); every process fits AFA on the
same SST-2 training sentences for one epoch with ``accelerate=True`` and the same global batch,
and the main process records the epoch time. Written to ``accelerate_throughput.csv``: texts per
second and the ratio to one process.

    python benchmarks/accelerate_throughput.py --processes 1,2,4 --mixed-precision --out docs/_static/scaling
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import accuracy  # noqa: E402

from skafa import AFASentimentClassifier  # noqa: E402


def worker(args):
    """One process of an N-process fit; the main process appends its epoch time to ``--record``."""
    pool, _, _ = accuracy.evaluation_split(args.data_root, "sst2", "valid", None)
    train = accuracy.stratified_subset(pool, args.n_train, seed=0)
    clf = AFASentimentClassifier(
        backbone=args.backbone, accelerate=True, epochs=1, batch_size=args.batch_size,
        mixed_precision=args.mixed_precision, random_state=0, verbose=0,
    ).fit(train.text.tolist(), train.label.to_numpy())
    if int(os.environ.get("RANK", 0)) == 0:
        record = {"processes": int(os.environ.get("WORLD_SIZE", 1)), "epoch_s": float(clf.history_[-1, "dur"]),
                  "n_train": len(train), "device": clf.device_, "mixed_precision": args.mixed_precision,
                  "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
        with open(args.record, "a") as f:
            f.write(json.dumps(record) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32, help="global batch (divisible by every N)")
    parser.add_argument("--mixed-precision", action="store_true", help="bf16 autocast on CUDA")
    parser.add_argument("--backbone", default=accuracy.DEFAULT_BACKBONE)
    parser.add_argument("--data-root", default=str(HERE.parent.parent / "shared" / "datasets"))
    parser.add_argument("--out", default=str(HERE.parent / "docs" / "_static" / "scaling"))
    parser.add_argument("--record", help=argparse.SUPPRESS)  # set when launched as a worker
    args = parser.parse_args(argv)
    if args.record:
        return worker(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = out / "accelerate_throughput.jsonl"
    record.unlink(missing_ok=True)
    passed = [a for a in (argv if argv is not None else sys.argv[1:])]
    for n in [int(p) for p in args.processes.split(",")]:
        launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n)]
        subprocess.run([*launch, __file__, *passed, "--record", str(record)], check=True)
    table = pd.read_json(record, lines=True)
    table["texts_per_s"] = table.n_train / table.epoch_s
    table["ratio_to_1"] = table.texts_per_s / table.loc[table.processes == 1, "texts_per_s"].iloc[0]
    table.to_csv(out / "accelerate_throughput.csv", index=False, float_format="%.3f")
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
