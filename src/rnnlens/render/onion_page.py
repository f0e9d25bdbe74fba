"""The error onion's colours and its page of examples (Figure 6, right): stretches of text, each erroneous
character on the colour of the slice that explained it.

``slice_colours`` gives each group of slices (an oracle) one hue, its slices
shades of it from dark to light, so the pie chart and the page agree.
``render_page`` fills ``templates/onion.html.j2`` (Jinja2, every text
escaped): a self-contained page, inline CSS, no external address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby
from typing import Sequence

import jinja2
import numpy as np
from matplotlib.colors import to_hex, to_rgb

from rnnlens.store import atomic

GROUP_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#d62728", "#7f7f7f", "#17becf")
LIGHTEST = 0.65  # how far toward white the last slice of a group goes
NEWLINE_MARK, TAB_MARK = "\u21b5", "\u2192"  # ↵ and →


def slice_colours(groups: Sequence[str]) -> list[str]:
    """A hex colour per slice: the ``i``-th distinct group (in order) gets ``GROUP_COLOURS[i]``, its slices
    shades of it from the full colour to ``LIGHTEST`` of the way to white."""
    order = list(dict.fromkeys(groups))
    sizes = {g: groups.count(g) for g in order}
    seen: dict[str, int] = {}
    colours = []
    for group in groups:
        k = seen[group] = seen.get(group, -1) + 1
        base = np.array(to_rgb(GROUP_COLOURS[order.index(group) % len(GROUP_COLOURS)]))
        mix = LIGHTEST * k / (sizes[group] - 1) if sizes[group] > 1 else 0.0
        colours.append(to_hex(base + mix * (1 - base)))
    return colours


def ink(colour: str) -> str:
    """Black or white, whichever reads better on ``colour`` (relative luminance above or below 0.4)."""
    r, g, b = to_rgb(colour)
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.4 else "#ffffff"


@dataclass(frozen=True)
class Category:
    """A slice as the legend shows it."""

    label: str
    colour: str


@dataclass(frozen=True)
class Stretch:
    """A piece of text with per-character marks: ``category[t]`` indexes the page's categories (-1: none),
    ``focus``/``earlier`` are sets of offsets in ``text``, ``titles`` tooltips by offset."""

    caption: str
    text: str
    category: Sequence[int]
    focus: frozenset = frozenset()
    earlier: frozenset = frozenset()
    titles: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    """A heading, a line under it and its stretches, each a list shown together (an example and, for
    memory, its earlier occurrence)."""

    title: str
    note: str
    examples: list[list[Stretch]]


def _runs(stretch: Stretch) -> list[dict]:
    """The stretch as runs of characters marked alike, each ``{"text", "style", "classes", "title"}``."""
    def key(t: int) -> tuple:
        marked = stretch.category[t] >= 0 or t in stretch.focus or t in stretch.earlier
        return (t, ) if marked else (-1,)

    runs = []
    for (kind,), offsets in groupby(range(len(stretch.text)), key):
        offsets = list(offsets)
        chars = "".join(stretch.text[t] for t in offsets)
        shown = chars.replace("\t", TAB_MARK + "   ").replace("\n", NEWLINE_MARK + "\n")
        runs.append({"text": shown, "category": -1 if kind < 0 else stretch.category[kind],
                     "focus": kind in stretch.focus, "earlier": kind in stretch.earlier,
                     "title": stretch.titles.get(kind, "")})
    return runs


def render_page(heading: str, intro: str, categories: list[Category], sections: list[Section]) -> str:
    """The whole HTML page as a string."""
    environment = jinja2.Environment(loader=jinja2.PackageLoader("rnnlens.render", "templates"), autoescape=True,
                                     trim_blocks=True, lstrip_blocks=True)
    template = environment.get_template("onion.html.j2")
    return template.render(heading=heading, intro=intro, newline_mark=NEWLINE_MARK,
                           categories=[{"label": c.label, "colour": c.colour, "ink": ink(c.colour)} for c in categories],
                           sections=[{"title": s.title, "note": s.note,
                                      "examples": [[{"caption": st.caption, "runs": _runs(st)} for st in example]
                                                   for example in s.examples]} for s in sections])


def save_page(path, heading: str, intro: str, categories: list[Category], sections: list[Section]):
    """Write ``render_page`` to ``path`` atomically."""
    atomic.write_text(path, render_page(heading, intro, categories, sections))
    return path
