"""Token weights map back to the words of the text, whatever the tokenizer's idea of a word."""

import numpy as np
from tokenizers import Tokenizer, models
from transformers import PreTrainedTokenizerFast

from skafa.backbone import load_tokenizer
from skafa.inspection import merge_word_pieces
from skafa.text import EncodedTexts, splits_words, whitespace_word_ids


def character_tokenizer():
    """One token per character and no pre-tokenizer: the tokenizer reports one word per text,
    as Gemma 3's SentencePiece tokenizer rebuilt from GGUF does."""
    vocab = {c: i for i, c in enumerate(" ,abcdefghijklmnopqrstuvwxyz")}
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.BPE(vocab=vocab, merges=[])))


def test_a_tokenizer_without_words_maps_tokens_to_whitespace_words():
    tokenizer = character_tokenizer()
    assert not splits_words(tokenizer)
    text = "great  film, bad"
    encoded = EncodedTexts(tokenizer, [text], max_length=64, with_offsets=True)
    weights = np.arange(len(text), dtype=float)  # one token per character
    words = merge_word_pieces(text, encoded.offsets[0], encoded.word_ids[0], weights)
    assert [w for w, _ in words] == ["great", "film,", "bad"]
    assert [weight for _, weight in words] == [sum(range(0, 5)), sum(range(7, 12)), sum(range(13, 16))]


def test_a_tokenizer_with_words_keeps_its_own(tiny_bert):
    tokenizer = load_tokenizer(tiny_bert)
    assert splits_words(tokenizer)
    text = "great film, bad"
    encoded = EncodedTexts(tokenizer, [text], max_length=64, with_offsets=True)
    words = merge_word_pieces(text, encoded.offsets[0], encoded.word_ids[0], np.ones(len(encoded.word_ids[0])))
    assert [w for w, _ in words] == ["great", "film", ",", "bad"]  # BERT splits punctuation off


def test_tokens_that_carry_the_space_before_them_give_bare_words():
    # SentencePiece offsets: " film" spans the space before the word.
    text, offsets = "great film", [(0, 5), (5, 10)]
    words = merge_word_pieces(text, offsets, whitespace_word_ids(text, offsets), np.array([0.25, 0.75]))
    assert words == [("great", 0.25), ("film", 0.75)]
