"""Sentiment lexicons that ship in PyPI packages: VADER (``vadersentiment``) and AFINN (``afinn``).

Install them with ``pip install "skafa[lexicon]"``. A lexicon here is a frozenset of lower-cased
words; :class:`~skafa.AttentionReport` takes one by name (``lexicon="vader"``) and the AFA
diagnostics count how often a mask hides one of its words.
"""

import functools
import importlib
from pathlib import Path

# name -> (module to import, file inside it, pip name)
LEXICONS = {
    "vader": ("vaderSentiment", "vader_lexicon.txt", "vadersentiment"),
    "afinn": ("afinn", "data/AFINN-en-165.txt", "afinn"),
}


@functools.lru_cache(maxsize=None)
def load_lexicon(name):
    """The words of the packaged lexicon ``name`` ("vader" or "afinn"), lower-cased.

    Only alphabetic entries are kept (VADER also lists emoticons such as ``:)``), so the words
    compare with the words skafa splits texts into.

    Raises
    ------
    ValueError
        ``name`` is not a known lexicon.
    ImportError
        Its package is not installed; the message gives the install command.
    """
    if name not in LEXICONS:
        raise ValueError(f"Unknown lexicon {name!r}; the packaged ones are {sorted(LEXICONS)}.")
    module, file, pip_name = LEXICONS[name]
    try:
        package = importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"The {name} lexicon comes from the PyPI package {pip_name}: pip install {pip_name} "
            '(or pip install "skafa[lexicon]").'
        ) from None
    text = (Path(package.__file__).parent / file).read_text(encoding="utf-8", errors="replace")
    words = (line.split("\t", 1)[0].strip().lower() for line in text.splitlines())
    return frozenset(word for word in words if word and all(part.isalpha() for part in word.split("-")))


def lexicon_token_ids(tokenizer, lexicon):
    """Ids of the vocabulary's tokens that are whole lexicon words (not word-piece continuations).

    Most sentiment words are one token in the vocabularies skafa uses; a word split into pieces
    is not counted, so shares computed from these ids are a lower bound.
    """
    vocab = tokenizer.get_vocab()
    ids = []
    for token, index in vocab.items():
        word = token.lstrip("Ġ▁").lower()  # byte-level BPE and SentencePiece word-start marks
        if not token.startswith("##") and word in lexicon:
            ids.append(index)
    return sorted(ids)
