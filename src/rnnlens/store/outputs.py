"""Output directories rnnlens may replace: only empty ones and those it marked as its own.

A trace or a result is written whole into a fresh directory that then takes
the place of the old one (``atomic.atomic_directory``). Replacing is only
safe when the old directory holds nothing a user could lose, so every such
directory carries a mark (``.rnnlens.json``, naming what it holds) and any
other non-empty directory (a model's run, a user's folder) is refused.
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


def check_replaceable(path: str | os.PathLike, holds: str) -> None:
    """Refuse ``path`` unless it is absent, an empty directory, or one rnnlens marked as holding ``holds``."""
    path = Path(path)
    if not path.exists():
        return
    if not path.is_dir():
        raise RnnlensError(f"{path} is a file; give a directory to write the {holds} into")
    entries = sorted(p.name for p in path.iterdir())
    if not entries:
        return
    found = marked_kind(path)
    if found == holds:
        return
    if found is not None:
        what = f"an rnnlens {found}"
    elif "config.json" in entries:
        what = "a model's run directory"
    else:
        what = f"files rnnlens did not write ({', '.join(entries[:3])}{', ...' if len(entries) > 3 else ''})"
    raise RnnlensError(f"{path} already holds {what}; it is not replaced: choose a new or empty directory "
                       f"for the {holds}")


@contextmanager
def replace_directory(path: str | os.PathLike, holds: str) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``path`` whole on success, marked as holding ``holds``.

    Checked first with ``check_replaceable``, so nothing of a user's is ever deleted.
    """
    check_replaceable(path, holds)
    with atomic.atomic_directory(path) as tmp:
        atomic.write_json(tmp / MARK, {"holds": holds})
        yield tmp
