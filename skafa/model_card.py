"""The model card of a saved folder: ``README.md`` in the Hugging Face model-card convention.

A YAML header (library, pipeline tag, base model, metrics) followed by a short text: what the
model is, how it was trained, what it scored and on what, how to use it and its limits. It is
written from the folder's ``skafa.json`` description, for people; :func:`skafa.load` never reads
it, so editing it does not break the folder's checksums.
"""

import json
import numbers
from dataclasses import dataclass, field

CARD_FILE = "README.md"
DOCS = "the skafa documentation (method and accuracy pages)"


@dataclass
class ModelCardData:
    """What a model card says beyond what the classifier knows about itself.

    Parameters
    ----------
    dataset : str, optional
        The training data, in words (a file name, a dataset name).
    metrics : dict of str to float, optional
        Scores on data held out from training, for example ``{"accuracy": 0.87, "macro_f1": 0.86}``.
    evaluated_on : str, optional
        The data the metrics were measured on, in words.
    """

    dataset: str | None = None
    metrics: dict = field(default_factory=dict)
    evaluated_on: str | None = None

    def to_dict(self):
        """JSON values, checked: text for the descriptions, numbers for the metrics."""
        for name in ("dataset", "evaluated_on"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be text or None; got {type(value).__name__}.")
        bad = [k for k, v in self.metrics.items() if not isinstance(v, numbers.Real) or isinstance(v, bool)]
        if bad:
            raise TypeError(f"metrics must map names to numbers; {bad} do not.")
        metrics = {str(k): float(v) for k, v in self.metrics.items()}
        return {"dataset": self.dataset, "metrics": metrics, "evaluated_on": self.evaluated_on}


def _yaml_string(value):
    # A JSON string is a valid YAML scalar: quotes and escapes keep any text safe in the header.
    return json.dumps(str(value), ensure_ascii=False)


def _header(config, name):
    params, card = config["params"], config.get("card") or {}
    metrics = card.get("metrics") or {}
    lines = [
        "---",
        "library_name: skafa",
        "pipeline_tag: text-classification",
        f"base_model: {_yaml_string(params.get('backbone', 'unknown'))}",
        "tags:",
        "- skafa",
        "- text-classification",
        "- afa" if params.get("afa") else "- plain-fine-tuning",
    ]
    if metrics:
        lines += ["metrics:"] + [f"- {_yaml_string(metric)}" for metric in metrics]
        lines += [
            "model-index:",
            f"- name: {_yaml_string(name)}",
            "  results:",
            "  - task:",
            "      type: text-classification",
            "    dataset:",
            f"      name: {_yaml_string(card.get('dataset') or 'unnamed')}",
            "      type: custom",
            f"      split: {_yaml_string(card.get('evaluated_on') or 'held out')}",
            "    metrics:",
        ]
        lines += [f"    - type: {_yaml_string(metric)}\n      value: {float(value)!r}" for metric, value in metrics.items()]
    return "\n".join(lines + ["---"])


def _training(config):
    params, fitted = config["params"], config.get("fitted", {})
    afa = params.get("afa")
    method = "plain fine-tuning (no AFA)" if not afa else "fine-tuning with Adversarial Feedback for Attention (AFA)"
    if isinstance(afa, dict) and afa.get("AFAOptions"):
        method += f", AFA options {json.dumps(afa['AFAOptions'], sort_keys=True)}"
    n_texts = fitted.get("n_samples_seen_")
    data = f"{n_texts:,} texts" if isinstance(n_texts, int) else "an unrecorded number of texts"
    dataset = (config.get("card") or {}).get("dataset")
    if dataset:
        data += f" from {dataset}"
    keys = ("epochs", "batch_size", "lr", "weight_decay", "max_length", "random_state")
    keys += ("afa_weight", "mask_ratio") if afa else ()
    settings = ", ".join(f"{key}={params[key]!r}" for key in keys if key in params)
    return [
        "## Training",
        "",
        f"- Method: {method}.",
        f"- Data: {data}; epochs trained: {fitted.get('n_epochs_', 'unrecorded')}.",
        f"- Parameters: {settings} (every parameter is in `skafa.json`).",
    ]


def _scores(config):
    card = config.get("card") or {}
    metrics, history = card.get("metrics") or {}, config.get("history") or []
    lines = ["## Evaluation", ""]
    if metrics:
        lines += [f"Measured on {card.get('evaluated_on') or 'data held out from training'}:", ""]
        lines += ["| metric | value |", "|---|---|"] + [f"| {k} | {v:.4f} |" for k, v in metrics.items()]
    elif history and "valid_acc" in history[-1]:
        lines.append(
            f"No held-out evaluation was recorded; the last epoch's internal validation accuracy was "
            f"{history[-1]['valid_acc']:.4f}."
        )
    else:
        lines.append("No evaluation on held-out data was recorded with this model: measure it with `skafa evaluate`.")
    return lines


def render(config, name):
    """The model card (Markdown with a YAML header) of a model described by ``config`` (``skafa.json``)."""
    params, versions = config["params"], config.get("versions", {})
    classes = ", ".join(str(label) for label in config["classes"]["values"])
    architecture = config.get("module", {}).get("architecture", "transformer")
    body = [
        f"# {name}",
        "",
        f"A text classifier trained with [skafa](https://pypi.org/project/skafa/): the {architecture} backbone "
        f"`{params.get('backbone')}` fine-tuned with a linear head over the classes {classes}.",
        "",
        *_training(config),
        "",
        *_scores(config),
        "",
        "## Use",
        "",
        "```bash",
        f"skafa predict {name} texts.csv --text-column text --output scored.csv",
        "```",
        "",
        "```python",
        "import skafa",
        f"clf = skafa.load({name!r})  # checks every file's checksum; runs no code from the folder",
        'clf.predict(["a riveting film"]), clf.token_attention(["a riveting film"])',
        "```",
        "",
        "## Intended use and limits",
        "",
        "- Classifying texts like the training data, in the backbone's language. Accuracy on other kinds of "
        "text (other domains, lengths, languages) is not measured here: measure it with `skafa evaluate` "
        "on labelled data of your own before relying on it.",
        f"- Texts are cut to {params.get('max_length')} tokens; the rest is not read.",
        "- Attention weights show where the model looks, not why it decides; AFA shapes them but, as "
        f"measured in {DOCS}, does not by itself raise accuracy.",
        "- The model inherits the biases of its backbone and of its training data.",
        "",
        f"Written by skafa {versions.get('skafa', '?')} (transformers {versions.get('transformers', '?')}, "
        f"torch {versions.get('torch', '?')}). The folder's files and checksums are listed in `skafa.json`; "
        "this card is not among them and may be edited.",
        "",
    ]
    return _header(config, name) + "\n\n" + "\n".join(body)
