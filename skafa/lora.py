"""LoRA adapters on a backbone (through ``peft``): building, which weights train, saving against a base.

With LoRA the backbone's own weights stay frozen; low-rank adapters on the attention projections
and the classification head train. AFA's policy gradient reaches attention through the adapters
of the query and key projections. See the "LLM backbones" page of the docs.
"""

import copy
import hashlib
import warnings

# Adapted projections per model family when ``lora_target_modules`` is None: all four attention
# projections (query and key carry the policy gradient; value and output adapt the content).
DEFAULT_TARGET_MODULES = {
    "llama": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "qwen2": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "qwen3": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "gemma3_text": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "gemma2": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "gemma": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "mistral": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "bert": ("query", "key", "value"),
    "roberta": ("query", "key", "value"),
    "mpnet": ("q", "k", "v"),
}


def lora_settings(params):
    """The LoRA settings of estimator ``params`` as a JSON-able dict, or None for full fine-tuning."""
    if not params["lora_r"]:
        return None
    targets = params["lora_target_modules"]
    return {
        "r": int(params["lora_r"]),
        "alpha": float(params["lora_alpha"]),
        "dropout": float(params["lora_dropout"]),
        "target_modules": None if targets is None else sorted(targets),
    }


def _peft():
    try:
        import peft
    except ImportError:
        raise ImportError('LoRA needs the peft package: pip install "skafa[llm]".') from None
    return peft


def add_lora(backbone, settings):
    """``backbone`` wrapped with LoRA adapters (a ``peft`` model): its own weights frozen."""
    peft = _peft()
    model_type = backbone.config.model_type
    targets = settings["target_modules"] or DEFAULT_TARGET_MODULES.get(model_type)
    if targets is None:
        raise ValueError(
            f"skafa has no default LoRA target modules for model type {model_type!r}; name the attention "
            "projections to adapt with lora_target_modules (e.g. ['q_proj', 'k_proj', 'v_proj'])."
        )
    config = peft.LoraConfig(
        r=settings["r"], lora_alpha=settings["alpha"], lora_dropout=settings["dropout"], target_modules=list(targets)
    )
    try:
        with warnings.catch_warnings():
            # peft asks transformers v5 for a property v5 renamed; the warning is theirs, not the user's.
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*is_gradient_checkpointing.*")
            return peft.get_peft_model(backbone, config)
    except ValueError as exc:  # e.g. none of the target modules exists in this backbone
        raise ValueError(f"Cannot add LoRA adapters to {model_type!r} with target modules {list(targets)}: {exc}") from exc


def trainable_state(module):
    """The weights that training changes: adapters and head with LoRA, everything without."""
    trainable = {name for name, p in module.named_parameters() if p.requires_grad}
    return {name: t for name, t in module.state_dict().items() if name in trainable}


def base_fingerprint(module):
    """SHA-256 over the frozen (base) weights of a LoRA module, by name: identifies the base it adapts."""
    sha = hashlib.sha256()
    for name, p in sorted(module.named_parameters()):
        if not p.requires_grad:
            sha.update(name.encode())
            sha.update(p.detach().float().cpu().contiguous().numpy())
    return sha.hexdigest()


def merged(module):
    """A copy of a LoRA ``module`` with the adapters merged into plain backbone weights."""
    module = copy.deepcopy(module)
    module.backbone = module.backbone.merge_and_unload()
    module.lora = None
    return module
