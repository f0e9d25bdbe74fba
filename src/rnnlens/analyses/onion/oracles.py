"""The oracles of the error onion: each one a boolean mask over the predicted positions of a text.

Position ``i`` of every mask is the prediction of character ``i + 1`` of the
text (as ``Predictions.log_probs``), so a text of ``N`` characters gives
masks of ``N - 1``. An oracle says which positions it *would* explain; the
peeling loop (``breakdown.peel``) keeps only the errors still left.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from rnnlens.analyses.onion.words import QUOTES, Words, punctuation
from rnnlens.data.corpus import _codepoints as codepoints

NGRAM, MEMORY, RARE, WORD, PUNCTUATION, BOOST = "n-gram", "memory", "rare words", "word model", "punctuation", "boost"
UNEXPLAINED = "unexplained"
ORACLES = (NGRAM, MEMORY, RARE, WORD, PUNCTUATION, BOOST)  # the peeling order
HORIZONTAL_SPACE = " \t"


@dataclass(frozen=True)
class Slice:
    """One slice of the onion: its oracle, its name within it ("n=100") and the positions it explains."""

    oracle: str
    name: str
    mask: np.ndarray  # (N-1,) bool


def predicted(per_char: np.ndarray) -> np.ndarray:
    """A per-character array ``(N,)`` seen from the predicted positions ``(N-1,)``: entry ``i`` is character ``i+1``."""
    return per_char[1:]


def ngram_oracle(ngram_p: Mapping[int, np.ndarray], threshold: float) -> list[Slice]:
    """One slice: some n-gram model gives the true character more than ``threshold``; ``ngram_p`` maps order to
    ``(N-1,)`` probabilities of the true character."""
    orders = sorted(ngram_p)
    best = np.max(np.stack([ngram_p[n] for n in orders]), axis=0)
    name = f"orders {orders[0]}-{orders[-1]}" if len(orders) > 1 else f"order {orders[0]}"
    return [Slice(NGRAM, name, best > threshold)]


def earlier_occurrences(text: str, words: Words, window: int, whole_words: bool = False) -> np.ndarray:
    """``(W,)``: where the latest earlier copy of each word begins, or -1. A copy lies wholly within the
    ``window`` characters before the word's start and is any substring (``whole_words``: a word of its own);
    words of one character get -1 (no character after the first to explain)."""
    found = np.full(len(words.tokens), -1, dtype=np.int64)
    for k, (token, start) in enumerate(zip(words.tokens, words.starts.tolist())):
        if len(token) > 1:
            found[k] = _latest_copy(text, words, token, max(0, start - window), start, whole_words)
    return found


def _latest_copy(text: str, words: Words, token: str, low: int, high: int, whole_words: bool) -> int:
    """The start of the last copy of ``token`` inside ``text[low:high]`` (a whole word if asked), or -1."""
    copy = text.rfind(token, low, high)
    while whole_words and copy >= 0 and not _is_word_at(words, copy, len(token)):
        copy = text.rfind(token, low, copy + len(token) - 1)
    return copy


def _is_word_at(words: Words, start: int, length: int) -> bool:
    k = words.of_char[start]
    return k >= 0 and words.starts[k] == start and words.ends[k] == start + length


def memory_oracle(words: Words, earlier: np.ndarray, windows: Sequence[int]) -> list[Slice]:
    """A slice per window ``n``: a character after a word's first whose word appeared in the ``n`` characters
    before it (``earlier`` from ``earlier_occurrences`` with the largest window)."""
    k = words.of_char  # -1 outside words picks the appended entries: no word, no earlier copy
    starts, earlier = np.append(words.starts, len(k)), np.append(earlier, -1)
    inside = (k >= 0) & (np.arange(len(k)) > starts[k])
    distance = np.where(earlier[k] >= 0, starts[k] - earlier[k], np.iinfo(np.int64).max)
    return [Slice(MEMORY, f"n={n}", predicted(inside & (distance <= n))) for n in windows]


def rare_word_oracle(words: Words, train_counts: Counter, limits: Sequence[int]) -> list[Slice]:
    """A slice per ``t``: a character of a word seen at most ``t`` times in the training text."""
    counts = np.array([train_counts.get(token, 0) for token in words.tokens] + [-1], dtype=np.int64)
    of_char = counts[words.of_char]  # -1 (the appended entry) outside words
    return [Slice(RARE, f"t={t}", predicted((of_char >= 0) & (of_char <= t))) for t in limits]


def word_model_oracle(text: str, words: Words) -> list[Slice]:
    """Three slices: the character right after a space or tab, after a quote that is not inside a word
    (``couldn't``'s apostrophe is not a quote), after a newline."""
    previous = codepoints(text)[:-1]
    space = np.isin(previous, [ord(c) for c in HORIZONTAL_SPACE])
    quote = np.isin(previous, [ord(c) for c in QUOTES]) & (words.of_char[:-1] < 0)
    newline = previous == ord("\n")
    return [Slice(WORD, "after space", space), Slice(WORD, "after quote", quote), Slice(WORD, "after newline", newline)]


def punctuation_oracle(text: str, mode: str) -> list[Slice]:
    """One slice: the character is punctuation (``words.punctuation``)."""
    return [Slice(PUNCTUATION, "punctuation", predicted(punctuation(text, mode)))]


def boost_oracle(p_true: np.ndarray, boosts: Sequence[float], threshold: float) -> list[Slice]:
    """A slice per ``b``: the true character's probability plus ``b`` exceeds ``threshold``."""
    return [Slice(BOOST, f"b={b:g}", p_true + b > threshold) for b in boosts]
