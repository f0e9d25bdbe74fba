"""Per-character advantage (the paper's Figure 4 middle and right): which characters one model predicts better.

For every character that occurs as a target of the text (the next
character at some position), how often it does and the mean probability
each of two models A and B gave it there. A character's advantage is the
mean over its occurrences of ``p_A - p_B``, with a bootstrap interval over
those occurrences (a character's occurrences lie far apart: case by case).

The characters where A leads most (the paper's bar charts, and the same
for B) are those seen at least ``min_count`` times (never fewer than
``MIN_COUNT``) whose interval lies wholly on that model's side of zero,
ranked by the interval's near end: the lead the character surely has, so a
large lead seen on a handful of occurrences does not outrank a smaller one
seen on thousands.

Beside them, ``loss_difference``: the mean over all positions of
``(-ln p_A) - (-ln p_B)`` in nats/char, with a paired bootstrap interval in
blocks of positions (negative: A predicts better). Whitespace and control
characters are labelled as in ARPA files: ``<sp>``, ``<nl>``, ``<tab>``,
``<U+XXXX>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from rnnlens.analyses.intervals import LEVEL, MIN_COUNT, RESAMPLES, Interval, difference_interval, mean_interval
from rnnlens.analyses.model_set import true_probabilities
from rnnlens.analyses.result import Result
from rnnlens.checks import COUNT
from rnnlens.data.corpus import Vocabulary
from rnnlens.data.spelling import spell
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError
from rnnlens.render.figures import new_figure, save_figure
from rnnlens.store.atomic import write_csv
from rnnlens.store.predictions import Predictions

TOP = 10
COLORS = ("tab:blue", "tab:orange")


@dataclass
class CharAdvantage(Result):
    """``chars`` (those occurring as targets, vocabulary order), their ``counts`` ``(C,)``, ``means`` ``(2, C)``
    and ``intervals`` (C of them: the advantage ``p_A - p_B`` of each); ``loss_difference`` over all positions."""

    name = "advantage"
    models: list[str]
    chars: list[str]
    counts: np.ndarray
    means: np.ndarray
    intervals: list[Interval]
    loss_difference: Interval
    top: int
    min_count: int
    text: dict

    @property
    def advantage(self) -> np.ndarray:
        """``(C,)`` mean probability under A minus under B."""
        return self.means[0] - self.means[1]

    def sure_lead(self, model: int) -> np.ndarray:
        """``(C,)`` the lead of model 0 (A) or 1 (B) that each character's interval assures: the interval's near
        end (A: its low end; B: minus its high end), positive only where the interval excludes zero."""
        if model == 0:
            return np.array([i.low for i in self.intervals])
        return -np.array([i.high for i in self.intervals])

    def best(self, model: int) -> list[int]:
        """Indices of the ``top`` characters where model 0 (A) or 1 (B) leads most, surest lead first.

        Only characters seen at least ``min_count`` times whose interval lies
        wholly on that model's side; ties go to the more frequent character.
        """
        sure = self.sure_lead(model)
        order = np.lexsort((-self.counts, -sure))
        return [int(i) for i in order if sure[i] > 0 and self.counts[i] >= self.min_count][:self.top]

    def rule(self) -> str:
        """How the top characters are chosen, in words."""
        return (f"characters seen at least {self.min_count:,} times whose {round(100 * LEVEL)}% interval "
                "of the advantage (bootstrap over their occurrences) excludes 0, ranked by the interval's end "
                "nearest 0")

    def to_dict(self) -> dict:
        a, b = self.models
        return {"models": self.models, "text": self.text, "top_n": self.top, "min_count": self.min_count,
                "top_rule": self.rule(), "loss_difference": self.loss_difference.to_dict(),
                "characters": [{"char": c, "label": spell(c), "count": int(n),
                                "mean_prob": {a: float(pa), b: float(pb)}, "advantage": interval.to_dict()}
                               for c, n, pa, pb, interval in zip(self.chars, self.counts, *self.means,
                                                                 self.intervals)],
                "top": {name: [self.chars[i] for i in self.best(k)] for k, name in enumerate(self.models)}}

    def summary(self) -> str:
        a, b = self.models
        lines = [f"mean p(true char) over {int(self.counts.sum()):,} positions, {len(self.chars)} characters; "
                 f"loss of {a} minus {b}: {self.loss_difference.words(unit=' nats/char', cases='positions')}",
                 f"top: {self.rule()}"]
        for k, name in enumerate(self.models):
            other = self.models[1 - k]
            lines += ["", f"{name} over {other}: top {self.top}",
                      f"  {'char':<9} {'count':>9} {name[:10]:>10} {other[:10]:>10} {'lead':>8}  95% CI"]
            chosen = self.best(k)
            for i in chosen:
                sign = 1 if k == 0 else -1
                low, high = sorted((sign * self.intervals[i].low, sign * self.intervals[i].high))
                lines.append(f"  {spell(self.chars[i]):<9} {int(self.counts[i]):>9,} {self.means[k, i]:>10.4f} "
                             f"{self.means[1 - k, i]:>10.4f} {sign * self.advantage[i]:>+8.4f}  "
                             f"[{low:+.4f}, {high:+.4f}]")
            if not chosen:
                lines.append("  (none)")
        return "\n".join(lines)

    def write_files(self, out: Path) -> None:
        """advantage.csv (every target character), advantage.png and .svg."""
        a, b = self.models
        rows = [[spell(c), ord(c), int(n), float(pa), float(pb), float(pa - pb), i.low, i.high]
                for c, n, pa, pb, i in zip(self.chars, self.counts, *self.means, self.intervals)]
        write_csv(out / "advantage.csv", ["char", "codepoint", "count", f"mean_prob_{a}", f"mean_prob_{b}",
                                          "advantage", "ci_low", "ci_high"], rows)
        figure = self.plot()
        save_figure(figure, out / "advantage.png")
        save_figure(figure, out / "advantage.svg")

    def plot(self):
        """Two panels (A over B, B over A): for each top character, bars of both models' mean probability."""
        figure = new_figure(figsize=(12.0, 4.8))
        for k, ax in enumerate(figure.subplots(1, 2, sharey=True)):
            self._panel(ax, k)
        figure.suptitle(f"top: {self.rule()}\n"
                        "above the bars: the lead in mean p, then (≥) its interval's end nearest 0",
                        fontsize=9, parse_math=False)
        figure.tight_layout()
        return figure

    def _panel(self, ax, model: int) -> None:
        chosen = self.best(model)
        xs = np.arange(len(chosen))
        for j, name in enumerate(self.models):
            ax.bar(xs + (j - 0.5) * 0.4, self.means[j, chosen], width=0.4, color=COLORS[j], label=name)
        sure = self.sure_lead(model)
        for x, i in zip(xs, chosen):
            lead = self.advantage[i] * (1 if model == 0 else -1)
            ax.text(x, max(self.means[:, i]) + 0.02, f"{lead:+.3f}\n≥{sure[i]:+.3f}", ha="center", fontsize=7)
        ax.set_xticks(xs, [f"{spell(self.chars[i])}\nn={int(self.counts[i]):,}" for i in chosen], fontsize=7,
                      parse_math=False)
        ax.set_xlim(-0.6, self.top - 0.4)  # bars as wide in both panels, however many characters each has
        ax.set_ylim(0, 1.15)
        ax.set_ylabel("mean p(true char)")
        ax.set_title(f"where {self.models[model]} beats {self.models[1 - model]}\n(top {len(chosen)}"
                     + (")" if chosen else ": no character)"), fontsize=10, parse_math=False)
        if chosen:  # an empty panel's legend would show bars of no colour
            ax.legend(fontsize=8, loc="upper right")
        ax.spines[["top", "right"]].set_visible(False)


def char_advantage(predictions: Mapping[str, Predictions], text: Text, vocab: Vocabulary, top: int = TOP,
                   min_count: int = MIN_COUNT, resamples: int = RESAMPLES) -> CharAdvantage:
    """Count, mean true-char probability and advantage interval per target character of ``text`` under the two
    models given, and the paired interval of their loss difference. ``min_count`` below ``MIN_COUNT`` is raised
    to it: a character seen fewer times never makes the top lists."""
    COUNT.check("top", top)
    COUNT.check("min_count", min_count)
    if len(predictions) != 2:
        raise RnnlensError(f"{len(predictions)} models given: the advantage compares exactly two, A and B")
    identity, probs = true_probabilities(predictions, at_least=2)
    if identity["ids_sha256"] != text.sha256:
        raise RnnlensError(f"the predictions are of {identity['source']}, not of {text.source}: give the text "
                           "they were computed on")
    targets = np.asarray(text.ids[1:], np.int64)
    counts = np.bincount(targets, minlength=len(vocab))
    present = np.flatnonzero(counts)
    sums = np.stack([np.bincount(targets, weights=p, minlength=len(vocab)) for p in probs])
    means = sums[:, present] / counts[present]
    order = np.argsort(targets, kind="stable")
    by_char = np.split((probs[0] - probs[1])[order], np.cumsum(counts[present])[:-1])
    intervals = [mean_interval(d, block=1, resamples=resamples, what="occurrences") for d in by_char]
    losses = -np.log(probs)
    loss_difference = difference_interval(losses[0], losses[1], resamples=resamples)
    return CharAdvantage(list(predictions), [vocab.chars[i] for i in present], counts[present], means, intervals,
                         loss_difference, top, max(min_count, MIN_COUNT), identity)
