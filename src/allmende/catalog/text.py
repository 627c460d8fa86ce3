"""German-aware text normalization for search.

Folding maps ``ä→ae``, ``ö→oe``, ``ü→ue`` and ``ß→ss`` (and strips other accents), so that
``Ladesäule`` and ``Ladesaeule`` are the same word; the Snowball German stemmer then lets
``Ladesäulen`` find ``Ladesäule``. Documents and queries go through the same function.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss"})
_WORD = re.compile(r"[a-z0-9]+")
_stemmer = snowballstemmer.stemmer("german")


def fold(text: str) -> str:
    text = text.lower().translate(_FOLD)
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _stemmer.stemWord(word) if not word.isdigit() else word


def terms(text: str) -> list[str]:
    """The normalized search terms of a text, in order."""
    return [stem(w) for w in _WORD.findall(fold(text))]
