"""What the error onion calls a word, a quote and a punctuation mark, in prose and in code.

Two word definitions (``WORD_MODES``):

- ``prose``: a run of letters (any script: ``é`` counts) with apostrophes
  inside it, ``couldn't`` and ``Mary's`` being one word each; digits and
  ``_`` are not letters, and an apostrophe at either end of a run is a quote.
- ``code``: an identifier, ``[A-Za-z_][A-Za-z0-9_]*`` (C's rule), so
  ``spin_lock_irqsave`` is one word and ``0x1f`` none.

``auto`` picks ``code`` when the training text is code in a language
``data.language`` detects (C or Python), else ``prose``.

A **punctuation** character is one that is neither a letter, a digit nor
whitespace (``. , ; ' " ( ) { } * -`` and C's operators alike), except that
in code ``_`` is an identifier character, not punctuation. A **quote** is
one of ``QUOTES``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from rnnlens.data.language import detect_language
from rnnlens.errors import RnnlensError

WORD_MODES = ("prose", "code", "auto")
WORD_PATTERNS = {
    "prose": re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*"),
    "code": re.compile(r"(?<![A-Za-z0-9_])[A-Za-z_][A-Za-z0-9_]*"),  # not the x of 0x1f
}
QUOTES = "\"'`\u201c\u201d\u2018\u2019\u00ab\u00bb"  # " ' ` “ ” ‘ ’ « »


@dataclass(frozen=True)
class Words:
    """The words of a text of ``N`` characters.

    ``starts``/``ends`` ``(W,)``: each word's ``[start, end)``; ``tokens``: the
    words themselves; ``of_char`` ``(N,)``: the index of the word each
    character lies in, -1 outside words.
    """

    starts: np.ndarray
    ends: np.ndarray
    tokens: list[str]
    of_char: np.ndarray


def resolve_mode(mode: str, train_text: str) -> str:
    """``prose`` or ``code``: ``mode`` itself, or for ``auto`` the guess the module docstring describes."""
    if mode not in WORD_MODES:
        raise RnnlensError(f"unknown word definition {mode!r}; choose one of {', '.join(WORD_MODES)}")
    if mode != "auto":
        return mode
    return detect_language(train_text).words


def find_words(text: str, mode: str) -> Words:
    """Every word of ``text`` under the ``prose`` or ``code`` definition."""
    matches = list(WORD_PATTERNS[mode].finditer(text))
    starts = np.array([m.start() for m in matches], dtype=np.int64)
    ends = np.array([m.end() for m in matches], dtype=np.int64)
    of_char = np.full(len(text), -1, dtype=np.int64)
    if len(matches):
        lengths = ends - starts
        of_char[np.repeat(starts, lengths) + _offsets(lengths)] = np.repeat(np.arange(len(matches)), lengths)
    return Words(starts, ends, [m.group() for m in matches], of_char)


def _offsets(lengths: np.ndarray) -> np.ndarray:
    """``0..length-1`` for each length, concatenated."""
    firsts = np.cumsum(lengths) - lengths
    return np.arange(int(lengths.sum())) - np.repeat(firsts, lengths)


def count_words(text: str, mode: str) -> Counter:
    """How often each word occurs in ``text`` (case-sensitive: ``Mary`` and ``mary`` are two words)."""
    return Counter(WORD_PATTERNS[mode].findall(text))


def punctuation(text: str, mode: str) -> np.ndarray:
    """``(N,)`` bool: the character is punctuation (see the module docstring)."""
    table = {c: not (c.isalnum() or c.isspace() or (mode == "code" and c == "_")) for c in set(text)}
    return np.fromiter((table[c] for c in text), dtype=bool, count=len(text))
