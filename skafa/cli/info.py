"""``skafa info``: what a model folder holds, read from its ``skafa.json`` without loading the weights."""

import json
import sys
from pathlib import Path

from ..estimator import AFASentimentClassifier
from ..model_card import CARD_FILE
from ..params import AFAOptions
from ..safe_format import describe, verify


def _size(n_bytes):
    for unit in ("B", "kB", "MB", "GB"):
        if n_bytes < 1000 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000


def _changed(params):
    """The parameters that differ from the defaults, AFA options expanded."""
    defaults = AFASentimentClassifier().get_params(deep=False)
    changed = [f"{k}={v!r}" for k, v in params.items() if k in defaults and k != "afa" and v != defaults[k]]
    afa = params.get("afa")
    if afa is False:
        changed.insert(0, "afa=False")
    elif isinstance(afa, dict):
        options, option_defaults = afa.get("AFAOptions", {}), AFAOptions().get_params()
        changed += [f"afa__{k}={v!r}" for k, v in options.items() if option_defaults.get(k) != v]
    return changed


def lines(config, folder):
    params, fitted, versions = config["params"], config.get("fitted", {}), config.get("versions", {})
    card, history = config.get("card") or {}, config.get("history") or []
    n_texts = fitted.get("n_samples_seen_")
    training = [
        "AFA" if params.get("afa") else "plain fine-tuning",
        f"{n_texts:,} texts" if isinstance(n_texts, int) else "texts not recorded",
        f"{fitted.get('n_epochs_', '?')} epochs (best {fitted.get('best_epoch_', '?')})",
    ]
    if card.get("dataset"):
        training.append(f"from {card['dataset']}")
    rows = [
        ("folder", str(folder)),
        ("format", f"{config['format']} {config.get('format_version')}, written by skafa {versions.get('skafa')} "
                   f"(transformers {versions.get('transformers')}, torch {versions.get('torch')})"),
        ("backbone", f"{params.get('backbone')} ({config.get('module', {}).get('architecture', '?')})"),
        ("classes", ", ".join(map(str, config["classes"]["values"]))),
        ("training", ", ".join(training)),
    ]
    module = config.get("module", {})
    if module.get("lora"):
        lora, base = module["lora"], module.get("base") or {}
        targets = ", ".join(lora.get("target_modules") or ["the family's attention projections"])
        rows.append(("LoRA", f"r={lora['r']}, alpha={lora['alpha']:g} on {targets}; the folder holds adapters and "
                             f"head, the base is {base.get('backbone')!r} (weights sha256 {base.get('weights_sha256', '?')[:16]}...)"))
    if card.get("metrics"):
        scores = ", ".join(f"{k} {v:.4f}" for k, v in card["metrics"].items())
        rows.append(("metrics", f"{scores} ({card.get('evaluated_on') or 'held-out data'})"))
    if history:
        last = history[-1]
        shown = {k: v for k, v in last.items() if k not in ("epoch", "dur") and not k.endswith("_count")}
        rows.append(("last epoch", ", ".join(f"{k} {v:.4g}" for k, v in shown.items())))
    rows.append(("parameters", ", ".join(_changed(params)) or "all defaults"))
    for name, entry in config["files"].items():
        rows.append(("files" if name == next(iter(config["files"])) else "",
                     f"{name}  {_size(entry['bytes'])}  sha256 {entry['sha256']}"))
    card_file = folder / CARD_FILE
    if card_file.is_file():
        rows.append(("card", f"{CARD_FILE}  {_size(card_file.stat().st_size)}  (for people; not checksummed)"))
    width = max(len(label) for label, _ in rows)
    return [f"{label:<{width}}  {value}" for label, value in rows]


def run(args):
    folder = Path(args.model)
    if folder.is_file():
        raise ValueError(f"{folder} is a file: info reads model folders (skafa train, save()); a pickle can only "
                         "be inspected by loading it in Python, which runs its code (trusted files only).")
    config = describe(folder)
    if args.verify:
        verify(folder)
    print(json.dumps(config, indent=2, ensure_ascii=False) if args.json else "\n".join(lines(config, folder)))
    if args.verify and not args.quiet:
        print(f"all {len(config['files'])} files match their recorded sizes and SHA-256", file=sys.stderr)
    return 0
