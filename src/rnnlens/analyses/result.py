"""What every analysis result shares: saving tables and figures atomically.

An analysis is a function from inputs (predictions, traces, texts) to a
result object. A result object has ``save(out_dir) -> list[Path]`` (JSON and
CSV beside each other) and ``plot() -> matplotlib.figure.Figure``; these
helpers do the writing so every result writes the same way.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Iterable, Protocol, Sequence

from rnnlens.store import atomic


class Result(Protocol):
    """The shape of every analysis result."""

    def save(self, out_dir: str | os.PathLike) -> list[Path]:
        """Write the result's files (JSON, CSV, figures) into ``out_dir``; return their paths."""
        ...

    def plot(self):
        """Draw the result as a matplotlib figure."""
        ...


def write_csv(path: str | os.PathLike, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    """Write a CSV table atomically; floats keep full precision."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic.write_text(path, buffer.getvalue())
    return Path(path)


def save_figure(figure, path: str | os.PathLike) -> Path:
    """Save a matplotlib figure (format from the suffix: .png, .svg, .pdf) atomically."""
    path = Path(path)
    with atomic.atomic_path(path) as tmp:
        figure.savefig(tmp, format=path.suffix.lstrip("."), dpi=150, bbox_inches="tight")
    return path


def new_figure(**kwargs):
    """A matplotlib figure drawn without a display (Agg), for scripts and servers."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)
