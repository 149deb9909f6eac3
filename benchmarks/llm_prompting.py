"""Prompted references for the LLM rows: zero-shot and few-shot accuracy of an instruct decoder.

skorch's ``ZeroShotClassifier`` / ``FewShotClassifier`` score each label's probability under the
causal LM; they run here on the same converted weights skafa fine-tunes (``backbone`` names a
packaged GGUF model or any causal-LM folder) and on the same validation splits as
``benchmarks/accuracy.py --split valid`` (the test splits are never read). skorch's default
prompts are wrapped in the model's chat template when it has one. Few-shot examples are drawn
from the training pool, one draw per seed.

    python benchmarks/llm_prompting.py --backbone smollm2-135m --datasets sst2,mr --n-test 500 --seeds 3
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skorch.llm import FewShotClassifier, ZeroShotClassifier
from skorch.llm.classifier import DEFAULT_PROMPT_FEW_SHOT, DEFAULT_PROMPT_ZERO_SHOT
from transformers import AutoModelForCausalLM, AutoTokenizer

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import accuracy  # noqa: E402  (the shared validation splits)

from skafa.backbone import resolve_backbone  # noqa: E402

LABEL_NAMES = {0: "negative", 1: "positive"}


def chat_prompt(tokenizer, prompt):
    """``prompt`` as the user turn of the model's chat template (placeholders kept), if it has one."""
    if not getattr(tokenizer, "chat_template", None):
        return prompt
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False)


def score(clf, evaluation):
    start = time.perf_counter()
    predicted = clf.predict(evaluation.text.tolist())
    truth = evaluation.label.map(LABEL_NAMES).to_numpy()
    return float((predicted == truth).mean()), time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="smollm2-135m")
    parser.add_argument("--datasets", default="sst2,mr")
    parser.add_argument("--n-test", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=3, help="few-shot example draws (0: zero-shot only)")
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--data-root", default=str(HERE.parent.parent / "shared" / "datasets"))
    parser.add_argument("--out", default=str(HERE.parent / "docs" / "_static" / "llm"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = resolve_backbone(args.backbone)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    done = set()
    results = out / "prompting.jsonl"
    if results.exists():
        done = {(r["backbone"], r["dataset"], r["method"], r["seed"]) for r in map(json.loads, results.read_text().splitlines())}
    for dataset in args.datasets.split(","):
        pool, evaluation, _ = accuracy.evaluation_split(args.data_root, dataset, "valid", args.n_test)
        labels = pool.label.map(LABEL_NAMES).to_numpy()
        runs = [("zero_shot", None)] + [("few_shot", seed) for seed in range(args.seeds)]
        for method, seed in runs:
            if (args.backbone, dataset, method, seed) in done:
                continue
            if method == "zero_shot":
                clf = ZeroShotClassifier(model=model, tokenizer=tokenizer, prompt=chat_prompt(tokenizer, DEFAULT_PROMPT_ZERO_SHOT))
                clf.fit(None, labels)
            else:
                clf = FewShotClassifier(
                    model=model, tokenizer=tokenizer, prompt=chat_prompt(tokenizer, DEFAULT_PROMPT_FEW_SHOT),
                    max_samples=args.shots, random_state=seed,
                )
                clf.fit(pool.text.to_numpy(), labels)
            acc, seconds = score(clf, evaluation)
            record = {
                "dataset": dataset, "method": method, "seed": seed, "backbone": args.backbone, "accuracy": acc,
                "n_eval": len(evaluation), "eval_s": seconds, "threads": torch.get_num_threads(),
                "majority": float(np.mean(evaluation.label == evaluation.label.mode()[0])),
            }
            with results.open("a") as f:
                f.write(json.dumps(record) + "\n")
            print(f"{dataset} {method} seed={seed}: accuracy {acc:.4f} ({seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
