"""A labelled heat map of a matrix, its values written in the cells when they fit: probes and CKA draw with it."""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from rnnlens.render.figures import new_figure

ANNOTATED_UP_TO = 24  # rows or columns beyond which values are not written in the cells (they would not fit)


def heat_map(matrix: np.ndarray, rows: list[str], columns: list[str], title: str, label: str,
             limits: tuple[float, float] | None = None, cmap: str = "viridis") -> Figure:
    """``matrix`` ``(len(rows), len(columns))`` as coloured cells; NaN cells grey; ``label`` names the colour bar.

    ``limits`` fix the colour scale (default: the finite values' range).
    """
    values = np.asarray(matrix, dtype=np.float64)
    finite = values[np.isfinite(values)]
    low, high = limits or ((float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0))
    high = high if high > low else low + 1e-3  # all equal: a scale that still has a width
    width, height = len(columns), len(rows)
    figure = new_figure(figsize=(2.8 + min(0.42 * width, 12), 1.6 + min(0.32 * height, 10)))  # at most 15 x 12 in
    ax = figure.subplots()
    colours = matplotlib.colormaps[cmap].with_extremes(bad="0.85")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colours, vmin=low, vmax=high, aspect="auto",
                      interpolation="nearest")
    size = 8 if max(width, height) <= 30 else 5
    ax.set_xticks(range(width), columns, rotation=90, fontsize=size)
    ax.set_yticks(range(height), rows, fontsize=size)
    if max(width, height) <= ANNOTATED_UP_TO:
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):
                red, green, blue, _ = colours(image.norm(value))
                light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5  # perceived brightness of the cell
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6.5,
                        color="black" if light else "white")
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.02, label=label)
    ax.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure
