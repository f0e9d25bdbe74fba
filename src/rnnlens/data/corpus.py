"""Corpora: a text, its character vocabulary, its ids, and its train/val/test splits.

A corpus is any UTF-8 text file, a directory of them (concatenated in sorted
order of their relative paths, nothing added between files), or one of the
paper's named datasets, found in a data directory (``--data-dir`` or the
``RNNLENS_DATA`` environment variable) and verified by sha256.

Splits are by character fraction in file order, with no shuffling, and the
vocabulary is built from the whole text so every split shares it.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rnnlens.errors import RnnlensError

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class Dataset:
    """A named corpus of the paper: its file in the data directory and its splits."""

    file: str
    sha256: str
    fractions: tuple[float, float, float]


DATASETS = {
    "war-and-peace": Dataset(
        "war_and_peace.txt",
        "b0fc81c399971eaf738c8be89809e6a0d95c151749112b04f06b6af648d8a39f",
        (0.8, 0.1, 0.1),
    ),
    "linux-kernel": Dataset(
        "linux_kernel.txt",
        "fcc2e6985b4e14ffa16e116f8e3a1bcb77be13e22ca30f3211fe5c8fc4aa6b45",
        (0.9, 0.05, 0.05),
    ),
}


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")


def _describe(chars: Counter) -> str:
    listed = ", ".join(f"{c!r} ({n})" for c, n in chars.most_common(10))
    more = f" and {len(chars) - 10} more" if len(chars) > 10 else ""
    return listed + more


@dataclass(frozen=True)
class Vocabulary:
    """The sorted set of characters a model knows; id ``i`` is ``chars[i]``."""

    chars: str

    @classmethod
    def from_text(cls, text: str) -> "Vocabulary":
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def unknown_characters(self, text: str) -> Counter:
        """Count the characters of ``text`` that are not in this vocabulary."""
        known = set(self.chars)
        return Counter(c for c in text if c not in known)

    def encode(self, text: str, skip_unknown: bool = False) -> np.ndarray:
        """Return the ``(len(text),)`` int64 ids of ``text``.

        Characters outside the vocabulary are an error that lists them, or are
        dropped when ``skip_unknown`` is true.
        """
        table = _codepoints(self.chars)
        points = _codepoints(text)
        ids = np.searchsorted(table, points)
        known = (ids < len(table)) & (table[np.minimum(ids, len(table) - 1)] == points)
        if not known.all():
            if not skip_unknown:
                unknown = self.unknown_characters(text)
                raise RnnlensError(f"the text has {sum(unknown.values())} characters outside the model's "
                                   f"vocabulary: {_describe(unknown)}", advice="drop them", option="skip_unknown")
            ids = ids[known]
        return ids.astype(np.int64)

    def decode(self, ids) -> str:
        """Return the text of a sequence of ids."""
        return "".join(self.chars[int(i)] for i in ids)


def read_text(path: str | os.PathLike) -> str:
    """Read a UTF-8 text file, or a directory of them, refusing what is not text.

    A directory's regular, non-hidden files are read recursively in sorted
    order of their relative paths and joined with nothing between them; its
    empty files (every Python package's ``__init__.py``) are skipped with a
    warning that counts them, and a directory with nothing else is refused.
    """
    path = Path(path)
    if not path.exists():
        raise RnnlensError(f"{path}: no such file or directory")
    if path.is_dir():
        return read_directory(path)
    data = path.read_bytes()
    if not data:
        raise RnnlensError(f"{path}: the file is empty; give a text file with content")
    if b"\x00" in data:
        raise RnnlensError(f"{path}: the file looks binary (it contains NUL bytes); give a UTF-8 text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RnnlensError(
            f"{path}: not UTF-8 (invalid byte 0x{data[err.start]:02x} at byte {err.start}); "
            "convert it, for example with iconv -t UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


def read_directory(path: Path) -> str:
    """The text of a directory's non-empty files (see ``read_text``)."""
    files = sorted(
        p for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not files:
        raise RnnlensError(f"{path}: the directory holds no files; give a text file or a directory of them")
    empty = [f for f in files if f.stat().st_size == 0]
    if len(empty) == len(files):
        raise RnnlensError(f"{path}: all {len(files)} files of the directory are empty; give a text file with content")
    if empty:
        shown = ", ".join(str(f.relative_to(path)) for f in empty[:3]) + (", ..." if len(empty) > 3 else "")
        warnings.warn(f"{path}: skipped {len(empty)} empty file{'s' if len(empty) > 1 else ''} of {len(files)} "
                      f"({shown})", stacklevel=2)
    return "".join(read_text(f) for f in files if f not in empty)


def data_directory(data_dir: str | os.PathLike | None = None) -> Path:
    """Resolve the data directory from the argument or ``RNNLENS_DATA``."""
    chosen = data_dir or os.environ.get("RNNLENS_DATA")
    if not chosen:
        raise RnnlensError("no data directory for the named corpora", advice="give one (or set RNNLENS_DATA to it)",
                           option="data_dir")
    return Path(chosen)


@dataclass(frozen=True)
class Corpus:
    """A text with its vocabulary, ids and split boundaries.

    ``source`` is what reloads it: ``{"dataset": name}`` or ``{"path": file}``;
    ``data_dir`` is where a named dataset was found.
    """

    name: str
    text: str
    vocab: Vocabulary
    ids: np.ndarray
    fractions: tuple[float, float, float]
    sha256: str
    source: dict
    data_dir: str | None = None

    def __len__(self) -> int:
        return len(self.text)

    def bounds(self, split: str) -> tuple[int, int]:
        """Return the ``[start, end)`` character range of a split."""
        if split not in SPLITS:
            raise RnnlensError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        n = len(self.text)
        edges = [0, int(n * self.fractions[0]), int(n * (self.fractions[0] + self.fractions[1])), n]
        i = SPLITS.index(split)
        return edges[i], edges[i + 1]

    def split_ids(self, split: str) -> np.ndarray:
        start, end = self.bounds(split)
        return self.ids[start:end]

    def split_text(self, split: str) -> str:
        start, end = self.bounds(split)
        return self.text[start:end]

    def spec(self) -> dict:
        """What a checkpoint stores to find this corpus again and check it is the same."""
        return {"name": self.name, **self.source, "sha256": self.sha256, "fractions": list(self.fractions)}


def _check_fractions(fractions) -> tuple[float, float, float]:
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-9 or fractions[0] == 0:
        raise RnnlensError(f"split fractions {fractions} must be three non-negative numbers (train > 0) summing to 1")
    return fractions


def _make_corpus(name: str, text: str, data: bytes, fractions, source: dict) -> Corpus:
    vocab = Vocabulary.from_text(text)
    return Corpus(
        name=name,
        text=text,
        vocab=vocab,
        ids=vocab.encode(text),
        fractions=_check_fractions(fractions),
        sha256=hashlib.sha256(data).hexdigest(),
        source=source,
    )


def load_dataset(name: str, data_dir: str | os.PathLike | None = None) -> Corpus:
    """Load one of the named datasets (``war-and-peace``, ``linux-kernel``), checking its sha256."""
    if name not in DATASETS:
        raise RnnlensError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)} or give a text file")
    info = DATASETS[name]
    directory = data_directory(data_dir)
    path = directory / info.file
    text = read_text(path)
    data = text.encode("utf-8")
    corpus = replace(_make_corpus(name, text, data, info.fractions, {"dataset": name}), data_dir=str(directory))
    if corpus.sha256 != info.sha256:
        raise RnnlensError(
            f"{path}: sha256 {corpus.sha256} differs from the expected {info.sha256}; "
            "this is not the file the dataset names (see the data README)"
        )
    return corpus


def load_text_corpus(path: str | os.PathLike, fractions=DEFAULT_FRACTIONS) -> Corpus:
    """Load any UTF-8 text file or directory as a corpus with the given split fractions."""
    text = read_text(path)
    path = Path(path).resolve()
    return _make_corpus(path.stem, text, text.encode("utf-8"), fractions, {"path": str(path)})


def load_corpus(dataset: str | None = None, text: str | os.PathLike | None = None,
                data_dir: str | os.PathLike | None = None, fractions=None) -> Corpus:
    """Load a corpus by dataset name or from a text path (exactly one of the two)."""
    if (dataset is None) == (text is None):
        raise RnnlensError("give exactly one of a dataset name or a text file")
    if dataset is not None:
        corpus = load_dataset(dataset, data_dir)
        if fractions is not None and tuple(fractions) != corpus.fractions:
            corpus = replace(corpus, fractions=_check_fractions(fractions))
        return corpus
    return load_text_corpus(text, fractions or DEFAULT_FRACTIONS)


def load_corpus_spec(spec: dict, data_dir: str | os.PathLike | None = None,
                     fallback_to_environment: bool = False) -> Corpus:
    """Reload the corpus a checkpoint was trained on, refusing one whose content changed.

    A named dataset is read from ``data_dir`` (default ``RNNLENS_DATA``); with
    ``fallback_to_environment``, from ``RNNLENS_DATA`` when ``data_dir`` lacks it.
    """
    if "dataset" in spec:
        try:
            corpus = load_corpus(dataset=spec["dataset"], data_dir=data_dir, fractions=spec.get("fractions"))
        except RnnlensError:
            if not (fallback_to_environment and data_dir and os.environ.get("RNNLENS_DATA")):
                raise
            corpus = load_corpus(dataset=spec["dataset"], fractions=spec.get("fractions"))
    else:
        corpus = load_corpus(text=spec["path"], fractions=spec.get("fractions"))
    if corpus.sha256 != spec["sha256"]:
        raise RnnlensError(
            f"the corpus {corpus.name!r} has changed since the model was trained (sha256 differs)",
            advice="score another text", option="text")
    return corpus
