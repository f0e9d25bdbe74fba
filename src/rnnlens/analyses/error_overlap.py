"""Error overlap (the paper's Figure 4 left): where several models err, and which of them err together.

A model errs at a position when the probability it gave the true next
character is below a threshold (0.5, as in the paper). Every position where
at least one model errs falls in exactly one region: the set of models that
err there. The result counts every non-empty combination of models (for
three models the seven regions of a Venn diagram), each with its share of
the positions where any model errs and of all positions.

The share of the error positions (where any model errs) that are errors of
two or more models (``shared``) comes with a bootstrap interval over the
error positions in text order, in blocks of ``intervals.BLOCK``: errors come
in runs (a rare word, a name), and a binomial interval would take each for
an independent draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Mapping

import numpy as np

from rnnlens.analyses.intervals import RESAMPLES, Interval, mean_interval
from rnnlens.analyses.model_set import true_probabilities
from rnnlens.analyses.result import Result
from rnnlens.checks import OPEN_FRACTION
from rnnlens.errors import RnnlensError
from rnnlens.render.figures import save_figure
from rnnlens.render.venn import combinations_figure
from rnnlens.store.atomic import write_csv
from rnnlens.store.predictions import Predictions

THRESHOLD = 0.5
MOST_MODELS = 12  # 2**12 - 1 = 4,095 regions; more would make a table nobody reads


def region_counts(wrong: np.ndarray) -> np.ndarray:
    """``(2**M,)`` counts of positions by the set of models that err, from ``wrong`` ``(M, N)`` booleans.

    Entry ``k`` counts the positions where exactly the models whose bits are
    set in ``k`` err (bit ``i``: model ``i``); entry 0 counts those where none does.
    """
    bits = np.left_shift(1, np.arange(len(wrong), dtype=np.int64))[:, None]
    return np.bincount((wrong.astype(np.int64) * bits).sum(axis=0), minlength=2 ** len(wrong))


@dataclass
class ErrorOverlap(Result):
    """Errors per model and per combination of models (every non-empty one, by size then model order)."""

    name = "overlap"
    models: list[str]
    threshold: float
    chars: int
    errors: dict[str, int]
    regions: list[tuple[tuple[str, ...], int]]
    text: dict
    shared: Interval  # share of the error positions where two or more models err

    @property
    def any_error(self) -> int:
        """Positions where at least one model errs (the sum over the regions)."""
        return sum(count for _, count in self.regions)

    def share(self, count: int) -> float:
        """``count`` as a fraction of the positions where any model errs."""
        return count / self.any_error if self.any_error else 0.0

    def to_dict(self) -> dict:
        return {"models": self.models, "threshold": self.threshold, "chars": self.chars, "errors": self.errors,
                "any_error": self.any_error, "text": self.text, "shared": self.shared.to_dict(),
                "regions": [{"models": list(members), "count": count, "share": self.share(count),
                             "share_of_chars": count / self.chars} for members, count in self.regions]}

    def summary(self) -> str:
        width = max(len("models that err"), *(len(self.region_name(m)) for m, _ in self.regions)) + 2
        lines = [f"errors: p(true char) < {self.threshold:g} over {self.chars:,} characters"]
        lines += [f"  {name:<{width}} {count:>10,} ({100 * count / self.chars:.1f}% of chars)"
                  for name, count in self.errors.items()]
        lines += ["", f"  {'models that err':<{width}} {'count':>10} {'% errors':>9} {'% chars':>8}",
                  "  " + "-" * (width + 30)]
        lines += [f"  {self.region_name(members):<{width}} {count:>10,} {100 * self.share(count):>8.1f}% "
                  f"{100 * count / self.chars:>7.1f}%" for members, count in self.regions]
        lines.append(f"  {'any':<{width}} {self.any_error:>10,} {100.0 if self.any_error else 0.0:>8.1f}% "
                     f"{100 * self.any_error / self.chars:>7.1f}%")
        shared = self.shared
        lines += ["", f"errors of two or more models: {100 * shared.estimate:.1f}% of the error positions "
                      f"(95% interval {100 * shared.low:.1f}% to {100 * shared.high:.1f}%, {shared.method})"]
        return "\n".join(lines)

    def region_name(self, members: tuple[str, ...]) -> str:
        if len(members) == 1:
            return f"{members[0]} only"
        return "all" if len(members) == len(self.models) else " & ".join(members)

    def write_files(self, out: Path) -> None:
        """overlap.csv (one row per region, a 0/1 column per model), overlap.png and .svg."""
        rows = [[self.region_name(members), *(int(m in members) for m in self.models), count, self.share(count),
                 count / self.chars] for members, count in self.regions]
        write_csv(out / "overlap.csv", ["region", *self.models, "count", "share", "share_of_chars"], rows)
        figure = self.plot()
        save_figure(figure, out / "overlap.png")
        save_figure(figure, out / "overlap.svg")

    def plot(self):
        """A Venn diagram for 2 or 3 models, an UpSet chart for more; shares are of the positions with an error."""
        title = (f"errors (p(true char) < {self.threshold:g}) over {self.chars:,} characters: count and % of the "
                 f"{self.any_error:,} ({100 * self.any_error / self.chars:.1f}%) where any model errs")
        totals = [f"{self.errors[m]:,} errors" for m in self.models]
        return combinations_figure(self.models, dict(self.regions), title, totals)


def error_overlap(predictions: Mapping[str, Predictions], threshold: float = THRESHOLD,
                  resamples: int = RESAMPLES) -> ErrorOverlap:
    """Count every combination of models that err (true char probability < ``threshold``) over one text;
    ``resamples``: of the shared errors' bootstrap."""
    OPEN_FRACTION.check("threshold", threshold)
    if len(predictions) > MOST_MODELS:
        raise RnnlensError(f"{len(predictions)} models give {2 ** len(predictions) - 1:,} combinations: "
                           f"compare at most {MOST_MODELS} at once")
    text, probs = true_probabilities(predictions, at_least=2)
    names = list(predictions)
    wrong = probs < threshold
    counts = region_counts(wrong)
    regions = [(tuple(names[i] for i in members), int(counts[sum(1 << i for i in members)]))
               for size in range(1, len(names) + 1) for members in combinations(range(len(names)), size)]
    erring = wrong.sum(axis=0)
    shared = mean_interval(erring[erring > 0] >= 2, resamples=resamples, what="error positions")
    return ErrorOverlap(names, threshold, probs.shape[1], dict(zip(names, map(int, wrong.sum(axis=1)))), regions,
                        text, shared)
