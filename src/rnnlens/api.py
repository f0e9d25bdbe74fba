"""Trace or score a string of your choice from Python: ``trace(model, "text")`` and ``predict_next(model, "text")``.

``model`` is a run directory (any kind; loaded with ``load_predictor``) or a
predictor already loaded. A text of ``N`` characters has ``N-1``
predictions inside it (row ``t``: after reading ``text[t]``, about
``text[t+1]``); ``predict_next`` adds the one after its end. Nothing is
written to the run directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from rnnlens.data.corpus import Vocabulary
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import Predictor
from rnnlens.models.registry import load_predictor
from rnnlens.models.trace import Trace
from rnnlens.store.traces import compute_trace

Model = str | os.PathLike | Predictor


def as_predictor(model: Model, weights: str = "best", device: str = "cpu") -> Predictor:
    """``model`` itself when it is a predictor, else the one its run directory holds."""
    if isinstance(model, Predictor):
        return model
    return load_predictor(model, weights=weights, device=device)


def text_of(predictor: Predictor, text: str, skip_unknown: bool) -> Text:
    """``text`` in the predictor's ids (characters it does not know: an error, or dropped)."""
    if not isinstance(text, str) or not text:
        raise RnnlensError("give the text as a string of at least one character")
    ids = predictor.vocab.encode(text, skip_unknown=skip_unknown)
    if not len(ids):
        raise RnnlensError("none of the text's characters is in the model's vocabulary")
    return Text(ids, f"a string of {len(ids):,} characters")


def trace(model: Model, text: str, keys: Iterable[str] | None = None, skip_unknown: bool = False,
          weights: str = "best", device: str = "cpu") -> Trace:
    """A network's internals over ``text``: ``trace["layer1.cell"]`` is ``(N-1, units)`` for a text of ``N``
    characters, row ``t`` the state after reading ``text[t]``; ``trace["prob"]`` ``(N-1,)`` is the probability
    it gave ``text[t+1]`` (an ``N``-character text has ``N-1`` predictions; ``predict_next`` also gives the one
    after its end). ``keys`` keeps only those keys (default: every one, ``list(trace)``); ``skip_unknown`` drops
    characters the model does not know instead of refusing the text."""
    predictor = as_predictor(model, weights, device)
    return compute_trace(predictor, text_of(predictor, text, skip_unknown),
                         keys=set(keys) if keys is not None else None)


@dataclass(frozen=True)
class NextCharacters:
    """What a model predicts after each character of a text of ``N`` characters.

    ``distributions`` ``(N, V)`` float64 probabilities, column ``j`` for
    ``vocab.chars[j]``: row ``t`` after reading ``text[:t+1]``; rows ``0..N-2``
    are about the text's own next characters, row ``N-1`` (``next``) about the
    one after its end. ``log_probs`` ``(N-1,)`` nats: log p(``text[t+1]``).
    """

    text: str
    vocab: Vocabulary
    distributions: np.ndarray
    log_probs: np.ndarray

    @property
    def next(self) -> np.ndarray:
        """``(V,)`` probabilities of the character after the text's end."""
        return self.distributions[-1]

    def top(self, k: int = 5, position: int = -1) -> list[tuple[str, float]]:
        """The ``k`` likeliest characters after ``text[position]`` (default: after the end), likeliest first."""
        row = self.distributions[position]
        order = np.argsort(-row, kind="stable")[:k]
        return [(self.vocab.chars[j], float(row[j])) for j in order]


def predict_next(model: Model, text: str, skip_unknown: bool = False, weights: str = "best",
                 device: str = "cpu") -> NextCharacters:
    """Every prediction a model makes over ``text``: an ``N``-character text has ``N-1`` predictions of its own
    characters (``log_probs``), plus the one after its end (``.next``, ``.top()``); see ``NextCharacters``."""
    predictor = as_predictor(model, weights, device)
    ids = text_of(predictor, text, skip_unknown).ids
    # models are causal: a placeholder after the end changes no row, and gives the row of the end itself
    distributions = np.exp(np.asarray(predictor.predict_log_distributions(np.append(ids, 0)), dtype=np.float64))
    log_probs = np.asarray(predictor.predict_log_probs(ids), dtype=np.float64)  # float64, as evaluate's
    return NextCharacters(predictor.vocab.decode(ids), predictor.vocab, distributions, log_probs)
