"""How much context a model really uses: its loss when it sees only the last d characters (Khandelwal et al. 2018).

For positions drawn from the text, each model predicts the next character
from the last ``d`` characters alone, for ``d`` on a log grid, beside its
loss with the whole text before it (``full``). The context is cut two ways:

- **replaced** (the ``curve``): the text before the last ``d`` characters is
  replaced by a random span of the same text, so a recurrent state is as
  busy as anywhere in the text but holds nothing true from before;
- **reset** (``curve_reset``): the model starts from its initial state ``d``
  characters back, as at the start of a text.

Models that see a fixed number of characters (an n-gram, an n-NN) give the
same loss both ways, flat beyond their n: a check of the method.

A model's **effective context** is the smallest ``d`` whose loss is surely
within ``WITHIN`` (1%) of its full-context loss: the upper end of the 95%
interval of the excess (paired case bootstrap over positions) lies below
1% of the full loss. Per character class (of the predicted character) the
same curve shows whether ``}`` and ``"`` use more context than letters; rare
classes get extra positions so that each has up to ``CLASS_POSITIONS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlens.analyses.intervals import MIN_COUNT, Interval, difference_interval
from rnnlens.analyses.result import Result
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError
from rnnlens.models.windows import last_log_probs
from rnnlens.render.figures import new_figure, save_figure
from rnnlens.store import atomic

DISTANCES = (1, 2, 3, 5, 8, 13, 20, 32, 50, 80, 128, 200, 320, 500, 800, 1000)
WITHIN = 0.01
CLASS_POSITIONS = 200
CLASSES = {  # the class of the predicted character
    "letter": str.isalpha,
    "digit": str.isdigit,
    "space": lambda c: c == " ",
    "newline": lambda c: c == "\n",
    "closing bracket or quote": lambda c: c in ")]}\"'\u201d\u2019\u00bb>",
}
OTHER = "other"


def character_class(char: str) -> str:
    return next((name for name, test in CLASSES.items() if test(char)), OTHER)


@dataclass
class ModelCurve:
    """One model's losses at the drawn positions: ``full`` ``(P,)`` and per distance both ways ``(D, P)``."""

    name: str
    full: np.ndarray
    replaced: np.ndarray
    reset: np.ndarray


class ContextCurves(Result):
    """Every model's loss against the context it sees, overall and per class of the predicted character."""

    name = "context"

    def __init__(self, curves: list[ModelCurve], distances: list[int], classes: np.ndarray, uniform: np.ndarray,
                 text: dict) -> None:
        self.curves, self.distances, self.classes, self.uniform, self.text = curves, distances, classes, uniform, text

    def effective_context(self, curve: ModelCurve, mask: np.ndarray) -> tuple[int | None, list[Interval]]:
        """The smallest distance surely within ``WITHIN`` of the full loss (None: none is), and each excess."""
        excesses = [difference_interval(row[mask], curve.full[mask], block=1) for row in curve.replaced]
        limit = WITHIN * curve.full[mask].mean()
        return next((d for d, e in zip(self.distances, excesses) if e.high <= limit), None), excesses

    def _model_dict(self, curve: ModelCurve) -> dict:
        effective, excesses = self.effective_context(curve, self.uniform)
        classes = {}
        for name in [*CLASSES, OTHER]:
            mask = self.classes == name
            if mask.sum() >= MIN_COUNT:
                found, _ = self.effective_context(curve, mask)
                classes[name] = {"positions": int(mask.sum()), "full_nats": float(curve.full[mask].mean()),
                                 "effective_context": found,
                                 "curve": [{"distance": d, "nats": float(row[mask].mean())}
                                           for d, row in zip(self.distances, curve.replaced)]}
        u = self.uniform
        return {"name": curve.name, "full_nats": float(curve.full[u].mean()), "effective_context": effective,
                "curve": [{"distance": d, "nats": float(r[u].mean()), "excess": e.to_dict()}
                          for d, r, e in zip(self.distances, curve.replaced, excesses)],
                "curve_reset": [{"distance": d, "nats": float(r[u].mean())} for d, r in zip(self.distances, curve.reset)],
                "classes": classes}

    def to_dict(self) -> dict:
        return {"models": [self._model_dict(c) for c in self.curves], "positions": int(self.uniform.sum()),
                "distances": list(self.distances), "text": self.text,
                "cut": "curve: the text before the last d characters replaced by a random span of the same text; "
                       "curve_reset: the model started from its initial state d characters back",
                "rule": f"effective context: the smallest d whose excess loss over full context (95% CI, paired "
                        f"case bootstrap over positions) lies below {WITHIN:.0%} of the full loss"}

    def summary(self) -> str:
        lines = [f"loss (nats/char) seeing only the last d characters, {int(self.uniform.sum()):,} positions; "
                 "earlier text replaced by a random span (reset: state started d characters back)",
                 f"{'model':>16} {'full':>7} " + " ".join(f"{d:>6}" for d in self.distances) + "  effective"]
        for c in self.curves:
            model = self._model_dict(c)
            lines.append(f"{c.name:>16} {model['full_nats']:7.3f} "
                         + " ".join(f"{p['nats']:6.3f}" for p in model["curve"])
                         + f"  {model['effective_context'] or 'beyond ' + str(self.distances[-1])}")
            lines.append(f"{'(reset)':>16} {'':7} " + " ".join(f"{p['nats']:6.3f}" for p in model["curve_reset"]))
        return "\n".join(lines)

    def write_files(self, out_dir: Path) -> None:
        rows = [[c.name, way, d, float(r[self.uniform].mean())] for c in self.curves
                for way, table in (("replaced", c.replaced), ("reset", c.reset)) for d, r in zip(self.distances, table)]
        atomic.write_csv(out_dir / "context.csv", ["model", "cut", "distance", "nats"], rows)
        save_figure(self.plot(), out_dir / "context.png")

    def plot(self):
        figure = new_figure(figsize=(12, 4.2), layout="constrained")
        left, right = figure.subplots(1, 2)
        for i, c in enumerate(self.curves):
            color = f"C{i}"
            u = self.uniform
            left.plot(self.distances, c.replaced[:, u].mean(1), "o-", color=color, label=f"{c.name}")
            left.plot(self.distances, c.reset[:, u].mean(1), ":", color=color, label=f"{c.name} (reset)")
            left.axhline(c.full[u].mean(), color=color, linewidth=0.8, linestyle="--")
        left.set_xscale("log")
        left.set_xlabel("characters of context seen (d)")
        left.set_ylabel("loss (nats/char)")
        left.set_title("loss against context (dashed: full context)", fontsize=10)
        left.legend(fontsize=7)
        first = self.curves[0]
        for name in [*CLASSES, OTHER]:
            mask = self.classes == name
            if mask.sum() >= MIN_COUNT:
                excess = (first.replaced[:, mask].mean(1) - first.full[mask].mean()) / first.full[mask].mean()
                right.plot(self.distances, 100 * excess, "o-", markersize=3, label=f"{name} ({mask.sum():,})")
        right.axhline(100 * WITHIN, color="0.4", linestyle="--", linewidth=0.8, label="1% of full loss")
        right.set_xscale("log")
        right.set_yscale("symlog", linthresh=1)
        right.set_xlabel("characters of context seen (d)")
        right.set_ylabel("excess loss over full context (%)")
        right.set_title(f"{first.name}: by class of the predicted character", fontsize=10)
        right.legend(fontsize=7)
        return figure


def draw_positions(text: str, count: int, start: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions ``t`` (the last character seen; ``text[t+1]`` is predicted), ``t >= start``: ``count`` drawn
    uniformly, then extra ones of each rare class up to ``CLASS_POSITIONS``; their classes, and which are uniform."""
    rng = np.random.default_rng(seed)
    candidates = np.arange(start, len(text) - 1)
    if len(candidates) < MIN_COUNT:
        raise RnnlensError(f"the text has {len(text):,} characters: too short to see {start + 1:,} characters of "
                           f"context at {MIN_COUNT} positions; give a longer text or smaller --distances")
    uniform = rng.choice(candidates, min(count, len(candidates)), replace=False)
    classes_of = np.array([character_class(text[t + 1]) for t in candidates])
    chosen = set(uniform.tolist())
    extra = []
    for name in [*CLASSES, OTHER]:
        have = sum(classes_of[t - start] == name for t in uniform)
        pool = [t for t in candidates[classes_of == name] if t not in chosen]
        need = min(max(0, CLASS_POSITIONS - have), len(pool))
        extra += rng.choice(pool, need, replace=False).tolist() if need else []
    positions = np.concatenate([uniform, np.array(extra, dtype=np.int64)])
    return positions, classes_of[positions - start], np.arange(len(positions)) < len(uniform)


def context_curves(predictors: dict[str, object], text: Text, chars: str, distances: list[int] = DISTANCES,
                   positions: int = 1000, seed: int = 0,
                   full_log_probs: dict[str, np.ndarray] | None = None) -> ContextCurves:
    """The curves of every predictor (by name) over ``text`` (its ids; ``chars`` the decoded text);
    ``full_log_probs`` the predictors' log-probabilities over the whole text where known (else computed)."""
    distances = sorted(set(int(d) for d in distances))
    widest = distances[-1]
    at, classes, uniform = draw_positions(chars, positions, widest - 1, seed)
    ids = np.asarray(text.ids, dtype=np.int64)
    rng = np.random.default_rng(seed + 1)
    spans = rng.integers(0, len(ids) - widest, size=len(at))  # where each position's replacement text starts
    curves = []
    for name, predictor in predictors.items():
        whole = (full_log_probs or {}).get(name)
        full = -(whole if whole is not None else predictor.predict_log_probs(ids))[at]
        replaced, reset = [], []
        for d in distances:
            true = ids[at[:, None] + np.arange(-d + 1, 2)]  # the last d characters and the one predicted
            filler = ids[spans[:, None] + np.arange(widest - d)]
            reset.append(-last_log_probs(predictor, true))
            replaced.append(-last_log_probs(predictor, np.concatenate([filler, true], axis=1)))
        curves.append(ModelCurve(name, full, np.array(replaced), np.array(reset)))
    return ContextCurves(curves, distances, classes, uniform, text.identity())
