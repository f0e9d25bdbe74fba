"""The category of every position, kept beside ``onion.json``, and reading a saved onion result back.

Each model's ``(N-1,)`` int16 array (``DTYPE``) says, for the prediction of
character ``i + 1`` of the text, -1 where the model made no error, ``k``
where the ``k``-th entry of its ``slices`` removed the error, and
``len(slices)`` where none did (unexplained): ``Onion.category`` as
``breakdown.peel`` gives it. One model's is ``categories.npy``; a small and a
big model's are ``categories-small.npy`` and ``categories-big.npy``. Each
model's object in ``onion.json`` names its file (``"categories"``) beside
its model and text identities (``"identity"``, ``"text"``), so a reader
can tell which model and text an array belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rnnlens.errors import RnnlensError
from rnnlens.store import atomic

DTYPE = np.int16
ONE, ROLES = "categories.npy", ("small", "big")
AGAIN = "run rnnlens onion again"


def category_files(models: int) -> list[str]:
    """The file names of ``models`` (1 or 2) models' categories, in ``onion.json``'s order."""
    return [ONE] if models == 1 else [f"categories-{role}.npy" for role in ROLES[:models]]


def write_categories(out: Path, categories: Sequence[np.ndarray]) -> None:
    """Each model's ``(N-1,)`` categories as ``DTYPE`` under its ``category_files`` name in ``out``."""
    for name, category in zip(category_files(len(categories)), categories):
        np.save(out / name, np.asarray(category).astype(DTYPE), allow_pickle=False)


@dataclass(frozen=True)
class SavedOnion:
    """One model's onion as saved: its JSON object (``entry``) and its categories, memory-mapped."""

    directory: Path
    entry: dict
    category: np.ndarray

    @property
    def slices(self) -> list[tuple[str, str]]:
        return [(s["oracle"], s["name"]) for s in self.entry["slices"]]


def read_onion(directory: str | Path) -> list[SavedOnion]:
    """Every model's onion in a result directory of ``rnnlens onion``, each checked against its JSON: the
    array has one entry per position and its counts per category are the slices' ``removed`` and
    ``unexplained``."""
    directory = Path(directory)
    path = directory / "onion.json"
    if not path.is_file():
        raise RnnlensError(f"{directory}: no onion.json; give a directory written by rnnlens onion")
    data = atomic.read_json(path, RnnlensError, AGAIN)
    entries = data.get("models", [data]) if isinstance(data, dict) else []
    return [_read_entry(directory, entry) for entry in entries]


def _read_entry(directory: Path, entry) -> SavedOnion:
    if not isinstance(entry, dict) or not all(key in entry for key in ("categories", "identity", "text")):
        raise RnnlensError(f"{directory}: onion.json names no categories (an older rnnlens wrote it); {AGAIN}")
    name = str(entry["categories"])
    if Path(name).name != name or name not in (ONE, *category_files(2)):
        raise RnnlensError(f"{directory}: onion.json names {name!r} as its categories; {AGAIN}")
    try:
        category = np.load(directory / name, mmap_mode="r", allow_pickle=False)
        slices, chars = len(entry["slices"]), int(entry["chars"])
        counts = [s["removed"] for s in entry["slices"]] + [entry["unexplained"]]
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise RnnlensError(f"{directory}: unreadable categories {name} ({err}); {AGAIN}") from None
    if category.dtype != DTYPE or category.shape != (chars,):
        raise RnnlensError(f"{directory}/{name}: {category.dtype} {category.shape}, not {np.dtype(DTYPE)} ({chars},) "
                           f"as onion.json says; {AGAIN}")
    shifted = np.asarray(category, np.int64) + 1  # -1 (no error) at 0
    found = np.bincount(np.maximum(shifted, 0), minlength=slices + 2)
    if shifted.min(initial=0) < 0 or len(found) != slices + 2 or found[1:].tolist() != counts:
        raise RnnlensError(f"{directory}/{name}: its categories do not add up to the counts in onion.json; {AGAIN}")
    return SavedOnion(directory, entry, category)
