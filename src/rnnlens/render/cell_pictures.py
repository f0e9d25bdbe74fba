"""Cell pictures (the paper's Figure 2): a text with each character's background coloured by one unit.

Red at -1, white at 0, blue at +1, as in the paper. The character at ``t``
is coloured by the unit's value after reading it (trace row ``t``). Output
is a self-contained HTML page (newlines break lines, tabs and spaces stay
visible, characters are escaped) or a matplotlib figure for PNG/SVG.
"""

from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlens.store import atomic
from rnnlens.render.figures import new_figure

NEWLINE_MARK, TAB_MARK = "\u21b5", "\u2192"  # ↵ and →, drawn faintly where those characters are
SCALE_WORDS = "red near -1, white at 0, blue near +1"  # value_colors in words, for every legend
ROW = 18  # pixels from one line of an HTML picture to the next: 13 px text with room for its ascenders and descenders


@dataclass(frozen=True)
class CellPicture:
    """One unit over a stretch of text: ``values[t]`` colours ``text[t]``; ``title`` is the legend line."""

    text: str
    values: np.ndarray
    title: str


def value_colors(values: np.ndarray) -> np.ndarray:
    """RGB in [0, 1], ``(n, 3)``: red at -1, white at 0, blue at +1 (values clipped to [-1, 1])."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), -1.0, 1.0)[:, None]
    red, blue, white = np.array([0.84, 0.15, 0.16]), np.array([0.13, 0.4, 0.85]), np.ones(3)
    return np.where(v < 0, white + (-v) * (red - white), white + v * (blue - white))


def _css(rgb: np.ndarray) -> str:
    r, g, b = (int(round(255 * c)) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def _html_picture(picture: CellPicture) -> str:
    """One ``<figure>``: a ``<pre>`` of one span per character, nothing between them but ``<br>`` after newlines.

    No text node sits between spans, so no space can open between two
    backgrounds; the CSS of ``render_html`` makes each span a block one line
    tall, so rows touch too.
    """
    spans = []
    for char, rgb, value in zip(picture.text, value_colors(picture.values), picture.values):
        shown = {"\n": f'<i>{NEWLINE_MARK}</i>', "\t": f'<i>{TAB_MARK}</i>   '}.get(char, html.escape(char))
        spans.append(f'<span style="background:{_css(rgb)}" title="{value:+.3f}">{shown}</span>')
        if char == "\n":
            spans.append("<br>")
    return (f'<figure><figcaption>{html.escape(picture.title)}</figcaption>'
            f'<pre>{"".join(spans)}</pre></figure>')


def render_html(pictures: list[CellPicture], heading: str, note: str = "") -> str:
    """A self-contained HTML page with the pictures stacked, a colour legend, ``heading`` and a ``note`` below it.

    Inline spans colour only their glyphs' height, leaving white lines between
    rows whenever the line is taller than the font, and each browser rounds
    that height its own way. So each character is an ``inline-block`` exactly
    one line (``ROW`` pixels) tall, aligned to the line's top, in a ``pre``
    whose lines are ``ROW`` pixels apart: backgrounds tile the text.
    """
    scale = "".join(f'<span style="background:{_css(c)}">&nbsp;{v:+.1f}&nbsp;</span>'
                    for v, c in zip(np.linspace(-1, 1, 5), value_colors(np.linspace(-1, 1, 5))))
    body = "\n".join(_html_picture(p) for p in pictures)
    remark = f"<p>{html.escape(note)}</p>\n" if note else ""
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(heading)}</title>
<style>
body {{ font-family: sans-serif; margin: 1em 2em; }}
pre {{ font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; line-height: {ROW}px;
      white-space: pre-wrap; word-break: break-all; border: 1px solid #ccc; padding: 6px; }}
pre span {{ display: inline-block; height: {ROW}px; vertical-align: top; }}
pre i {{ font-style: normal; color: #999; }}
figcaption {{ font-weight: bold; margin-top: 1.2em; }}
</style></head><body>
<h1 style="font-size: 1.2em">{html.escape(heading)}</h1>
<p>Background of each character: the unit's value after reading it, {SCALE_WORDS}. Scale: {scale}
&nbsp; ({NEWLINE_MARK} newline, {TAB_MARK} tab)</p>
{remark}{body}
</body></html>
"""


def layout(text: str, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of each character when newlines break lines and lines wrap at ``columns``."""
    rows, cols = np.zeros(len(text), np.int64), np.zeros(len(text), np.int64)
    row = col = 0
    for t, char in enumerate(text):
        if col >= columns:
            row, col = row + 1, 0
        rows[t], cols[t] = row, col
        col += 1
        if char == "\n":
            row, col = row + 1, 0
    return rows, cols


def draw_scale(figure, box: tuple[float, float, float, float], fontsize: float) -> None:
    """The colour bar of ``value_colors`` from -1 to +1 in ``box`` (figure fractions), with its meaning beside it."""
    ax = figure.add_axes(box)
    ax.imshow(value_colors(np.linspace(-1, 1, 201))[None], aspect="auto", extent=(-1, 1, 0, 1))
    ax.set_yticks([])
    ax.set_xticks([-1, -0.5, 0, 0.5, 1], ["-1", "-0.5", "0", "+0.5", "+1"], fontsize=fontsize)
    ax.text(1.04, 0.5, f"background: the unit's value after reading the character ({SCALE_WORDS})",
            transform=ax.transAxes, ha="left", va="center", fontsize=fontsize + 1)


def plot_pictures(pictures: list[CellPicture], columns: int = 100, fontsize: float = 7.0):
    """The pictures as one matplotlib figure under a colour bar saying what red and blue mean, stacked, one
    character per grid cell.

    Each row of text is one monospace text artist sized so that a character
    advances exactly one grid cell (drawing one artist per character is
    slow), with newlines and tabs shown as marks. A title longer than the
    picture is wide wraps onto more lines.
    """
    advance = 0.602 * fontsize / 72  # inches per character of DejaVu Sans Mono
    row_height, title_line, gap, scale_height = 1.7 * fontsize / 72, 0.15, 0.12, 0.42
    placed = [layout(p.text, columns) for p in pictures]
    heights = [int(rows.max()) + 1 if len(rows) else 1 for rows, _ in placed]
    titles = [textwrap.wrap(p.title, columns) for p in pictures]  # a proportional letter is narrower than a cell
    width = columns * advance + 0.2
    total = sum(h * row_height + 0.1 + title_line * len(t) + gap for h, t in zip(heights, titles)) + gap + scale_height
    figure = new_figure(figsize=(width, total))
    draw_scale(figure, (0.1 / width, (total - gap - 0.12) / total, 1.6 / width, 0.12 / total), fontsize)
    top = total - gap - scale_height
    for picture, (rows, cols), height, title in zip(pictures, placed, heights, titles):
        top -= 0.1 + title_line * len(title)
        box = (0.1 / width, (top - height * row_height) / total, columns * advance / width, height * row_height / total)
        ax = figure.add_axes(box)
        image = np.ones((height, columns, 3))
        image[rows, cols] = value_colors(picture.values)
        ax.imshow(image, aspect="auto", interpolation="nearest", extent=(0, columns, height, 0))
        lines = [[" "] * columns for _ in range(height)]
        for char, r, c in zip(picture.text, rows, cols):
            lines[r][c] = {"\n": NEWLINE_MARK, "\t": TAB_MARK}.get(char, char)
        for r, line in enumerate(lines):
            ax.text(0, r + 0.5, "".join(line), ha="left", va="center", family="DejaVu Sans Mono",
                    fontsize=fontsize)
        ax.text(0, -0.3, "\n".join(title), ha="left", va="bottom", fontsize=fontsize + 1)
        ax.set_xticks([])
        ax.set_yticks([])
        top -= height * row_height + gap
    return figure


def save_html(path: str | Path, pictures: list[CellPicture], heading: str, note: str = "") -> Path:
    """Write ``render_html`` to ``path`` atomically."""
    atomic.write_text(path, render_html(pictures, heading, note))
    return Path(path)
