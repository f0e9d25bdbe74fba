"""Per-character advantage (the paper's Figure 4 middle and right): which characters one model predicts better.

For every character that occurs as a target of the text (the next
character at some position), how often it does and the mean probability
each of two models A and B gave it there. A character's advantage is
``mean_A - mean_B``; the characters with the largest advantage each way
(A over B, B over A; only characters where the difference has that sign,
optionally only those seen at least ``min_count`` times) are the paper's
bar charts. Whitespace and control characters are labelled as in ARPA
files: ``<sp>``, ``<nl>``, ``<tab>``, ``<U+XXXX>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from rnnlens.analyses.model_set import true_probabilities
from rnnlens.analyses.result import Result
from rnnlens.checks import COUNT
from rnnlens.data.corpus import Vocabulary
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError
from rnnlens.data.spelling import spell
from rnnlens.render.figures import new_figure, save_figure
from rnnlens.store.atomic import write_csv
from rnnlens.store.predictions import Predictions

TOP = 10
COLORS = ("tab:blue", "tab:orange")


@dataclass
class CharAdvantage(Result):
    """``chars`` (those occurring as targets, vocabulary order), their ``counts`` ``(C,)`` and ``means`` ``(2, C)``."""

    name = "advantage"
    models: list[str]
    chars: list[str]
    counts: np.ndarray
    means: np.ndarray
    top: int
    min_count: int
    text: dict

    @property
    def advantage(self) -> np.ndarray:
        """``(C,)`` mean probability under A minus under B."""
        return self.means[0] - self.means[1]

    def best(self, model: int) -> list[int]:
        """Indices of the ``top`` characters where model 0 (A) or 1 (B) leads most, largest lead first.

        Only characters it leads on (a positive difference) seen at least
        ``min_count`` times; ties go to the more frequent character.
        """
        lead = self.advantage if model == 0 else -self.advantage
        order = np.lexsort((-self.counts, -lead))
        return [int(i) for i in order if lead[i] > 0 and self.counts[i] >= self.min_count][:self.top]

    def to_dict(self) -> dict:
        a, b = self.models
        return {"models": self.models, "text": self.text, "top_n": self.top, "min_count": self.min_count,
                "characters": [{"char": c, "label": spell(c), "count": int(n),
                                "mean_prob": {a: float(pa), b: float(pb)}}
                               for c, n, pa, pb in zip(self.chars, self.counts, *self.means)],
                "top": {name: [self.chars[i] for i in self.best(k)] for k, name in enumerate(self.models)}}

    def summary(self) -> str:
        lines = [f"mean p(true char) over {int(self.counts.sum()):,} positions, {len(self.chars)} characters"]
        for k, name in enumerate(self.models):
            other = self.models[1 - k]
            lines += ["", f"{name} over {other}: top {self.top}",
                      f"  {'char':<9} {'count':>9} {name[:10]:>10} {other[:10]:>10} {'diff':>8}"]
            lines += [f"  {spell(self.chars[i]):<9} {int(self.counts[i]):>9,} {self.means[k, i]:>10.4f} "
                      f"{self.means[1 - k, i]:>10.4f} {self.means[k, i] - self.means[1 - k, i]:>+8.4f}"
                      for i in self.best(k)] or ["  (none)"]
        return "\n".join(lines)

    def write_files(self, out: Path) -> None:
        """advantage.csv (every target character), advantage.png and .svg."""
        a, b = self.models
        rows = [[spell(c), ord(c), int(n), float(pa), float(pb), float(pa - pb)]
                for c, n, pa, pb in zip(self.chars, self.counts, *self.means)]
        write_csv(out / "advantage.csv", ["char", "codepoint", "count", f"mean_prob_{a}", f"mean_prob_{b}",
                                          "advantage"], rows)
        figure = self.plot()
        save_figure(figure, out / "advantage.png")
        save_figure(figure, out / "advantage.svg")

    def plot(self):
        """Two panels (A over B, B over A): for each top character, bars of both models' mean probability."""
        figure = new_figure(figsize=(12.0, 4.2))
        for k, ax in enumerate(figure.subplots(1, 2, sharey=True)):
            self._panel(ax, k)
        figure.tight_layout()
        return figure

    def _panel(self, ax, model: int) -> None:
        chosen = self.best(model)
        xs = np.arange(len(chosen))
        for j, name in enumerate(self.models):
            ax.bar(xs + (j - 0.5) * 0.4, self.means[j, chosen], width=0.4, color=COLORS[j], label=name)
        for x, i in zip(xs, chosen):
            lead = self.advantage[i] * (1 if model == 0 else -1)
            ax.text(x, max(self.means[:, i]) + 0.02, f"{lead:+.3f}" if lead >= 0.001 else f"{lead:+.0e}",
                    ha="center", fontsize=7)
        ax.set_xticks(xs, [f"{spell(self.chars[i])}\nn={int(self.counts[i]):,}" for i in chosen], fontsize=8,
                      parse_math=False)
        ax.set_xlim(-0.6, self.top - 0.4)  # bars as wide in both panels, however many characters each has
        ax.set_ylim(0, 1.1)
        ax.set_ylabel("mean p(true char)")
        ax.set_title(f"where {self.models[model]} beats {self.models[1 - model]} most (top {len(chosen)}, "
                     f"difference of means above the bars)"
                     + ("" if chosen else " (no character)"), fontsize=10, parse_math=False)
        ax.legend(fontsize=8, loc="upper right")
        ax.spines[["top", "right"]].set_visible(False)


def char_advantage(predictions: Mapping[str, Predictions], text: Text, vocab: Vocabulary, top: int = TOP,
                   min_count: int = 1) -> CharAdvantage:
    """Count and mean true-char probability per target character of ``text`` under the two models given."""
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
    return CharAdvantage(list(predictions), [vocab.chars[i] for i in present], counts[present], means, top,
                         min_count, identity)
