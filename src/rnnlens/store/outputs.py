"""Output directories rnnlens may replace: only empty ones and those it marked as its own.

A trace or a result is written whole into a fresh directory that then takes
the place of the old one (``atomic.atomic_directory``). Replacing is only
safe when the old directory holds nothing a user could lose, so every such
directory carries a mark (``.rnnlens.json``, naming what it holds) and any
other non-empty directory (a model's run, a user's folder) is refused.

A model is fitted only into an absent or empty directory or a run of its
own kind (``check_model_dir``); refusals say what the directory holds.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from rnnlens.errors import RnnlensError
from rnnlens.store import atomic

MARK = ".rnnlens.json"


def marked_kind(path: str | os.PathLike) -> str | None:
    """What rnnlens wrote this directory as (``"trace"``, ``"result"``), or None if it did not mark it."""
    try:
        return json.loads((Path(path) / MARK).read_text(encoding="utf-8")).get("holds")
    except (OSError, ValueError, AttributeError):
        return None


KIND_WORDS = {"rnn": "an RNN run", "ngram": "an n-gram model", "nnn": "an n-NN model"}


def kind_words(kind: str | None) -> str:
    """A model kind as a user reads it: "an RNN run", "an n-gram model", "an n-NN model"."""
    return KIND_WORDS.get(kind, f"a model of kind {kind!r}")


def run_kind(path: str | os.PathLike) -> str | None:
    """The model kind whose run directory ``path`` is (its ``config.json``; an n-NN grid still in training
    has only ``grid/``), or None."""
    path = Path(path)
    configs = [path / "config.json"] if (path / "config.json").is_file() else sorted(path.glob("grid/*/config.json"))
    for config in configs[:1]:
        try:
            return str(json.loads(config.read_text(encoding="utf-8")).get("kind"))
        except (OSError, ValueError, AttributeError):
            return "unknown"
    return None


def holdings(path: str | os.PathLike) -> str:
    """What a non-empty directory holds, in words, for a refusal."""
    path = Path(path)
    found = marked_kind(path)
    if found is not None:
        return f"an rnnlens {found}"
    kind = run_kind(path)
    if kind is not None:
        return f"a model's run directory ({kind_words(kind)})"
    entries = sorted(p.name for p in path.iterdir())
    return f"files rnnlens did not write ({', '.join(entries[:3])}{', ...' if len(entries) > 3 else ''})"


def _entries(path: Path) -> list[str]:
    """The names in ``path`` that are not an interrupted write's leftovers."""
    return sorted(p.name for p in path.iterdir() if not (p.name.startswith(".") and p.name.endswith(".tmp")))


def check_replaceable(path: str | os.PathLike, holds: str) -> None:
    """Refuse ``path`` unless it is absent, an empty directory, or one rnnlens marked as holding ``holds``."""
    path = Path(path)
    if not path.exists():
        return
    if not path.is_dir():
        raise RnnlensError(f"{path} is a file; give a directory to write the {holds} into")
    if not _entries(path) or marked_kind(path) == holds:
        return
    raise RnnlensError(f"{path} already holds {holdings(path)}; it is not replaced: choose a new or empty directory "
                       f"for the {holds}")


def check_model_dir(path: str | os.PathLike, kind: str, reuse: bool = True) -> None:
    """Refuse ``path`` for a model of ``kind`` unless it is absent, empty or (``reuse``) a run of that kind.

    A run of the same kind is continued or re-fitted by that kind's ``fit``; anything else (another kind's
    run, a trace, a user's files) is never written into.
    """
    path = Path(path)
    if not path.exists():
        return
    if not path.is_dir():
        raise RnnlensError(f"{path} is a file; give a directory for {kind_words(kind)}")
    if not _entries(path) or (reuse and run_kind(path) == kind):
        return
    raise RnnlensError(f"{path} already holds {holdings(path)}; it is not written into: choose a new or empty "
                       f"directory for {kind_words(kind)}")


@contextmanager
def replace_directory(path: str | os.PathLike, holds: str) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``path`` whole on success, marked as holding ``holds``.

    Checked first with ``check_replaceable``, so nothing of a user's is ever deleted.
    """
    check_replaceable(path, holds)
    with atomic.atomic_directory(path) as tmp:
        atomic.write_json(tmp / MARK, {"holds": holds})
        yield tmp
