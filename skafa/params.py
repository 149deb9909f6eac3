"""The classifier's parameters, declared once: what each accepts, and the AFA research options.

Everyday parameters are plain constructor arguments. The AFA research and ablation knobs live in
:class:`AFAOptions`, passed as ``afa=AFAOptions(...)`` and routed by prefix as scikit-learn routes
the parameters of a nested estimator: ``set_params(afa__reward="kl")`` and ``GridSearchCV(...,
{"afa__temperature": [1.0, 2.0]})`` work, ``afa=True`` standing for the default options. The method
page of the documentation says what each option does and how its default was chosen.
"""

import os

import numpy as np
from packaging.version import InvalidVersion, Version
from sklearn.base import BaseEstimator

from .validation import check_bool, check_choice, check_number


def _number(integer=False, optional=False, **bounds):
    def check(name, value):
        if not (optional and value is None):
            check_number(name, value, integer=integer, **bounds)

    return check


def _choice(*choices):
    return lambda name, value: check_choice(name, value, choices)


def _random_state(name, value):
    if value is None or isinstance(value, np.random.RandomState):
        return
    check_number(name, value, low=0, high=2**32 - 1, integer=True)


def _class_weight(name, value):
    if not (value is None or value == "balanced" or isinstance(value, dict)):
        raise ValueError(f"{name} must be None, 'balanced' or a dict; got {value!r}.")


def _folder(name, value):
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a folder path or None; got {value!r}.")


def _names(name, value):
    if value is None:
        return
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value) or not value:
        raise TypeError(f"{name} must be None or a non-empty list of module names (str); got {value!r}.")


def _callbacks(name, value):
    if value is not None and not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of skorch callbacks or None; got {type(value).__name__}.")


_fraction_open = dict(low=0, high=1, low_inclusive=False, high_inclusive=False)

# What each constructor parameter accepts (backbone and device are checked when they are loaded).
PARAMETER_CONSTRAINTS = {
    "max_length": _number(integer=True, low=2),
    "truncation": _choice("head", "head_tail"),
    "long_text": _choice("truncate", "window"),
    "window_stride": _number(integer=True, optional=True, low=1),
    "on_empty_text": _choice("error", "model"),
    "epochs": _number(integer=True, low=1),
    "batch_size": _number(integer=True, low=1),
    "lr": _number(low=0, low_inclusive=False),
    "weight_decay": _number(low=0),
    "warmup_ratio": _number(low=0, high=1),
    "afa": lambda name, value: _afa(name, value),
    "afa_weight": _number(low=0),
    "mask_ratio": _number(**_fraction_open),
    "mask_mode": _choice("token", "drop"),
    "attention_layer": _number(integer=True),
    "token_dropout": _number(low=0, high=1, high_inclusive=False),
    "class_weight": _class_weight,
    "validation_fraction": _number(optional=True, **_fraction_open),
    "early_stopping": check_bool,
    "n_iter_no_change": _number(integer=True, low=1),
    "warm_start": check_bool,
    "checkpoint_dir": _folder,
    "max_grad_norm": _number(optional=True, low=0, low_inclusive=False),
    "max_batch_tokens": _number(integer=True, optional=True, low=1),
    "mixed_precision": check_bool,
    "lora_r": _number(integer=True, optional=True, low=0),
    "lora_alpha": _number(low=0, low_inclusive=False),
    "lora_dropout": _number(low=0, high=1, high_inclusive=False),
    "lora_target_modules": lambda name, value: _names(name, value),
    "gradient_checkpointing": check_bool,
    "callbacks": _callbacks,
    "accelerate": check_bool,
    "n_threads": _number(integer=True, optional=True, low=1),
    "random_state": _random_state,
    "keep_training_state": check_bool,
    "verbose": _number(integer=True, low=0),
}

# Names of options before they moved into AFAOptions, read from older saved models -> their new names.
LEGACY_NAMES = {
    "mask_temperature": "temperature",
    "n_mask_samples": "n_samples",
    "afa_warmup": "warmup",
    "mask_policy": "policy",
    "reward": "reward",
    "discriminator_features": "discriminator_features",
    "discriminator_hidden": "discriminator_hidden",
    "discriminator_lr": "discriminator_lr",
    "paired_discriminator": "paired_discriminator",
    "probe_dropout": "probe_dropout",
    "normalize_advantages": "normalize_advantages",
}


class AFAOptions(BaseEstimator):
    """The AFA research and ablation options of :class:`~skafa.AFASentimentClassifier`.

    Pass them as ``afa=AFAOptions(reward="kl")``, or set them one by one on a classifier with
    ``set_params(afa__reward="kl")`` (also in a ``GridSearchCV`` grid); ``afa=True`` means
    ``AFAOptions()``. Values are checked when the classifier is fitted.

    Parameters
    ----------
    temperature : float, default=1.0
        Temperature tau of the masking policy; higher is closer to uniform masking.
    n_samples : int, default=1
        Masks drawn per text per step (K); the reward baseline is leave-one-out for K >= 2 and a
        running mean for K = 1. K = 1 is the default since the AFA-signal study: the only
        setting measured within 1.5x plain fine-tuning's epoch time.
    warmup : float, default=0.1
        Fraction of optimizer steps trained with cross-entropy only (the discriminator already
        learns).
    policy : {"attention", "direct", "random"}, default="attention"
        "attention" masks the words the classifier ignores (the complement of its attention) and
        rewards masks that go unnoticed; "direct" masks the words it attends to and rewards masks
        that are noticed, so attention is pushed onto the words whose removal matters; "random"
        masks uniformly at the same rate: an ablation in which no gradient reaches attention.
    reward : {"discriminator", "kl", "handover"}, default="kl"
        "kl" is the fixed reward -KL(p(x) || p(masked x)): it tracks how much the mask changed
        the prediction (a learned discriminator that reads predictions was measured at chance,
        so its reward carried no information; "discriminator" keeps that design for study);
        "handover" starts with the KL reward and hands over to the discriminator as its
        measured accuracy rises (share ``max(0, 2 * accuracy - 1)``, both rewards standardised).
    discriminator_features : {"proba", "hidden", "both"}, default="proba"
        What the discriminator reads: class probabilities, the pooled representation, or both.
    discriminator_hidden : int, default=128
        Hidden units of the discriminator MLP.
    discriminator_lr : float, default=1e-3
        Adam learning rate of the discriminator.
    paired_discriminator : bool, default=False
        True: the discriminator reads the response to the original next to the response to a
        masked copy and says which of the two is masked (it judges the difference the mask
        made); False: it judges one response at a time.
    probe_dropout : bool, default=False
        Run the no-gradient probe passes (the original and its masked copies) with dropout.
        False runs them in eval mode in one pass, so the reward reflects the masks rather than
        two dropout draws.
    normalize_advantages : bool, default=True
        Scale the advantages to unit variance over the batch; False only centres them, so the
        policy-gradient term keeps the reward's scale.
    exploration : float, default=0.0
        Share of uniform masking mixed into the policy, so that some masks cover words the
        policy would rarely pick.
    skill_scaling : bool, default=False
        Scale ``afa_weight`` by the discriminator's measured skill ``max(0, 2 * accuracy - 1)``
        (a running mean of its accuracy on batches before it learns from them), so a
        discriminator at chance sends no gradient.
    """

    def __init__(
        self,
        temperature=1.0,
        n_samples=1,
        warmup=0.1,
        policy="attention",
        reward="kl",
        discriminator_features="proba",
        discriminator_hidden=128,
        discriminator_lr=1e-3,
        paired_discriminator=False,
        probe_dropout=False,
        normalize_advantages=True,
        exploration=0.0,
        skill_scaling=False,
    ):
        self.temperature = temperature
        self.n_samples = n_samples
        self.warmup = warmup
        self.policy = policy
        self.reward = reward
        self.discriminator_features = discriminator_features
        self.discriminator_hidden = discriminator_hidden
        self.discriminator_lr = discriminator_lr
        self.paired_discriminator = paired_discriminator
        self.probe_dropout = probe_dropout
        self.normalize_advantages = normalize_advantages
        self.exploration = exploration
        self.skill_scaling = skill_scaling


# What each AFAOptions parameter accepts.
AFA_OPTION_CONSTRAINTS = {
    "temperature": _number(low=0, low_inclusive=False),
    "n_samples": _number(integer=True, low=1),
    "warmup": _number(low=0, high=1),
    "policy": _choice("attention", "direct", "random"),
    "reward": _choice("discriminator", "kl", "handover"),
    "discriminator_features": _choice("proba", "hidden", "both"),
    "discriminator_hidden": _number(integer=True, low=1),
    "discriminator_lr": _number(low=0, low_inclusive=False),
    "paired_discriminator": check_bool,
    "probe_dropout": check_bool,
    "normalize_advantages": check_bool,
    "exploration": _number(low=0, high=1, high_inclusive=False),
    "skill_scaling": check_bool,
}


def _afa(name, value):
    if isinstance(value, AFAOptions):
        for option, check in AFA_OPTION_CONSTRAINTS.items():
            check(f"afa__{option}", getattr(value, option))
    else:
        check_bool(name, value)


def afa_options(afa):
    """The option values of ``afa`` (True, False or :class:`AFAOptions`) as a dict."""
    return (afa if isinstance(afa, AFAOptions) else AFAOptions()).get_params()


def validate_params(params):
    """Check every parameter in ``params`` (a ``get_params`` dict); raise naming the first bad one."""
    for name, check in PARAMETER_CONSTRAINTS.items():
        if name in params:
            check(name, params[name])


# What ``afa=True`` meant before skafa 0.2.0, whose AFA-signal study changed these defaults.
DEFAULTS_BEFORE_0_2 = {"reward": "discriminator", "n_samples": 2}


def saved_before_0_2(version):
    """True for a model written by skafa < 0.2.0 (or by a version too old to record itself)."""
    try:
        return version is None or Version(str(version)) < Version("0.2.0")
    except InvalidVersion:
        return False


def upgrade_afa(afa, version):
    """``afa`` of a model saved by skafa ``version``, with the AFA defaults of that version made explicit.

    A model saved with ``afa=True`` before 0.2.0 trained with the discriminator reward and two
    masks per text; it keeps them when it loads, so that continued training and ``get_params``
    say what it was trained with.
    """
    if afa is True and saved_before_0_2(version):
        return AFAOptions(**DEFAULTS_BEFORE_0_2)
    return afa


def rename_legacy(params, version=None):
    """Saved parameters of ``version`` (older ones), their AFA options moved into ``afa``."""
    params = dict(params)
    moved = {LEGACY_NAMES[name]: params.pop(name) for name in list(params) if name in LEGACY_NAMES}
    if moved and params.get("afa", True) is True:
        defaults = DEFAULTS_BEFORE_0_2 if saved_before_0_2(version) else {}
        params["afa"] = AFAOptions(**{**defaults, **moved})
    if "afa" in params:
        params["afa"] = upgrade_afa(params["afa"], version)
    return params
