"""Hyper-parameter search on a Dask LocalCluster against the same search with ``n_jobs=1``.

The same ``GridSearchCV`` (AFA options x folds, SST-2 training sentences, the default backbone
unless ``--backbone``) runs twice in one process: sequentially with torch on every core, then
on a ``distributed.LocalCluster`` of ``--workers`` worker processes with one thread each, the
data scattered once (``joblib.parallel_backend("dask", scatter=[X, y])``). Written to
``dask_search.csv``: wall time of each, their ratio, and the largest difference between the
two searches' mean validation scores.

    python benchmarks/dask_search.py --out docs/_static/scaling
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import accuracy  # noqa: E402

from skafa import AFASentimentClassifier  # noqa: E402

GRID = {"afa_weight": [0.0, 0.3], "afa__reward": ["discriminator", "kl"]}


def search(X, y, args, on_dask=False):
    """(wall seconds, mean validation score per candidate) of the grid search, sequential or on Dask."""
    clf = AFASentimentClassifier(backbone=args.backbone, epochs=args.epochs, device="cpu", random_state=0, verbose=0)
    grid = GridSearchCV(clf, GRID, cv=args.folds, n_jobs=-1 if on_dask else 1, refit=False)
    start = time.perf_counter()
    if on_dask:
        with joblib.parallel_backend("dask", scatter=[X, y]):  # the data travels to each worker once
            grid.fit(X, y)
    else:
        grid.fit(X, y)
    return time.perf_counter() - start, grid.cv_results_["mean_test_score"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backbone", default=accuracy.DEFAULT_BACKBONE)
    parser.add_argument("--data-root", default=str(HERE.parent.parent / "shared" / "datasets"))
    parser.add_argument("--out", default=str(HERE.parent / "docs" / "_static" / "scaling"))
    args = parser.parse_args(argv)
    import distributed

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pool, _, _ = accuracy.evaluation_split(args.data_root, "sst2", "valid", None)
    train = accuracy.stratified_subset(pool, args.n_train, seed=0)
    X, y = train.text.tolist(), train.label.to_numpy()
    local_s, local_scores = search(X, y, args)
    cluster = distributed.LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None, worker_dashboard_address=None
    )
    with distributed.Client(cluster):
        dask_s, dask_scores = search(X, y, args, on_dask=True)
    cluster.close()
    n_fits = len(local_scores) * args.folds
    table = pd.DataFrame(
        [
            {"setup": "n_jobs=1 (torch on every core)", "workers": 1, "wall_s": local_s, "ratio_to_n_jobs_1": 1.0},
            {"setup": f"LocalCluster, {args.workers} workers x 1 thread", "workers": args.workers, "wall_s": dask_s,
             "ratio_to_n_jobs_1": dask_s / local_s},
        ]
    ).assign(fits=n_fits, max_score_difference=float(np.max(np.abs(dask_scores - local_scores))))
    table.to_csv(out / "dask_search.csv", index=False, float_format="%.4f")
    meta = {"command": "python " + " ".join(sys.argv), "n_train": len(train), "grid": GRID, "folds": args.folds,
            "epochs": args.epochs, "cpus": os.cpu_count(), "machine": platform.platform(),
            "mean_test_scores": {"n_jobs_1": local_scores.tolist(), "dask": dask_scores.tolist()}}
    (out / "dask_search.json").write_text(json.dumps(meta, indent=2))
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
