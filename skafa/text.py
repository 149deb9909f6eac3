"""Text batching: tokenize once, pad each batch to its longest text, group texts of similar length."""

import bisect
import copy
import re

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler


def _kept_positions(n_tokens, budget, truncation):
    """Indices of the content tokens that fit in ``budget``: the head, or head and tail."""
    if n_tokens <= budget:
        return np.arange(n_tokens)
    if truncation == "head":
        return np.arange(budget)
    # head_tail: a quarter of the budget from the start, the rest from the end (Sun et al., 2019,
    # found head+tail truncation best for long reviews).
    head = budget // 4
    return np.r_[np.arange(head), np.arange(n_tokens - (budget - head), n_tokens)]


def _window_starts(n_tokens, budget, stride):
    """Start offsets of windows of ``budget`` content tokens, ``stride`` apart, covering the text."""
    if n_tokens <= budget:
        return [0]
    starts = list(range(0, n_tokens - budget, stride))
    return starts + [n_tokens - budget]


def splits_words(tokenizer):
    """Whether the tokenizer's word indices tell words apart.

    SentencePiece tokenizers whose normaliser turns spaces into "▁" before a pre-tokenizer that
    splits on spaces (Gemma 3's, rebuilt from a GGUF file) report one word for the whole text.
    """
    word_ids = tokenizer("a b", add_special_tokens=False).word_ids()
    return len({w for w in word_ids if w is not None}) > 1


def whitespace_word_ids(text, offsets):
    """Each token's word index, a word being a whitespace-separated span of ``text``.

    A token belongs to the word holding its first non-space character; a token of spaces only
    belongs to none (None).
    """
    starts = [m.start() for m in re.finditer(r"\S+", text)]
    word_ids = []
    for start, end in offsets:
        first = next((c for c in range(start, end) if not text[c].isspace()), None)
        word_ids.append(None if first is None else bisect.bisect_right(starts, first) - 1)
    return word_ids


def special_token_template(tokenizer):
    """The ids a tokenizer puts before and after one text, e.g. ``([CLS], [SEP])`` for BERT.

    Read off the tokenizer by encoding a probe word with and without special tokens, which works
    for any tokenizer whose single-text template is prefix + text + suffix.
    """
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return full[:start], full[start + len(bare) :]
    raise ValueError(f"Cannot find where {type(tokenizer).__name__} places the text among its special tokens.")


def row_template(tokenizer, pool_token_id=None):
    """The special ids before and after a text in a model row.

    A decoder reads its prediction at the last position, so with a ``pool_token_id`` (its
    end-of-text token) that token closes every row when the tokenizer does not already put it
    there: the position the head reads is then a special token, never masked or dropped.
    """
    prefix, suffix = special_token_template(tokenizer)
    if pool_token_id is not None and suffix[-1:] != [pool_token_id]:
        suffix = suffix + [pool_token_id]
    return prefix, suffix


class EncodedTexts:
    """Token ids of texts as model rows: special tokens added, truncated or cut into windows.

    Each row records which text it belongs to (``owner``) and, for every position, which content
    token of that text it holds (``positions``, -1 for special tokens), so row-level results can be
    mapped back to texts and words.

    Parameters
    ----------
    tokenizer : transformers tokenizer
    texts : list of str
    max_length : int
        Tokens per row, special tokens included.
    truncation : {"head", "head_tail"}
        Which tokens a long text keeps when it becomes one row.
    window_stride : int or None
        If set, a long text becomes several rows (windows of ``max_length`` tokens whose starts are
        this many content tokens apart) instead of being truncated.
    with_offsets : bool
        Keep each content token's character span and word index (``offsets``, ``word_ids``, one
        list per text), to map results back to the words of the text.
    pool_token_id : int or None
        The special token that closes each row of a decoder (see :func:`row_template`).
    """

    def __init__(
        self, tokenizer, texts, max_length, truncation="head", window_stride=None, with_offsets=False, pool_token_id=None
    ):
        prefix, suffix = row_template(tokenizer, pool_token_id)
        budget = max_length - len(prefix) - len(suffix)
        if budget < 1:
            raise ValueError(f"max_length={max_length} leaves no room for text next to the special tokens.")
        texts = list(texts)
        encoded = tokenizer(
            texts,
            add_special_tokens=False,
            return_attention_mask=False,
            return_offsets_mapping=with_offsets,
            verbose=False,
        )
        content = encoded["input_ids"]
        self.input_ids, self.special_tokens_mask, self.positions, owner = [], [], [], []
        for i, ids in enumerate(content):
            if window_stride is None:
                spans = [_kept_positions(len(ids), budget, truncation)]
            else:
                spans = [np.arange(s, min(s + budget, len(ids))) for s in _window_starts(len(ids), budget, window_stride)]
            for kept in spans:
                self.input_ids.append(prefix + [ids[j] for j in kept] + suffix)
                self.special_tokens_mask.append([1] * len(prefix) + [0] * len(kept) + [1] * len(suffix))
                self.positions.append(np.r_[np.full(len(prefix), -1), kept, np.full(len(suffix), -1)].astype(np.int64))
                owner.append(i)
        self.owner = np.asarray(owner, dtype=np.int64)
        self.n_texts = len(content)
        self.offsets = encoded["offset_mapping"] if with_offsets else None
        self.word_ids = None
        if with_offsets:
            self.word_ids = (
                [encoded.word_ids(i) for i in range(len(content))] if splits_words(tokenizer)
                else [whitespace_word_ids(text, offsets) for text, offsets in zip(texts, self.offsets)]
            )

    def __len__(self):
        return len(self.input_ids)

    @property
    def lengths(self):
        return np.fromiter((len(ids) for ids in self.input_ids), dtype=np.int64, count=len(self))

    def take(self, indices):
        """The rows at ``indices``, in that order (text-level fields are shared)."""
        subset = copy.copy(self)
        subset.input_ids = [self.input_ids[i] for i in indices]
        subset.special_tokens_mask = [self.special_tokens_mask[i] for i in indices]
        subset.positions = [self.positions[i] for i in indices]
        subset.owner = self.owner[np.asarray(indices, dtype=np.int64)]
        return subset


class TextDataset(Dataset):
    """A torch dataset of encoded texts with optional labels and sample weights.

    Items are ``(features, label)`` pairs, as skorch expects; :class:`PadCollator` batches them.
    """

    def __init__(self, encoded, y=None, sample_weight=None):
        self.encoded = encoded
        self.y = None if y is None else np.asarray(y, dtype=np.int64)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float32)

    def __len__(self):
        return len(self.encoded)

    @property
    def lengths(self):
        return self.encoded.lengths

    def take(self, indices):
        """A dataset of the items at ``indices``, in that order."""
        indices = np.asarray(indices)
        y = None if self.y is None else self.y[indices]
        weight = None if self.sample_weight is None else self.sample_weight[indices]
        return TextDataset(self.encoded.take(indices), y, weight)

    def __getitem__(self, i):
        features = {
            "input_ids": self.encoded.input_ids[i],
            "special_tokens_mask": self.encoded.special_tokens_mask[i],
            "sample_weight": 1.0 if self.sample_weight is None else float(self.sample_weight[i]),
        }
        label = -1 if self.y is None else int(self.y[i])
        return features, label


class PadCollator:
    """Pads a list of dataset items to the longest one (right padding).

    Produces ``input_ids``, ``attention_mask``, ``content_mask`` (not special, not padding) and
    ``sample_weight`` tensors, and the label tensor.
    """

    def __init__(self, pad_token_id):
        self.pad_token_id = pad_token_id

    def __call__(self, items):
        longest = max(len(features["input_ids"]) for features, _ in items)
        n = len(items)
        input_ids = torch.full((n, longest), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((n, longest), dtype=torch.long)
        content_mask = torch.zeros((n, longest), dtype=torch.bool)
        for row, (features, _) in enumerate(items):
            ids = features["input_ids"]
            input_ids[row, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
            attention_mask[row, : len(ids)] = 1
            content_mask[row, : len(ids)] = ~torch.as_tensor(features["special_tokens_mask"], dtype=torch.bool)
        X = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "content_mask": content_mask,
            "sample_weight": torch.tensor([features["sample_weight"] for features, _ in items]),
        }
        y = torch.tensor([label for _, label in items], dtype=torch.long)
        return X, y


def _cut_batches(indices, lengths, batch_size, max_tokens):
    """Consecutive batches of at most ``batch_size`` rows and ``max_tokens`` padded tokens."""
    batches, current, longest = [], [], 0
    for i in indices:
        grown = max(longest, lengths[i])
        if current and (len(current) == batch_size or (max_tokens and grown * (len(current) + 1) > max_tokens)):
            batches.append(current)
            current, grown = [], lengths[i]
        current.append(int(i))
        longest = grown
    if current:
        batches.append(current)
    return batches


class LengthBucketBatchSampler(Sampler):
    """Batches of texts of similar length, bounded by rows and by padded tokens.

    With ``shuffle`` (training), each epoch shuffles all indices, cuts them into pools of
    ``batch_size * pool_batches`` texts, sorts each pool by length, cuts pools into batches and
    shuffles the batches, so dynamic padding adds few pad tokens while batches stay random.
    With ``max_tokens``, how many batches a pool gives depends on which texts it holds, so the
    pool is the whole dataset (sorted by length, ties in random order): the number of batches
    is then the same every epoch and equal to ``len(sampler)``, which the learning-rate
    schedule and the AFA warm-up count on. Randomness comes from torch's global generator, so
    ``torch.manual_seed`` makes it repeatable. Without ``shuffle`` (inference), batches follow
    the dataset order.

    Parameters
    ----------
    lengths : array of int
        Tokens per row.
    batch_size : int
        Maximum rows per batch.
    max_tokens : int or None
        Maximum of ``rows * longest row`` per batch, so a batch of long texts stays within memory.
    shuffle : bool
    pool_batches : int
    """

    def __init__(self, lengths, batch_size, max_tokens=None, shuffle=True, pool_batches=50):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.shuffle = shuffle
        self.pool_batches = pool_batches

    def __len__(self):
        if self.max_tokens is None:
            return -(-len(self.lengths) // self.batch_size)
        return len(self._batches(np.argsort(self.lengths, kind="stable")))

    def _batches(self, order):
        return _cut_batches(order, self.lengths, self.batch_size, self.max_tokens)

    def __iter__(self):
        if not self.shuffle:
            yield from self._batches(np.arange(len(self.lengths)))
            return
        order = torch.randperm(len(self.lengths)).numpy()
        # Without a token cap every full pool gives exactly pool_batches batches; with one, only
        # a single pool keeps the count fixed (see the class docstring).
        pool_size = len(order) if self.max_tokens is not None else self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), max(1, pool_size)):
            pool = order[start : start + pool_size]
            batches.extend(self._batches(pool[np.argsort(self.lengths[pool], kind="stable")]))
        for b in torch.randperm(len(batches)).tolist():
            yield batches[b]
