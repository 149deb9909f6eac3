"""Loading a packaged GGUF decoder: the first load (conversion) against later loads (the cache).

Each packaged model given is loaded as skafa loads a backbone (tokenizer, then the model) three
times with an empty cache folder of its own: the first load converts the GGUF file and writes the
cache, the next two read the cached folder. Times go to ``gguf_load.csv``.

    python benchmarks/gguf_load.py --models smollm2-135m --out docs/_static/llm
"""

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from skafa.backbone import TextClassifier, load_tokenizer

HERE = Path(__file__).resolve().parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="smollm2-135m")
    parser.add_argument("--out", default=str(HERE.parent / "docs" / "_static" / "llm"))
    args = parser.parse_args(argv)
    rows = []
    for model in args.models.split(","):
        with tempfile.TemporaryDirectory() as cache:
            os.environ["SKAFA_CACHE_DIR"] = cache
            for attempt in range(3):
                start = time.perf_counter()
                load_tokenizer(model)
                module = TextClassifier(model, n_classes=2)
                seconds = time.perf_counter() - start
                rows.append({"model": model, "load": "first (converts)" if attempt == 0 else "cached",
                             "seconds": seconds, "parameters_m": sum(p.numel() for p in module.parameters()) / 1e6,
                             "threads": torch.get_num_threads(), "machine": platform.machine()})
                print(rows[-1], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out / "gguf_load.csv", index=False, float_format="%.2f")


if __name__ == "__main__":
    main()
