"""The safe folder format of a fitted classifier: JSON, safetensors and tokenizer files, no pickle.

A folder written by :func:`save` holds ``skafa.json`` (parameters, labels, versions, checksums),
``model.safetensors`` (weights), ``backbone/config.json`` and ``tokenizer/``. :func:`read`
reads JSON, tensors and tokenizer files and never unpickles or imports anything named by the
folder, so it is the format for models from untrusted sources. This module knows the format,
not the estimator: :func:`skafa.load` (in :mod:`skafa.persistence`) builds the classifier from
what :func:`read` returns. See the persistence page of the documentation.
"""

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, load_model, save_file, save_model
from transformers import AutoConfig

from .atomic import atomic_path
from .backbone import TextClassifier, load_tokenizer
from .digest import file_sha256
from .gguf import gguf_path, gguf_sha256, is_gguf
from .lora import base_fingerprint, merged, trainable_state
from .model_card import CARD_FILE, ModelCardData, render
from .pickling import check_version_stamp, version_stamp

FORMAT = "skafa-model"
FORMAT_VERSION = 1
CONFIG_FILE = "skafa.json"
WEIGHTS_FILE = "model.safetensors"
BACKBONE_DIR = "backbone"
TOKENIZER_DIR = "tokenizer"
# Label dtypes whose values JSON holds exactly: unicode str, signed/unsigned int, bool, float,
# and object arrays of those.
LABEL_KINDS = "UiubfO"


class ModelFileError(ValueError):
    """A saved model is missing, truncated, corrupted or not a skafa model."""


# --- labels and parameters in JSON ----------------------------------------------------------


def encode_labels(classes):
    """``classes_`` as ``{"dtype": ..., "values": [...]}``, exact for str, int, bool and float labels."""
    classes = np.asarray(classes)
    if classes.dtype.kind not in LABEL_KINDS:
        raise TypeError(
            f"Labels of dtype {classes.dtype} cannot be saved in the safe format (str, int, bool and float "
            "labels can); pickle the classifier instead."
        )
    values = [v.item() if isinstance(v, np.generic) else v for v in classes.tolist()]
    bad = sorted({type(v).__name__ for v in values if not isinstance(v, (str, int, float, bool))})
    if bad:
        raise TypeError(
            f"Labels of type {', '.join(bad)} cannot be saved in the safe format (str, int, bool and float "
            "labels can); pickle the classifier instead."
        )
    return {"dtype": classes.dtype.str, "values": values}


def decode_labels(encoded):
    dtype = np.dtype(encoded["dtype"])
    if dtype.kind not in LABEL_KINDS:
        raise ModelFileError(f"classes have the unsupported dtype {dtype}.")
    if dtype.kind == "O":
        classes = np.empty(len(encoded["values"]), dtype=object)
        classes[:] = encoded["values"]
        return classes
    return np.array(encoded["values"], dtype=dtype)


def _json_params(clf):
    params = clf.get_params(deep=False)
    # Callbacks are training-time objects (not part of a model to score with); a loaded model has none.
    params["callbacks"] = None
    params["backbone"] = os.fspath(params["backbone"])
    if hasattr(params["afa"], "get_params"):
        params["afa"] = {"AFAOptions": params["afa"].get_params()}
    if isinstance(params["random_state"], np.random.RandomState):
        # A generator's state is no parameter of a model to score with; the loaded one is unseeded.
        params["random_state"] = None
    if isinstance(params["class_weight"], dict):
        labels = encode_labels(np.array(list(params["class_weight"]), dtype=object))["values"]
        params["class_weight"] = {"pairs": [[k, float(w)] for k, w in zip(labels, params["class_weight"].values())]}
    if params.get("lora_target_modules") is not None:
        params["lora_target_modules"] = list(params["lora_target_modules"])
    for name, value in params.items():
        if isinstance(value, np.generic):
            params[name] = value.item()
        elif not isinstance(params[name], (str, int, float, bool, dict, list, type(None))):
            raise TypeError(f"Parameter {name}={value!r} cannot be saved in JSON; pickle the classifier instead.")
    return params


# Fitted attributes the folder holds in files of their own (or, for the history, not at all).
# The device is the loader's.
_FITTED_ELSEWHERE = {"classes_", "tokenizer_", "net_", "history_", "device_"}


def _encode_fitted(clf):
    """The other fitted attributes (n_epochs_, word_counts_, ...) as JSON values.

    Numbers and strings are stored as they are, Counters with their type; any other type is an
    error, so that no fitted attribute is silently lost.
    """
    encoded = {}
    for name, value in vars(clf).items():
        if not name.endswith("_") or name.startswith("_") or name in _FITTED_ELSEWHERE:
            continue
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, Counter) and all(isinstance(k, str) for k in value):
            encoded[name] = {"Counter": dict(value)}
        elif isinstance(value, (int, float, str, bool)):
            encoded[name] = value
        else:
            raise TypeError(
                f"The fitted attribute {name} ({type(value).__name__}) cannot be saved in the safe format; "
                "pickle the classifier instead."
            )
    return encoded


def _decode_fitted(fitted, where):
    decoded = {}
    for name, value in fitted.items():
        if isinstance(value, dict) and set(value) == {"Counter"} and isinstance(value["Counter"], dict):
            value = Counter(value["Counter"])
        if not name.endswith("_") or name in _FITTED_ELSEWHERE or not isinstance(value, (int, float, str, bool, Counter)):
            raise ModelFileError(f"{where} has an invalid fitted attribute {name!r}.")
        decoded[name] = value
    return decoded


# --- the safe folder format -----------------------------------------------------------------


def _file_table(folder):
    return {
        p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _history(clf):
    """The per-epoch numbers of the training history (loss, validation scores, AFA diagnostics)."""
    history = getattr(clf, "history_", None) or []
    return [
        {key: value for key, value in epoch.items() if isinstance(value, (int, float)) and not isinstance(value, bool)}
        for epoch in history
    ]


def _base_reference(clf, module):
    """What a LoRA model's adapters were trained on: the backbone as named, and its weights' fingerprint."""
    reference = {"backbone": os.fspath(clf.backbone), "weights_sha256": base_fingerprint(module)}
    if is_gguf(clf.backbone):
        reference["gguf_sha256"] = gguf_sha256(gguf_path(clf.backbone))
    return reference


def save(clf, path, *, overwrite=False, card_data=None, merge_lora=False):
    """Write a fitted classifier to the folder ``path`` in the safe format, with its model card.

    A LoRA model's folder holds only the adapters and the head (``model.safetensors``) and a
    reference to its base (``skafa.json``'s ``module.base``: the backbone as named and a SHA-256
    of its weights); loading reads the base from there and refuses one with other weights. With
    ``merge_lora=True`` the adapters are merged into the backbone's weights and the folder holds
    a complete model that needs no base, for scoring.

    The folder is written next to ``path`` under a temporary name and renamed when complete, so
    an interrupted save leaves no half-written model at ``path``. Besides the model files it
    holds ``README.md``, a model card (see :mod:`skafa.model_card`) that loading never reads.
    Used by :meth:`AFASentimentClassifier.save <skafa.AFASentimentClassifier.save>`.

    Parameters
    ----------
    clf : AFASentimentClassifier
        A fitted classifier (not a quantised copy).
    path : str or path-like
        Folder to create.
    overwrite : bool, default=False
        Replace an existing skafa model folder at ``path``.
    card_data : ModelCardData, optional
        The training data's name and held-out scores, for ``skafa.json`` and the model card.
    merge_lora : bool, default=False
        Save a LoRA model with its adapters merged into the backbone (a self-contained folder).

    Returns
    -------
    pathlib.Path
        The folder written.
    """
    path = Path(path)
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
        if not (path / CONFIG_FILE).is_file():
            raise FileExistsError(f"{path} exists and is not a skafa model folder; it is not overwritten.")
    module = clf.net_.module_
    if not isinstance(module.head, torch.nn.Linear):
        raise TypeError("A quantised classifier cannot be saved; save the original and quantise after loading.")
    lora = getattr(module, "lora", None)
    if merge_lora and lora is not None:
        module, lora = merged(module), None
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": version_stamp(),
        "estimator": type(clf).__name__,
        "params": _json_params(clf),
        "classes": encode_labels(clf.classes_),
        "fitted": _encode_fitted(clf),
        "history": _history(clf),
        "card": (card_data or ModelCardData()).to_dict(),
        "module": {
            "n_classes": module.head.out_features,
            "attention_layer": module.attention_layer,
            "dropout": module.dropout.p,
            "architecture": type(module.backbone.get_base_model() if lora else module.backbone).__name__,
            "lora": lora,
            "base": _base_reference(clf, module) if lora else None,
        },
    }
    with atomic_path(path, folder=True) as staging:
        if lora:
            save_file(trainable_state(module), str(staging / WEIGHTS_FILE))
        else:
            save_model(module, str(staging / WEIGHTS_FILE))
        module.backbone.config.save_pretrained(staging / BACKBONE_DIR)
        clf.tokenizer_.save_pretrained(staging / TOKENIZER_DIR)
        config["files"] = _file_table(staging)
        # Not in the file table: the card is for people, who may edit it without breaking the checksums.
        (staging / CARD_FILE).write_text(render(config, path.name), encoding="utf-8")
        # skafa.json is written last: a folder without it is never a loadable model.
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2, ensure_ascii=False))
    return path


def _read_config(folder):
    config_path = folder / CONFIG_FILE
    if not folder.is_dir():
        raise ModelFileError(f"{folder} is not a folder; a safe-format skafa model is a folder written by save().")
    if not config_path.is_file():
        raise ModelFileError(f"{folder} is not a skafa model folder: it has no {CONFIG_FILE}.")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{config_path} is corrupted or truncated ({exc}).") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{config_path} is not a skafa model description.")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(
            f"{folder} was written in skafa model format {config['format_version']}, newer than this skafa "
            f"reads ({FORMAT_VERSION}); upgrade skafa to load it."
        )
    missing = [key for key in ("params", "classes", "module", "files", "versions") if key not in config]
    if missing:
        raise ModelFileError(f"{config_path} is incomplete: it lacks {missing}.")
    return config


def describe(path):
    """The description ``skafa.json`` of the model folder ``path``, read without loading the weights.

    Checks that the folder is a skafa model in a format this skafa reads; the files are not
    verified (see :func:`verify`).

    Returns
    -------
    dict
        Parameters, classes, fitted attributes, training history, model-card data, the versions
        that wrote it, and each file's size and SHA-256.
    """
    return _read_config(Path(path))


def verify(path):
    """Check every file of the model folder ``path`` against the size and SHA-256 it was saved with.

    Raises
    ------
    ModelFileError
        A file is missing, truncated or corrupted.
    """
    folder = Path(path)
    _verify_files(folder, _read_config(folder)["files"])


def _verify_files(folder, files):
    for name, expected in files.items():
        file = folder / name
        if not file.is_file():
            raise ModelFileError(f"{folder} is incomplete: {name} is missing.")
        size = file.stat().st_size
        if size != expected["bytes"]:
            raise ModelFileError(
                f"{file} is truncated or altered: {size} bytes instead of the {expected['bytes']} it was saved with."
            )
        if file_sha256(file) != expected["sha256"]:
            raise ModelFileError(f"{file} is corrupted: its checksum differs from the one it was saved with.")




def _lora_module(folder, params, module_config):
    """A LoRA model's module: its base loaded from the reference, checked, then adapters and head put on."""
    base = module_config["base"]
    module = TextClassifier(
        base["backbone"],
        module_config["n_classes"],
        attention_layer=module_config["attention_layer"],
        dropout=module_config["dropout"],
        lora=module_config["lora"],
    )
    if base_fingerprint(module) != base["weights_sha256"]:
        raise ModelFileError(
            f"{folder} holds LoRA adapters trained on other base weights than those {base['backbone']!r} "
            "loads now; load it where that backbone has the weights it was trained on, or save it with "
            "merge_lora=True."
        )
    adapters = load_file(str(folder / WEIGHTS_FILE))
    expected = trainable_state(module)
    if set(adapters) != set(expected):
        raise ModelFileError(f"{folder}'s adapter weights do not match its LoRA settings.")
    module.load_state_dict(adapters, strict=False)
    return module


@dataclass
class SavedModel:
    """What a model folder holds, checked and loaded, before it becomes a classifier again."""

    folder: Path
    estimator: str
    params: dict
    classes: np.ndarray
    fitted: dict
    module: TextClassifier
    tokenizer: object
    versions: dict


def read(path):
    """Check every file of the folder ``path`` and load its parts, without running code from it.

    Reads only ``skafa.json``, ``model.safetensors``, the backbone's ``config.json`` and the
    tokenizer files, after checking every file's size and checksum; nothing is unpickled and no
    remote code is trusted. The module is on the CPU, in eval mode.

    Returns
    -------
    SavedModel

    Raises
    ------
    ModelFileError
        The folder is not a skafa model, or a file is missing, truncated or corrupted.
    """
    folder = Path(path)
    config = _read_config(folder)
    check_version_stamp(config["versions"], f"The model in {folder}")
    _verify_files(folder, config["files"])
    try:
        params = config["params"]
        if not isinstance(params, dict):
            raise TypeError("params is not a JSON object")
        classes = decode_labels(config["classes"])
        module_config = config["module"]
        if module_config.get("lora"):
            module = _lora_module(folder, params, module_config)
        else:
            backbone_config = AutoConfig.from_pretrained(folder / BACKBONE_DIR, local_files_only=True, trust_remote_code=False)
            module = TextClassifier(
                params.get("backbone", ""),
                module_config["n_classes"],
                attention_layer=module_config["attention_layer"],
                dropout=module_config["dropout"],
                config=backbone_config,
            )
            load_model(module, str(folder / WEIGHTS_FILE), strict=True)
        tokenizer = load_tokenizer(folder / TOKENIZER_DIR)
        if isinstance(params.get("class_weight"), dict):
            params["class_weight"] = {label: weight for label, weight in params["class_weight"]["pairs"]}
    except (KeyError, TypeError, ValueError, OSError, RuntimeError, SafetensorError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{folder} could not be loaded: {exc.__class__.__name__}: {exc}") from exc
    fitted = _decode_fitted(config.get("fitted", {}), folder / CONFIG_FILE)
    if len(classes) != module.head.out_features:
        raise ModelFileError(f"{folder} has {len(classes)} classes but a head with {module.head.out_features} outputs.")
    module.eval()
    return SavedModel(folder, config.get("estimator"), params, classes, fitted, module, tokenizer, config["versions"])
