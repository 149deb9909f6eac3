"""Text batching: tokenize once, pad each batch to its longest text, group texts of similar length."""

import copy

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler


class EncodedTexts:
    """Token ids and special-token flags of a list of texts, unpadded.

    Parameters
    ----------
    tokenizer : transformers tokenizer
    texts : list of str
    max_length : int
        Texts longer than this many tokens (special tokens included) are truncated at the end.
    with_offsets : bool
        Also keep each token's character span and word index (``offsets``, ``word_ids``), to map
        token-level results back to the words of the text.
    """

    def __init__(self, tokenizer, texts, max_length, with_offsets=False):
        encoded = tokenizer(
            list(texts),
            truncation=True,
            max_length=max_length,
            return_special_tokens_mask=True,
            return_attention_mask=False,
            return_offsets_mapping=with_offsets,
        )
        self.input_ids = encoded["input_ids"]
        self.special_tokens_mask = encoded["special_tokens_mask"]
        self.offsets = encoded["offset_mapping"] if with_offsets else None
        self.word_ids = [encoded.word_ids(i) for i in range(len(self.input_ids))] if with_offsets else None

    def __len__(self):
        return len(self.input_ids)

    @property
    def lengths(self):
        return np.fromiter((len(ids) for ids in self.input_ids), dtype=np.int64, count=len(self))

    def take(self, indices):
        """The texts at ``indices``, in that order."""
        subset = copy.copy(self)
        subset.input_ids = [self.input_ids[i] for i in indices]
        subset.special_tokens_mask = [self.special_tokens_mask[i] for i in indices]
        if self.offsets is not None:
            subset.offsets = [self.offsets[i] for i in indices]
            subset.word_ids = [self.word_ids[i] for i in indices]
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


class LengthBucketBatchSampler(Sampler):
    """Random batches of texts of similar length, so dynamic padding adds few pad tokens.

    Each epoch: shuffle all indices, cut them into pools of ``batch_size * pool_batches`` texts,
    sort each pool by length, cut pools into batches, and shuffle the batches. Randomness comes
    from torch's global generator, so ``torch.manual_seed`` makes it repeatable.
    """

    def __init__(self, lengths, batch_size, pool_batches=50):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.pool_batches = pool_batches

    def __len__(self):
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.lengths)).numpy()
        pool_size = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), pool_size):
            pool = order[start : start + pool_size]
            pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            batches.extend(pool[i : i + self.batch_size].tolist() for i in range(0, len(pool), self.batch_size))
        for b in torch.randperm(len(batches)).tolist():
            yield batches[b]
