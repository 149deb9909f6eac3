"""How a fit is set up from the estimator's parameters: data splits, schedule, the net and its callbacks.

The estimator (:mod:`skafa.estimator`) decides *what* to train; this module turns its parameters
into an :class:`~skafa.net.AFANet` and carries training state across ``warm_start`` and
``partial_fit`` calls.
"""

import copy
import os

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch.callbacks import EarlyStopping, GradientNormClipping, ProgressBar
from skorch.helper import predefined_split

from .accelerated import AcceleratedAFANet, make_accelerator
from .backbone import TextClassifier
from .callbacks import (
    EpochSnapshot,
    LinearWarmupDecay,
    ResumableCheckpoint,
    StepSchedule,
    constant_schedule,
    load_training_state,
    training_state,
)
from .lexicon import lexicon_token_ids, load_lexicon
from .lora import lora_settings
from .net import AFAConfig, AFANet, WeightedCrossEntropy
from .params import afa_options
from .progress import interactive
from .text import LengthBucketBatchSampler

CHECKPOINT_FILE = "skafa-checkpoint.pt"

# Parameters fixed when the model is built: a warm-started or partial fit that changes one is refused.
# Every other parameter (lr, batch_size, afa_weight, max_grad_norm, ...) applies to later calls.
STRUCTURAL_PARAMS = (
    "backbone",
    "attention_layer",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_target_modules",
    "gradient_checkpointing",
    "afa",
    "afa__reward",
    "afa__discriminator_features",
    "afa__discriminator_hidden",
    "afa__paired_discriminator",
)


def accelerator_for(params):
    """The ``accelerate.Accelerator`` of a data-parallel fit; refuses what it cannot serve."""
    accelerator = make_accelerator()
    n = accelerator.num_processes
    if params["batch_size"] % n:
        raise ValueError(
            f"batch_size={params['batch_size']} is the global batch and must divide evenly over the {n} processes."
        )
    if accelerator.gradient_accumulation_steps > 1:
        # Each step of the net steps its optimizers; accumulating would need Accelerate's optimizer wrappers.
        raise ValueError(
            "gradient accumulation is not supported with accelerate=True; batch_size is already the global "
            "batch, cut across the processes: raise it instead."
        )
    if params["max_batch_tokens"] is not None and n > 1:
        raise ValueError("max_batch_tokens is not supported with accelerate=True over several processes.")
    if params["checkpoint_dir"] is not None and n > 1:
        raise ValueError("checkpoint_dir is not supported with accelerate=True over several processes.")
    return accelerator


def resolve_device(device):
    """``"auto"`` becomes ``"cuda"`` when a GPU is visible, else ``"cpu"``; others are checked."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'; got {device!r}.") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but no CUDA GPU is available; use 'auto' or 'cpu'.")
    return str(resolved)


def structure(params):
    """The values of the structural parameters in ``params`` (a ``get_params`` dict), defaults filled in."""
    values = {name: params[name] for name in STRUCTURAL_PARAMS if not name.startswith("afa")}
    values["afa"] = bool(params["afa"])
    values.update({"afa__" + k: v for k, v in afa_options(params["afa"]).items()})
    return {name: values[name] for name in STRUCTURAL_PARAMS}


def check_same_structure(built, params):
    """Refuse to continue training when a parameter fixed at build time has changed since."""
    now = structure(params)
    # .get: models built before a structural parameter existed were built with its default.
    changed = [
        f"{name}: {built.get(name, now[name])!r} -> {now[name]!r}"
        for name in STRUCTURAL_PARAMS
        if built.get(name, now[name]) != now[name]
    ]
    if changed:
        raise ValueError(
            f"Cannot continue training: these parameters fix the model's structure and changed since it was "
            f"built ({'; '.join(changed)}). Set them back, or fit anew with warm_start=False."
        )


def split(dataset, y_encoded, fraction, random_state):
    """The training set and, when ``fraction`` is set, a stratified held-out validation set."""
    if fraction is None:
        return dataset, None
    train_idx, valid_idx = train_test_split(
        np.arange(len(dataset)), test_size=fraction, stratify=y_encoded, random_state=random_state
    )
    return dataset.take(train_idx), dataset.take(valid_idx)


def n_steps(train_set, epochs, params):
    """Optimizer steps of ``epochs`` passes over ``train_set`` with the batching ``params`` ask for."""
    sampler = LengthBucketBatchSampler(train_set.lengths, params["batch_size"], params["max_batch_tokens"])
    return epochs * len(sampler)


def schedule(steps, params, *, partial, offset):
    """The learning-rate factor per step: constant for ``partial_fit``, else warm-up then decay."""
    if partial:
        return constant_schedule
    return LinearWarmupDecay(steps, round(params["warmup_ratio"] * steps), offset=offset)


def afa_config(params, tokenizer, start_step):
    """The :class:`~skafa.net.AFAConfig` of ``params``, or None for plain fine-tuning."""
    if not params["afa"]:
        return None
    options = afa_options(params["afa"])
    return AFAConfig(
        mask_ratio=params["mask_ratio"],
        weight=params["afa_weight"],
        temperature=options["temperature"],
        n_samples=options["n_samples"],
        start_step=start_step,
        mask_token_id=mask_token_id(params, tokenizer),
        features=options["discriminator_features"],
        policy=options["policy"],
        reward=options["reward"],
        paired_discriminator=options["paired_discriminator"],
        probe_dropout=options["probe_dropout"],
        normalize_advantages=options["normalize_advantages"],
        exploration=options["exploration"],
        skill_scaling=options["skill_scaling"],
        lexicon_ids=diagnostic_lexicon_ids(tokenizer),
    )


def diagnostic_lexicon_ids(tokenizer):
    """VADER's words as token ids for the ``mask_lexicon`` history column, or None without the package."""
    try:
        return tuple(lexicon_token_ids(tokenizer, load_lexicon("vader")))
    except ImportError:
        return None


def mask_token_id(params, tokenizer):
    """The token that hides a word, or None to hide it from the attention mask instead.

    ``mask_mode="token"`` uses the mask token, else (decoders have none) the unknown-word token
    when it is not also the end-of-text, padding or start token, else hides from the attention mask.
    """
    if params["mask_mode"] != "token":
        return None
    if tokenizer.mask_token_id is not None:
        return tokenizer.mask_token_id
    unk = tokenizer.unk_token_id
    structural = {tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.bos_token_id}
    return unk if unk is not None and unk not in structural else None


def build_net(
    params, *, tokenizer, n_classes, device, schedule, afa, class_weight, train_split, checkpoint=(None, None), module=None,
    accelerator=None,
):
    """An :class:`~skafa.net.AFANet` (not yet initialised) for the estimator parameters ``params``.

    ``checkpoint`` is the ``(path, fingerprint)`` of :class:`~skafa.callbacks.ResumableCheckpoint`;
    ``module`` reuses an existing classifier module (a continued fit) instead of loading the
    backbone again; with an ``accelerator`` the net trains data-parallel
    (:class:`~skafa.accelerated.AcceleratedAFANet`).
    """
    callbacks = [
        ("schedule", StepSchedule(schedule)),
        # Before the snapshot: a resumed checkpoint is the state the snapshot must fall back to.
        ("checkpoint", ResumableCheckpoint(*checkpoint)),
        ("snapshot", EpochSnapshot()),
        ("grad_clip", GradientNormClipping(gradient_clip_value=params["max_grad_norm"])),
    ]
    if params["early_stopping"]:
        # threshold=0: any decrease is an improvement, so the epoch restored is best_epoch_ (the argmin).
        stopper = EarlyStopping(patience=params["n_iter_no_change"], threshold=0, load_best=True)
        callbacks.append(("early_stopping", stopper))
    if params["verbose"] and interactive():
        callbacks.append(("progress", ProgressBar()))
    # Clones: fitting must not change the callback objects the user passed as a parameter.
    callbacks += [copy.deepcopy(cb) for cb in params["callbacks"] or []]
    module_params = {}
    if module is None:
        module, module_params = TextClassifier, {
            "module__backbone": params["backbone"],
            "module__n_classes": n_classes,
            "module__attention_layer": params["attention_layer"],
            "module__lora": lora_settings(params),
            "module__gradient_checkpointing": params["gradient_checkpointing"],
        }
    # Routed only when a discriminator exists: skorch refuses parameters of unknown modules.
    discriminator_params = {}
    if afa is not None and afa.uses_discriminator:
        options = afa_options(params["afa"])
        discriminator_params = {
            "discriminator__hidden": options["discriminator_hidden"],
            "discriminator_optimizer__lr": options["discriminator_lr"],
        }
    net_class, accelerated = (AFANet, {}) if accelerator is None else (AcceleratedAFANet, {"accelerator": accelerator})
    return net_class(
        module,
        **accelerated,
        **module_params,
        criterion=WeightedCrossEntropy,
        criterion__class_weight=class_weight,
        optimizer=torch.optim.AdamW,
        optimizer__weight_decay=params["weight_decay"],
        lr=params["lr"],
        max_epochs=params["epochs"],
        batch_size=params["batch_size"],
        train_split=None if train_split is None else predefined_split(train_split),
        callbacks=callbacks,
        predict_nonlinearity=None,
        afa_config=afa,
        pad_token_id=tokenizer.pad_token_id,
        max_batch_tokens=params["max_batch_tokens"],
        autocast_dtype=torch.bfloat16 if params["mixed_precision"] and device.startswith("cuda") else None,
        token_dropout=params["token_dropout"],
        mask_token_id=mask_token_id(params, tokenizer),
        **discriminator_params,
        device=device,
        verbose=params["verbose"],
    )


def carry_training_state(old, new):
    """Move the training state of a fitted net into a freshly initialised one built on its module.

    The discriminator's weights, both optimizers' moments, the history and the counters carry
    over; the optimizers' hyper-parameters (learning rates, weight decay) are the new net's, so
    changed parameters apply.
    """
    load_training_state(new, training_state(old), keep_optimizer_settings=True)


def checkpoint_path(checkpoint_dir):
    """The checkpoint file in ``checkpoint_dir`` (created), or None without one."""
    if checkpoint_dir is None:
        return None
    os.makedirs(checkpoint_dir, exist_ok=True)
    return os.path.join(checkpoint_dir, CHECKPOINT_FILE)
