"""Attention capture reproduces the eager attention row, for encoder and decoder conventions."""

import pytest
import torch

import skafa.backbone
from transformers import AutoModel

from skafa.backbone import TextClassifier, load_tokenizer
from skafa.text import EncodedTexts, PadCollator, TextDataset

TEXTS = ["the movie was riveting", "lackluster", "a film of the movie and it was good"]


def batch_for(path, texts=TEXTS):
    tokenizer = load_tokenizer(path)
    dataset = TextDataset(EncodedTexts(tokenizer, texts, max_length=32))
    X, _ = PadCollator(tokenizer.pad_token_id)([dataset[i] for i in range(len(dataset))])
    return tokenizer, X


def eager_row(path, X, layer, pool_index):
    model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    out = model(input_ids=X["input_ids"], attention_mask=X["attention_mask"], output_attentions=True)
    rows = out.attentions[layer][torch.arange(len(pool_index)), :, pool_index].mean(dim=1)
    rows = rows * X["content_mask"]
    return rows / rows.sum(dim=1, keepdim=True)


@pytest.mark.parametrize("layer", [0, -1])
def test_encoder_capture_matches_eager_attention(tiny_bert, layer):
    _, X = batch_for(tiny_bert)
    module = TextClassifier(tiny_bert, n_classes=2, attention_layer=layer).eval()
    out = module(X["input_ids"], X["attention_mask"], X["content_mask"], return_details=True)
    expected = eager_row(tiny_bert, X, layer, torch.zeros(len(TEXTS), dtype=torch.long))
    torch.testing.assert_close(out.attention, expected, atol=1e-5, rtol=1e-4)
    assert torch.allclose(out.attention.sum(dim=1), torch.ones(len(TEXTS)))


def test_decoder_capture_matches_eager_attention_at_last_token(tiny_gpt2):
    _, X = batch_for(tiny_gpt2)
    module = TextClassifier(tiny_gpt2, n_classes=2).eval()
    assert module.decoder
    pool = module.pool_index(X["attention_mask"])
    assert pool.tolist() == (X["attention_mask"].sum(dim=1) - 1).tolist()
    out = module(X["input_ids"], X["attention_mask"], X["content_mask"], return_details=True)
    torch.testing.assert_close(out.attention, eager_row(tiny_gpt2, X, -1, pool), atol=1e-5, rtol=1e-4)


def test_content_positions_exclude_special_tokens_and_padding(tiny_bert, tiny_gpt2):
    tokenizer, X = batch_for(tiny_bert)
    ids, content = X["input_ids"][1], X["content_mask"][1]  # "lackluster" is padded
    special = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
    assert not any(int(i) in special for i in ids[content])
    assert content.sum() == len(tokenizer.tokenize("lackluster"))
    assert not content[0] and X["attention_mask"][1, -1] == 0 and not content[-1]
    # Decoder convention: no special tokens are added, so every non-padding token is content.
    _, X = batch_for(tiny_gpt2)
    assert torch.equal(X["content_mask"], X["attention_mask"].bool())


def test_out_of_range_attention_layer_is_a_clear_error(tiny_bert):
    _, X = batch_for(tiny_bert)
    module = TextClassifier(tiny_bert, n_classes=2, attention_layer=5)
    with pytest.raises(ValueError, match="attention_layer=5 is out of range: the backbone has 2"):
        module(X["input_ids"], X["attention_mask"], X["content_mask"], return_details=True)


def test_capture_is_differentiable(tiny_bert):
    _, X = batch_for(tiny_bert)
    module = TextClassifier(tiny_bert, n_classes=2)
    out = module(X["input_ids"], X["attention_mask"], X["content_mask"], return_details=True)
    out.attention[:, 1].sum().backward()
    query_weight = module.backbone.encoder.layer[-1].attention.self.query.weight
    assert query_weight.grad is not None and query_weight.grad.abs().sum() > 0


@pytest.mark.parametrize("layer", [0, -1])
def test_eager_attention_maps_give_the_captured_row(tiny_bert, monkeypatch, layer):
    """Architectures outside transformers' AttentionInterface (MPNet) read the row off eager attention maps."""
    _, X = batch_for(tiny_bert)
    torch.manual_seed(0)
    captured = TextClassifier(tiny_bert, n_classes=2, attention_layer=layer).eval()
    monkeypatch.setattr(skafa.backbone, "routes_attention", lambda config: False)
    torch.manual_seed(0)
    eager = TextClassifier(tiny_bert, n_classes=2, attention_layer=layer).eval()
    assert eager.eager_attention and eager.backbone.config._attn_implementation == "eager"
    a = captured(X["input_ids"], X["attention_mask"], X["content_mask"], return_details=True)
    b = eager(X["input_ids"], X["attention_mask"], X["content_mask"], return_details=True)
    torch.testing.assert_close(b.attention, a.attention, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(b.logits, a.logits, atol=1e-5, rtol=1e-4)
    b.attention[:, 1].sum().backward()  # differentiable, as AFA needs
    assert eager.backbone.encoder.layer[layer].attention.self.query.weight.grad.abs().sum() > 0


def test_mpnet_loads_with_eager_attention(tmp_path):
    from transformers import MPNetConfig, MPNetModel

    config = MPNetConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    MPNetModel(config).save_pretrained(tmp_path)
    module = TextClassifier(str(tmp_path), n_classes=2).eval()
    assert module.eager_attention
    ids = torch.tensor([[0, 5, 6, 7, 2], [0, 8, 2, 1, 1]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    content = torch.tensor([[0, 1, 1, 1, 0], [0, 1, 0, 0, 0]], dtype=torch.bool)
    out = module(ids, mask, content, return_details=True)
    torch.testing.assert_close(out.attention.sum(dim=1), torch.ones(2))
    assert (out.attention[~content] == 0).all()
