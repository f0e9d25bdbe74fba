"""A toy model kind for the tests: a unigram model with add-one smoothing, in one module.

It exists to show that a new kind needs only a module with the registry's
verbs (``KIND``, ``LABEL``, ``fit``, ``load``) and one registry line
(``registry.register_kind("unigram", toy_unigram)``): every analysis, the
``evaluate`` command and the baseline table then take it like any other.

p(c) = (count of c in the train split + 1) / (train characters + V), the same
for every position: the model sees no characters of context.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from rnnlens.data.corpus import Corpus, Vocabulary
from rnnlens.errors import RnnlensError
from rnnlens.store.runs import read_config, write_config

KIND = "unigram"
LABEL = "unigram"
TEST_SPEC: dict = {}  # the conformance suite's spec: a unigram has no options


def fit(spec: dict, corpus: Corpus, out_dir: str | os.PathLike, log: Callable[[str], None] = print,
        show_progress: bool = False) -> "UnigramPredictor":
    """Count the characters of the train split and write them into ``out_dir/config.json``."""
    if spec:
        raise RnnlensError(f"a unigram model has no options; got {', '.join(map(str, spec))}")
    counts = np.bincount(corpus.split_ids("train"), minlength=len(corpus.vocab))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    write_config(out_dir, KIND, {"counts": [int(c) for c in counts], "smoothing": "add-one",
                                 "vocabulary": corpus.vocab.chars, "corpus": corpus.spec()})
    log(f"{out_dir}: unigram of {int(counts.sum()):,} characters")
    return UnigramPredictor(counts, Vocabulary(corpus.vocab.chars), corpus.spec())


def load(run_dir: str | os.PathLike, weights: str = "best", device: str = "cpu") -> "UnigramPredictor":
    """The unigram model a run directory's ``config.json`` holds."""
    if weights != "best":
        raise RnnlensError(f"{run_dir}: a unigram model has one set of counts, not {weights!r} weights")
    config = read_config(run_dir)
    if config.get("kind") != KIND:
        raise RnnlensError(f"{run_dir}: holds a {config.get('kind')} model, not a unigram model")
    return UnigramPredictor(np.asarray(config["counts"], dtype=np.int64), Vocabulary(config["vocabulary"]),
                            config["corpus"])


class UnigramPredictor:
    """The same add-one-smoothed distribution after every prefix."""

    kind = KIND
    context_length = 0  # characters it sees

    def __init__(self, counts: np.ndarray, vocab: Vocabulary, corpus_spec: dict) -> None:
        self.vocab = vocab
        self.corpus_spec = corpus_spec
        self.identity: dict = {}
        counts = np.asarray(counts, dtype=np.float64)
        self.log_p = np.log((counts + 1.0) / (counts.sum() + len(counts)))  # (V,) float64

    @property
    def description(self) -> str:
        return f"unigram, add-one smoothing, {len(self.vocab)} characters"

    def predict_log_probs(self, ids: np.ndarray) -> np.ndarray:
        """``(N-1,)`` float64: ln p(ids[t+1])."""
        ids = np.asarray(ids, dtype=np.int64)
        return self.log_p[ids[1:]] if len(ids) > 1 else np.zeros(0)

    def predict_log_distributions(self, ids: np.ndarray) -> np.ndarray:
        """``(N-1, V)`` float32: ln p(c) for every character c, on every row."""
        rows = max(len(ids) - 1, 0)
        return np.broadcast_to(self.log_p.astype(np.float32), (rows, len(self.vocab))).copy()
