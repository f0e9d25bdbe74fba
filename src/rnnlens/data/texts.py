"""The text a model is scored on, with its identity: a split of the model's corpus or any file."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from rnnlens.data.corpus import SPLITS, Vocabulary, load_corpus_spec, read_text
from rnnlens.errors import RnnlensError


def ids_digest(ids: np.ndarray) -> str:
    """sha256 of character ids (as int64), what a cached trace or prediction must match."""
    return hashlib.sha256(np.ascontiguousarray(ids, dtype=np.int64).tobytes()).hexdigest()


@dataclass(frozen=True)
class Text:
    """Ids to score and where they came from: ``source`` ("war-and-peace test split", a path)."""

    ids: np.ndarray
    source: str

    @property
    def sha256(self) -> str:
        return ids_digest(self.ids)

    def identity(self) -> dict:
        return {"source": self.source, "ids_sha256": self.sha256, "chars": int(len(self.ids))}


def text_for(vocab: Vocabulary, corpus_spec: dict, split: str | None = None, file: str | os.PathLike | None = None,
             skip_unknown: bool = False, data_dir: str | os.PathLike | None = None) -> Text:
    """A split of the corpus ``corpus_spec`` names, or the text of ``file`` in ``vocab``'s ids (exactly one)."""
    if (split is None) == (file is None):
        raise RnnlensError("give exactly one of a split of the model's corpus or a text file")
    if file is not None:
        return Text(vocab.encode(read_text(file), skip_unknown=skip_unknown), str(file))
    if split not in SPLITS:
        raise RnnlensError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    corpus = load_corpus_spec(corpus_spec, data_dir)
    return Text(corpus.split_ids(split), f"{corpus.name} {split} split")


def first_chars(text: Text, limit: int) -> Text:
    """The first ``limit`` characters of ``text`` (all of it when shorter), its source saying so."""
    if len(text.ids) <= limit:
        return text
    return Text(text.ids[:limit], f"{text.source}, first {limit:,} characters")
