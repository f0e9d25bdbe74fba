"""Peeling the onion: a model's errors removed oracle by oracle, and the errors a bigger model does not make.

``onion_text`` gathers what the oracles know besides the model (the text,
its words, the n-gram models' probabilities of the true characters, the
training text's word counts); ``oracle_slices`` turns it and a model's
probabilities into the ordered slices; ``peel`` gives each error to the
first slice that explains it; ``error_onion`` does all three for one model
and ``scaling`` compares two.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from rnnlens.analyses.onion import oracles
from rnnlens.analyses.onion.oracles import ORACLES, UNEXPLAINED, Slice
from rnnlens.analyses.onion.words import Words, count_words, find_words, resolve_mode
from rnnlens.checks import COUNT, NONNEGATIVE_COUNT, OPEN_FRACTION, Range
from rnnlens.errors import RnnlensError

THRESHOLD = 0.5  # an error: the true character got less than this
ORDERS = tuple(range(2, 11))  # 1..9 characters of context
WINDOWS = (100, 500, 1000, 5000)
RARE = (0, 1, 2, 3, 4, 5)
BOOSTS = (0.1, 0.2, 0.3, 0.4)
ORDER = Range(2, integer=True)  # an order-1 model sees no context: not an n-gram oracle
MOST_VALUES = 1000  # values of one oracle's parameter


@dataclass(frozen=True)
class OnionOptions:
    """The oracles' parameters, in peeling order within each oracle (defaults: the paper's).

    ``words``: ``prose``, ``code`` or ``auto`` (``words.resolve_mode``);
    ``whole_words``: the memory oracle's earlier copy must be a word of its
    own rather than any substring (``oracles.earlier_occurrences``).
    """

    orders: tuple[int, ...] = ORDERS
    windows: tuple[int, ...] = WINDOWS
    rare: tuple[int, ...] = RARE
    boosts: tuple[float, ...] = BOOSTS
    words: str = "auto"
    whole_words: bool = False
    threshold: float = THRESHOLD

    def __post_init__(self) -> None:
        for name, values, allowed in (("orders", self.orders, ORDER), ("windows", self.windows, COUNT),
                                      ("rare", self.rare, NONNEGATIVE_COUNT), ("boosts", self.boosts, OPEN_FRACTION)):
            if not values:
                raise RnnlensError(f"no {name} given: each oracle needs at least one value", option=name)
            if len(values) > MOST_VALUES:  # so that a category fits the saved int16 (saved.DTYPE)
                raise RnnlensError(f"{len(values)} {name} given: at most {MOST_VALUES}", option=name)
            for value in values:
                allowed.check(name, value)
        OPEN_FRACTION.check("threshold", self.threshold)


@dataclass(frozen=True)
class OnionText:
    """What the oracles know of a text of ``N`` characters besides the model under study, under ``options``.

    ``mode``: the word definition used (``prose``/``code``); ``ngram_p``:
    order -> ``(N-1,)`` probability of each true next character; ``earlier``:
    ``(W,)`` start of each word's latest earlier copy within the largest
    window, or -1 (``oracles.earlier_occurrences``).
    """

    text: str
    options: OnionOptions
    mode: str
    words: Words
    ngram_p: dict[int, np.ndarray]
    train_counts: Counter
    earlier: np.ndarray


def onion_text(text: str, ngram_log_probs: Mapping[int, np.ndarray], train_text: str,
               options: OnionOptions = OnionOptions()) -> OnionText:
    """Words of ``text`` (the definition judged on ``train_text`` for ``auto``), n-gram probabilities from
    their ``(N-1,)`` log-probabilities in nats (one array per order of ``options.orders``), word counts of
    ``train_text``, and each word's earlier copy."""
    for order in options.orders:
        if order not in ngram_log_probs:
            raise RnnlensError(f"no n-gram predictions of order {order}: estimate that model first")
        if len(ngram_log_probs[order]) != len(text) - 1:
            raise RnnlensError(f"the order-{order} n-gram predictions cover {len(ngram_log_probs[order])} positions, "
                               f"the text has {len(text) - 1}: give predictions of this text")
    mode = resolve_mode(options.words, train_text)
    found = find_words(text, mode)
    earlier = oracles.earlier_occurrences(text, found, max(options.windows), options.whole_words)
    return OnionText(text, options, mode, found, {n: np.exp(ngram_log_probs[n]) for n in options.orders},
                     count_words(train_text, mode), earlier)


def oracle_slices(context: OnionText, p_true: np.ndarray) -> list[Slice]:
    """Every slice in peeling order: n-gram, memory, rare words, word model, punctuation, boost."""
    options = context.options
    return [*oracles.ngram_oracle(context.ngram_p, options.threshold),
            *oracles.memory_oracle(context.words, context.earlier, options.windows),
            *oracles.rare_word_oracle(context.words, context.train_counts, options.rare),
            *oracles.word_model_oracle(context.text, context.words),
            *oracles.punctuation_oracle(context.text, context.mode),
            *oracles.boost_oracle(p_true, options.boosts, options.threshold)]


def peel(errors: np.ndarray, slices: Sequence[Slice]) -> np.ndarray:
    """``(N-1,)`` int: -1 where there is no error, ``k`` where slice ``k`` was the first to explain the error,
    ``len(slices)`` where none did (unexplained). Each slice sees only the errors the earlier ones left."""
    category = np.where(errors, len(slices), -1)
    left = errors.copy()
    for k, piece in enumerate(slices):
        taken = left & piece.mask
        category[taken] = k
        left &= ~taken
    return category


@dataclass(frozen=True)
class Onion:
    """One model's errors peeled: ``category`` ``(N-1,)`` as ``peel`` gives it, over ``slices`` (masks dropped);
    ``identity`` and ``text`` say which model and text (``Predictions.model``, ``Predictions.text``)."""

    model: str
    description: str
    slices: list[tuple[str, str]]  # (oracle, name) in peeling order
    category: np.ndarray
    p_true: np.ndarray
    identity: dict = field(default_factory=dict)
    text: dict = field(default_factory=dict)

    @property
    def chars(self) -> int:
        return len(self.category)

    @property
    def errors(self) -> int:
        return int(np.count_nonzero(self.category >= 0))

    @property
    def removed(self) -> list[int]:
        """Errors each slice removed, then the unexplained ones (one more entry than ``slices``)."""
        return np.bincount(self.category[self.category >= 0], minlength=len(self.slices) + 1).tolist()

    def oracle_of(self) -> np.ndarray:
        """``(N-1,)`` index into ``ORACLES + (UNEXPLAINED,)`` of each error's oracle, -1 where none."""
        groups = np.array([ORACLES.index(oracle) for oracle, _ in self.slices] + [len(ORACLES)])
        return np.where(self.category >= 0, groups[np.maximum(self.category, 0)], -1)

    def to_dict(self) -> dict:
        """The issue's keys (``model`` ... ``unexplained``), then ``identity`` and ``text``."""
        removed, errors = self.removed, self.errors
        return {"model": self.model, "chars": self.chars, "errors": errors,
                "error_rate": errors / self.chars if self.chars else 0.0,
                "slices": [{"oracle": oracle, "name": name, "removed": count, "share": count / errors if errors else 0.0}
                           for (oracle, name), count in zip(self.slices, removed)],
                "unexplained": removed[-1], "identity": self.identity, "text": self.text}


def error_onion(model: str, log_probs: np.ndarray, context: OnionText, description: str = "",
                identity: dict | None = None, text: dict | None = None) -> Onion:
    """Peel the errors of a model whose ``log_probs`` ``(N-1,)`` (nats of each true next character) are over
    ``context.text``; ``identity`` and ``text`` (the predictions' model and text identities) are kept with it."""
    if len(log_probs) != len(context.text) - 1:
        raise RnnlensError(f"{model}: {len(log_probs)} predictions for a text of {len(context.text)} characters")
    p_true = np.exp(np.asarray(log_probs, dtype=np.float64))
    slices = oracle_slices(context, p_true)
    category = peel(p_true < context.options.threshold, slices)
    return Onion(model, description, [(s.oracle, s.name) for s in slices], category, p_true, identity or {},
                 text or {})


def scaling(small: Onion, big: Onion) -> list[dict]:
    """Per oracle of the small model's breakdown (and ``unexplained``), how many of the small model's errors
    it put there the big model gets right (makes no error at that position)."""
    if small.chars != big.chars:
        raise RnnlensError(f"{small.model} and {big.model} were scored on texts of different lengths")
    oracle_of = small.oracle_of()
    right = big.category < 0
    return [{"oracle": oracle, "removed_by_big": int(np.count_nonzero((oracle_of == g) & right))}
            for g, oracle in enumerate(ORACLES + (UNEXPLAINED,))]
