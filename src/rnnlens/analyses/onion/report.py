"""The onion as a result: JSON, a table grouped by oracle, the pie chart of Figure 6, CSV and the examples page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlens.analyses.onion.breakdown import Onion, OnionText
from rnnlens.analyses.onion.examples import EXAMPLES, legend, sections
from rnnlens.analyses.onion.oracles import ORACLES, UNEXPLAINED
from rnnlens.analyses.onion.saved import category_files, write_categories
from rnnlens.analyses.result import Result
from rnnlens.render.figures import new_figure, save_figure
from rnnlens.render.onion_page import save_page
from rnnlens.store.atomic import write_csv

LABEL_GAP = 0.14  # the least vertical distance between two oracle names of the pie, in ring radii
LEGEND_FONT = 9  # points: about 12 pixels where the report shows the figure 900 pixels wide


@dataclass
class OnionReport(Result):
    """One model's onion, or a small and a big model's with ``scaling`` (see ``breakdown.scaling``)."""

    name = "onion"
    onions: list[Onion]
    context: OnionText
    source: str
    scaling: list[dict] | None = None
    examples: int = EXAMPLES

    def to_dict(self) -> dict:
        """One model: its onion's keys; two: ``{"models": [small, big], "scaling": [...]}``. Each model's
        ``categories`` names the file of its categories (``saved``)."""
        models = [{**o.to_dict(), "categories": name}
                  for o, name in zip(self.onions, category_files(len(self.onions)))]
        if self.scaling is None:
            return models[0]
        return {"models": models, "scaling": self.scaling}

    def summary(self) -> str:
        tables = [onion_table(o, self.source, self.context.mode) for o in self.onions]
        if self.scaling is not None:
            tables.append(scaling_table(self.onions[0], self.onions[1], self.scaling))
        return "\n\n".join(tables)

    def write_files(self, out: Path) -> None:
        """onion.csv, scaling.csv (two models), onion.png and .svg, onion.html, the categories (``saved``)."""
        write_csv(out / "onion.csv", ["model", "oracle", "slice", "removed", "share"],
                  [[o.model, row["oracle"], row["name"], row["removed"], row["share"]]
                   for o in self.onions for row in rows(o)])
        if self.scaling is not None:
            small = self.onions[0]
            totals = oracle_totals(small)
            write_csv(out / "scaling.csv", ["oracle", "small_errors", "removed_by_big"],
                      [[s["oracle"], totals[s["oracle"]], s["removed_by_big"]] for s in self.scaling])
        figure = self.plot()
        save_figure(figure, out / "onion.png")
        save_figure(figure, out / "onion.svg")
        self.write_page(out / "onion.html")
        write_categories(out, [o.category for o in self.onions])

    def write_page(self, path: Path) -> None:
        options = self.context.options
        copies = "whole words" if options.whole_words else "any substring"
        intro = (f"Errors (true character below probability {options.threshold:g}) of "
                 f"{' and '.join(o.model for o in self.onions)} on {self.source}, each coloured by the first oracle "
                 f"that explains it, in this order: {', '.join(ORACLES)}. Words are {self.context.mode} words; a "
                 f"memory error's earlier copy is {copies}.")
        save_page(path, f"Error onion: {self.source}", intro, legend(self.onions[0].slices),
                  [s for o in self.onions for s in sections(o, self.context, self.examples)])

    def plot(self):
        """A ring of slices around a pie of oracles per model, slices in peeling order clockwise from the top; the
        models one above the other, so that the figure keeps the report's width and its legends stay legible."""
        figure = new_figure(figsize=(9.5, 5.6 * len(self.onions)))
        for row, onion in enumerate(self.onions):
            draw_pie(figure.add_subplot(len(self.onions), 1, row + 1), onion)
        figure.tight_layout()
        return figure


def rows(onion: Onion) -> list[dict]:
    """The JSON slices and then the unexplained errors as one more row."""
    data = onion.to_dict()
    errors = data["errors"]
    return data["slices"] + [{"oracle": UNEXPLAINED, "name": UNEXPLAINED, "removed": data["unexplained"],
                              "share": data["unexplained"] / errors if errors else 0.0}]


def oracle_totals(onion: Onion) -> dict[str, int]:
    """Errors per oracle (and ``unexplained``), in peeling order."""
    totals = dict.fromkeys(ORACLES + (UNEXPLAINED,), 0)
    for row in rows(onion):
        totals[row["oracle"]] += row["removed"]
    return totals


def onion_table(onion: Onion, source: str, mode: str) -> str:
    """The breakdown as printed: each oracle's total, then its slices indented."""
    data = onion.to_dict()
    lines = [f"{onion.model}{f' ({onion.description})' if onion.description else ''} on {source}: "
             f"{data['chars']:,} characters, {data['errors']:,} errors ({data['error_rate']:.1%}); {mode} words",
             f"{'oracle / slice':<24} {'errors':>9} {'share':>7}", "-" * 42]
    totals = oracle_totals(onion)
    shown = set()
    for row in rows(onion):
        if row["oracle"] not in shown:
            shown.add(row["oracle"])
            total = totals[row["oracle"]]
            lines.append(f"{row['oracle']:<24} {total:>9,} {total / max(data['errors'], 1):>7.1%}")
        if row["name"] != row["oracle"]:
            lines.append(f"  {row['name']:<22} {row['removed']:>9,} {row['share']:>7.1%}")
    return "\n".join(lines)


def scaling_table(small: Onion, big: Onion, scaling: list[dict]) -> str:
    """Per oracle of the small model: its errors there and how many of them the big model gets right."""
    totals = oracle_totals(small)
    removed = sum(s["removed_by_big"] for s in scaling)
    lines = [f"errors of {small.model} that {big.model} gets right: {removed:,} of {small.errors:,} "
             f"(net change {big.errors - small.errors:+,})",
             f"{'oracle':<14} {'errors':>9} {'right in big':>13} {'of removed':>11}", "-" * 50]
    for s in scaling:
        share = s["removed_by_big"] / removed if removed else 0.0
        lines.append(f"{s['oracle']:<14} {totals[s['oracle']]:>9,} {s['removed_by_big']:>13,} {share:>11.1%}")
    return "\n".join(lines)


def draw_pie(axes, onion: Onion) -> None:
    """Figure 6 (left) for one model: a ring of slices in peeling order (clockwise from the top) around a pie of
    their oracles, colours grouped by oracle, each oracle named outside, a legend of every slice."""
    table = rows(onion)
    axes.set_axis_off()
    if onion.errors == 0:
        axes.text(0.5, 0.5, f"{onion.model}: no errors", ha="center", va="center", transform=axes.transAxes)
        return
    categories = legend(onion.slices)
    colours = [c.colour for c in categories]
    start = {"startangle": 90, "counterclock": False}
    wedges, _ = axes.pie([r["removed"] for r in table], colors=colours, radius=1.0, **start,
                         wedgeprops={"width": 0.3, "edgecolor": "white", "linewidth": 0.6})
    totals = oracle_totals(onion)
    inner = [colours[[r["oracle"] for r in table].index(o)] for o in totals]
    axes.pie(list(totals.values()), colors=inner, radius=0.7, **start, wedgeprops={"edgecolor": "white"})
    name_oracles(axes, totals, onion.errors)
    axes.set_xlim(-1.75, 1.75)
    axes.set_ylim(-1.45, 1.45)
    axes.set_aspect("equal")
    entries = [f"{c.label}: {r['removed']:,} ({r['share']:.1%})" for c, r in zip(categories, table)]
    axes.legend(wedges, entries, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=LEGEND_FONT, frameon=False)
    axes.set_title(f"{onion.model}: {onion.errors:,} errors in {onion.chars:,} characters "
                   f"({onion.errors / onion.chars:.1%})", fontsize=10)


def name_oracles(axes, totals: dict[str, int], errors: int) -> None:
    """Each oracle with errors named outside the ring at its middle, with its share; names on one side are
    pushed apart (at least ``LABEL_GAP``) so that small neighbouring oracles stay readable."""
    placed, done = [], 0
    for oracle, count in totals.items():
        middle = 2 * np.pi * (0.25 - (done + count / 2) / errors)  # clockwise from the top
        done += count
        if count:
            placed.append((oracle, count / errors, np.cos(middle), np.sin(middle)))
    for side in (1, -1):
        mine = sorted((p for p in placed if (p[2] >= 0) == (side > 0)), key=lambda p: -p[3])
        height = 10.0
        for oracle, share, x, y in mine:
            height = min(1.2 * y, height - LABEL_GAP)
            axes.annotate(f"{oracle} {share:.0%}", xy=(x, y), xytext=(1.12 * side, height), fontsize=9,
                          ha="left" if side > 0 else "right", va="center",
                          arrowprops={"arrowstyle": "-", "color": "0.45", "lw": 0.7})
