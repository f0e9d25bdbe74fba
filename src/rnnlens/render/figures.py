"""Figures drawn without a display and saved atomically, for every analysis."""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.figure import Figure

from rnnlens.store import atomic


def new_figure(**kwargs) -> Figure:
    """A matplotlib figure drawn without a display (Agg), for scripts and servers."""
    return Figure(**kwargs)


def save_figure(figure: Figure, path: str | os.PathLike) -> Path:
    """Save a matplotlib figure (format from the suffix: .png, .svg, .pdf) atomically."""
    path = Path(path)
    with atomic.atomic_path(path) as tmp:
        figure.savefig(tmp, format=path.suffix.lstrip("."), dpi=150, bbox_inches="tight")
    return path
