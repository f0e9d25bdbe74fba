"""Counts of every combination of sets: a Venn diagram for two or three sets, an UpSet bar chart for more.

A combination is the tuple of the set names it holds (in the order of
``names``); ``counts`` maps every non-empty combination to how many items
are in exactly those sets. Each region is labelled with its count and its
share of all counted items.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import Circle

from rnnlens.render.figures import new_figure

COLORS = ["tab:blue", "tab:orange", "tab:green"]
MOST_BARS = 30  # an UpSet chart shows the largest combinations only, so its labels stay readable

# circle centres (radius 1) and where each region's label goes, as the indices of the sets it holds
_LAYOUTS = {
    2: ([(-0.6, 0.0), (0.6, 0.0)],
        {(0,): (-0.95, 0.0), (1,): (0.95, 0.0), (0, 1): (0.0, 0.0)}),
    3: ([(-0.55, 0.32), (0.55, 0.32), (0.0, -0.63)],
        {(0,): (-0.95, 0.6), (1,): (0.95, 0.6), (2,): (0.0, -1.1),
         (0, 1): (0.0, 0.78), (0, 2): (-0.62, -0.32), (1, 2): (0.62, -0.32), (0, 1, 2): (0.0, 0.02)}),
}


def region_label(count: int, total: int) -> str:
    """``1,234`` over its share of ``total`` as a percentage."""
    return f"{count:,}\n{100 * count / total:.1f}%" if total else f"{count:,}"


def combinations_figure(names: list[str], counts: dict[tuple[str, ...], int], title: str,
                        set_labels: list[str] | None = None) -> Figure:
    """A Venn diagram for 2 or 3 ``names``, an UpSet chart for more; ``set_labels`` under each name."""
    if len(names) in _LAYOUTS:
        return venn_figure(names, counts, title, set_labels)
    return upset_figure(names, counts, title, set_labels)


def venn_figure(names: list[str], counts: dict[tuple[str, ...], int], title: str,
                set_labels: list[str] | None = None) -> Figure:
    """Two or three circles with every region's count and share of all counted items."""
    centres, spots = _LAYOUTS[len(names)]
    total = sum(counts.values())
    figure = new_figure(figsize=(6.0, 5.6))
    ax = figure.add_subplot()
    for i, ((x, y), name) in enumerate(zip(centres, names)):
        ax.add_patch(Circle((x, y), 1.0, facecolor=COLORS[i], alpha=0.25, edgecolor=COLORS[i], lw=2))
        under = f"\n{set_labels[i]}" if set_labels else ""
        above = y > 0
        ax.text(x + (-0.35 if x < 0 else 0.35 if x > 0 else 0), y + (1.08 if above else -1.08), name + under,
                ha="center", va="bottom" if above else "top", fontsize=11, color=COLORS[i], weight="bold",
                parse_math=False)
    for members, (x, y) in spots.items():
        count = counts.get(tuple(names[i] for i in members), 0)
        ax.text(x, y, region_label(count, total), ha="center", va="center", fontsize=10)
    ax.set_xlim(-2.0, 2.0)
    ax.set_ylim(-2.2 if len(names) == 3 else -1.7, 2.0 if len(names) == 3 else 1.7)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10, parse_math=False)
    return figure


def upset_figure(names: list[str], counts: dict[tuple[str, ...], int], title: str,
                 set_labels: list[str] | None = None) -> Figure:
    """Bars of the largest non-empty combinations, sorted by count, over a dot matrix of their members."""
    total = sum(counts.values())
    shown = sorted(((c, n) for c, n in counts.items() if n > 0), key=lambda item: -item[1])
    left_off = max(len(shown) - MOST_BARS, 0)
    shown = shown[:MOST_BARS]
    width = max(6.0, 0.42 * len(shown) + 2.5)
    figure = new_figure(figsize=(width, 4.0 + 0.35 * len(names)))
    bars_ax, dots_ax = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 0.5 + 0.3 * len(names)]})
    xs = range(len(shown))
    bars = bars_ax.bar(xs, [n for _, n in shown], color="0.3", width=0.7)
    bars_ax.bar_label(bars, [f"{n:,}\n{100 * n / total:.1f}%" for _, n in shown], fontsize=7)
    bars_ax.set_ylabel("count")
    bars_ax.margins(y=0.18)
    bars_ax.spines[["top", "right"]].set_visible(False)
    rows = {name: len(names) - 1 - i for i, name in enumerate(names)}  # first name on top
    for x, (members, _) in zip(xs, shown):
        dots_ax.scatter([x] * len(names), list(rows.values()), s=40, color="0.85", zorder=1)
        ys = [rows[m] for m in members]
        dots_ax.plot([x, x], [min(ys), max(ys)], color="0.2", lw=2, zorder=2)
        dots_ax.scatter([x] * len(ys), ys, s=40, color="0.2", zorder=3)
    labels = [f"{name} ({set_labels[i]})" if set_labels else name for i, name in enumerate(names)]
    dots_ax.set_yticks(list(rows.values()), labels, fontsize=8, parse_math=False)
    dots_ax.set_ylim(-0.6, len(names) - 0.4)
    dots_ax.set_xticks([])
    dots_ax.spines[:].set_visible(False)
    more = f" (the {MOST_BARS} largest; {left_off} smaller left off)" if left_off else ""
    bars_ax.set_title(title + more, fontsize=10, parse_math=False)
    figure.tight_layout()
    return figure
