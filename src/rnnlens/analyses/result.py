"""The one shape of every analysis result: ``to_dict``, ``save``, ``plot``, ``summary``.

An analysis is a function from predictions, traces and texts to a result.
``to_dict()`` is what ``--json`` prints and what ``save`` writes as
``NAME.json`` (the same keys); ``save(out_dir)`` writes that JSON with the
result's tables and figures (``write_files``) into a fresh directory that
replaces ``out_dir`` whole, or leaves it as it was (``store.outputs``);
``plot()`` draws the main figure; ``summary()`` is the text a command prints.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from matplotlib.figure import Figure

from rnnlens.store import atomic
from rnnlens.store.outputs import replace_directory


class Result(ABC):
    """Base of every analysis result; ``name`` is the stem of its JSON file."""

    name: ClassVar[str]

    @abstractmethod
    def to_dict(self) -> dict:
        """Plain JSON-able values: what ``--json`` prints and ``NAME.json`` holds."""

    @abstractmethod
    def summary(self) -> str:
        """The text a command prints: a table or a line."""

    def plot(self) -> Figure | None:
        """The main figure, or None for a result without one."""
        return None

    def write_files(self, out_dir: Path) -> None:
        """Write the result's tables and figures beside its JSON (none by default)."""

    def save(self, out_dir: str | os.PathLike) -> list[Path]:
        """Write ``NAME.json`` and ``write_files`` into ``out_dir``, whole or not at all; return the files."""
        with replace_directory(out_dir, "result") as tmp:
            atomic.write_json(tmp / f"{self.name}.json", self.to_dict())
            self.write_files(tmp)
            names = sorted(p.name for p in tmp.iterdir() if not p.name.startswith("."))
        return [Path(out_dir) / name for name in names]
