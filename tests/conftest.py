"""Shared fixtures: tiny randomly initialised backbones saved as real model folders, and toy data."""

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    BertConfig,
    BertModel,
    Gemma3TextConfig,
    Gemma3TextModel,
    GPT2Config,
    GPT2Model,
    LlamaConfig,
    LlamaModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2Model,
)

from skafa.backbone import DEFAULT_BACKBONE, load_tokenizer

FILLER = ["the", "movie", "a", "is", "of", "and", "this", "film", "it", "was"]
DECISIVE = {"riveting": "pos", "lackluster": "neg"}


def seeded(model_class, config):
    """A randomly initialised model, the same in every test session.

    Drawn from the global generator, the weights differed from session to session (and with the
    tests that ran before the fixture), so thresholds measured on one init failed now and then.
    """
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return model_class(config)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    """Folder of a 2-layer, 32-wide BERT with the default backbone's WordPiece tokenizer."""
    path = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = load_tokenizer(DEFAULT_BACKBONE)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
    )
    seeded(BertModel, config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


WORDS = ["<|endoftext|>", "[UNK]", *FILLER, *DECISIVE, "good", "bad"]


def word_tokenizer():
    """A word-level tokenizer that adds no special tokens and has no pad token, like SmolLM2's."""
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", unk_token="[UNK]")


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory):
    """Folder of a 2-layer GPT-2 with a word-level tokenizer that adds no special tokens."""
    path = tmp_path_factory.mktemp("tiny_gpt2")
    config = GPT2Config(vocab_size=len(WORDS), n_embd=32, n_layer=2, n_head=2, n_positions=64)
    seeded(GPT2Model, config).save_pretrained(path)
    word_tokenizer().save_pretrained(path)
    return str(path)


# Decoder LLM families with a LoRA default: model class and a tiny config (grouped-query attention).
DECODERS = {
    "llama": (LlamaModel, LlamaConfig),
    "qwen2": (Qwen2Model, Qwen2Config),
    "gemma3": (Gemma3TextModel, Gemma3TextConfig),
}


# Qwen2 is left out here: transformers builds its own tokenizer class for a qwen2 config and
# cannot read the word-level tokenizer (tests/test_llm_backbones.py checks its LoRA defaults).
@pytest.fixture(scope="session", params=["llama", "gemma3"])
def tiny_decoder(request, tmp_path_factory):
    """Folder of a tiny random Llama / Qwen2 / Gemma 3 text model with the word-level tokenizer."""
    model_class, config_class = DECODERS[request.param]
    path = tmp_path_factory.mktemp(f"tiny_{request.param}")
    config = config_class(
        vocab_size=len(WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, max_position_embeddings=64, eos_token_id=0, pad_token_id=None, bos_token_id=None,
    )
    seeded(model_class, config).save_pretrained(path)
    word_tokenizer().save_pretrained(path)
    return str(path)


def fake_focus_data(n, seed=0, n_filler=8):
    """Texts of frequent filler words where one rare word decides the label."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        word, label = list(DECISIVE.items())[rng.integers(2)]
        tokens = list(rng.choice(FILLER, n_filler))
        tokens.insert(rng.integers(n_filler + 1), word)
        texts.append(" ".join(tokens))
        labels.append(label)
    return texts, np.array(labels)


@pytest.fixture(scope="session")
def toy_data():
    return fake_focus_data(96, seed=0)


@pytest.fixture(scope="session")
def plain_clf(tiny_bert, toy_data):
    """A plain fine-tuned classifier on the toy data, shared by tests that only score with it."""
    from skafa import AFASentimentClassifier

    X, y = toy_data
    return AFASentimentClassifier(
        backbone=tiny_bert, epochs=1, lr=1e-3, afa=False, device="cpu", random_state=0, verbose=0
    ).fit(X, y)


@pytest.fixture
def fast_params(tiny_bert):
    """Parameters of a classifier that fits the toy data in about a second."""
    return dict(backbone=tiny_bert, epochs=1, batch_size=16, lr=1e-3, device="cpu", random_state=0, verbose=0)


@pytest.fixture(scope="session")
def dask_client():
    """A real two-process Dask LocalCluster (one thread per worker) and its client."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, worker_dashboard_address=None
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()
