"""Which stretches of text the onion's page shows: an overview, then a few errors of every slice.

The overview is ``OVERVIEW`` characters from the middle of the text (from a
line's start) with every error coloured, as Figure 6 (right). Each slice
gets up to ``examples`` of its errors, spread evenly over the text, each
shown with ``BEFORE`` characters before it and ``AFTER`` after; a memory
error also shows the earlier copy of its word, in the same stretch when it
lies there, else in a stretch of its own.
"""

from __future__ import annotations

import numpy as np

from rnnlens.analyses.onion.breakdown import Onion, OnionText
from rnnlens.analyses.onion.oracles import MEMORY, UNEXPLAINED
from rnnlens.render.onion_page import Category, Section, Stretch, slice_colours

OVERVIEW = 1200
BEFORE, AFTER = 80, 40
AROUND_EARLIER = 40
EXAMPLES = 3


def slice_labels(slices: list[tuple[str, str]]) -> list[str]:
    """Each ``(oracle, name)`` slice as "oracle: name", then "unexplained"."""
    return [name if oracle == name else f"{oracle}: {name}" for oracle, name in slices] + [UNEXPLAINED]


def legend(slices: list[tuple[str, str]]) -> list[Category]:
    """The label and colour of each category an error can have: the slices in order, then "unexplained"
    (the pie, the examples page and the explorer all colour by this)."""
    colours = slice_colours([oracle for oracle, _ in slices] + [UNEXPLAINED])
    return [Category(label, colour) for label, colour in zip(slice_labels(slices), colours)]


def stretch(onion: Onion, context: OnionText, start: int, end: int, caption: str = "",
            focus: tuple[int, ...] = (), earlier: range = range(0)) -> Stretch:
    """Characters ``[start, end)`` of the text, each error on its slice's colour; ``focus`` and ``earlier`` are
    absolute positions to outline and to underline."""
    labels = slice_labels(onion.slices)
    positions = np.arange(start, end)
    category = np.where(positions >= 1, onion.category[np.maximum(positions - 1, 0)], -1)
    titles = {t: f"p = {onion.p_true[start + t - 1]:.3f}: {labels[c]}"
              for t, c in enumerate(category.tolist()) if c >= 0}
    return Stretch(caption, context.text[start:end], category.tolist(), frozenset(j - start for j in focus),
                   frozenset(j - start for j in earlier if start <= j < end), titles)


def overview(onion: Onion, context: OnionText, chars: int = OVERVIEW) -> Stretch:
    """``chars`` characters from the start of a line near the middle of the text."""
    start = max(0, len(context.text) // 2 - chars // 2)
    line = context.text.find("\n", start, start + 300)
    start = line + 1 if line >= 0 else start
    return stretch(onion, context, start, min(len(context.text), start + chars))


def example(onion: Onion, context: OnionText, position: int) -> list[Stretch]:
    """The error at predicted ``position`` (character ``position + 1``) in its stretch, and for a memory error the
    earlier copy of its word."""
    j = position + 1
    start, end = max(0, j - BEFORE), min(len(context.text), j + AFTER)
    oracle, _ = (onion.slices + [(UNEXPLAINED, UNEXPLAINED)])[onion.category[position]]
    word = context.words.of_char[j]
    if oracle != MEMORY or word < 0 or context.earlier[word] < 0:
        return [stretch(onion, context, start, end, focus=(j,))]
    copy = int(context.earlier[word])
    copied = range(copy, copy + len(context.words.tokens[word]))
    distance = int(context.words.starts[word]) - copy
    if copy >= start:
        return [stretch(onion, context, start, end, f"{distance:,} characters after the underlined copy",
                        focus=(j,), earlier=copied)]
    return [stretch(onion, context, start, end, focus=(j,)),
            stretch(onion, context, max(0, copy - AROUND_EARLIER), min(j, copied.stop + AROUND_EARLIER),
                    f"its earlier copy, {distance:,} characters before the word", earlier=copied)]


def sections(onion: Onion, context: OnionText, examples: int = EXAMPLES) -> list[Section]:
    """The overview and, per slice (and the unexplained errors), up to ``examples`` examples."""
    errors, whole = onion.errors, overview(onion, context)
    result = [Section(f"{onion.model}: {len(whole.text):,} characters with every error coloured",
                      "hover over a coloured character for its probability and slice", [[whole]])]
    for k, (label, count) in enumerate(zip(slice_labels(onion.slices), onion.removed)):
        positions = np.flatnonzero(onion.category == k)
        chosen = np.unique(positions[np.linspace(0, len(positions) - 1, examples).round().astype(int)]) \
            if len(positions) else []
        note = f"{count:,} errors, {count / errors:.1%} of {errors:,}" if errors else "no errors"
        result.append(Section(f"{onion.model}: {label}", note, [example(onion, context, int(i)) for i in chosen]))
    return result
