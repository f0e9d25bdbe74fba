"""Per-character scores of a text, as KenLM's ``query`` gives them: each character's log-probability, rank and
the model's likeliest character, with the same totals as ``evaluate``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnlens.analyses.evaluation import Evaluation
from rnnlens.data.corpus import Vocabulary
from rnnlens.data.spelling import spell
from rnnlens.data.texts import Text
from rnnlens.models.predictor import Predictor
from rnnlens.store import atomic
from rnnlens.store.predictions import Predictions, predictions_for

COLUMNS = ("position", "char", "log_prob", "log2_prob", "rank", "argmax")


@dataclass(frozen=True)
class Scores(Evaluation):
    """``evaluate``'s totals plus one row per predicted character (positions ``1..N-1`` of an ``N``-character text).

    ``chars`` ``(N-1,)`` str: the true characters; ``log_probs`` ``(N-1,)`` float64 nats; ``ranks`` ``(N-1,)``
    int: 1 + how many characters the model gave a higher probability (1: the true character was the argmax);
    ``argmax`` ``(N-1,)`` str: the likeliest character (the first of equals).
    """

    chars_scored: tuple[str, ...] = ()
    log_probs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ranks: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    argmax: tuple[str, ...] = ()

    name = "scores"

    def rows(self) -> list[tuple]:
        """``COLUMNS`` per predicted character: position in the text, character, nats, bits, rank, argmax."""
        bits = self.log_probs / math.log(2)
        return [(t + 1, c, float(lp), float(b), int(r), a) for t, (c, lp, b, r, a)
                in enumerate(zip(self.chars_scored, self.log_probs, bits, self.ranks, self.argmax))]

    def to_dict(self) -> dict:
        characters = [dict(zip(COLUMNS[1:], row[1:])) for row in self.rows()]
        return {**super().to_dict(), "characters": characters}

    def table(self) -> str:
        """One line per character: position, character (spelled: ``<sp>``, ``<nl>``), nats, bits, rank, argmax."""
        lines = [f"{'position':>9} {'char':>6} {'nats':>9} {'bits':>9} {'rank':>5} {'argmax':>6}"]
        lines += [f"{pos:>9} {spell(c):>6} {lp:>9.4f} {b:>9.4f} {r:>5} {spell(a):>6}"
                  for pos, c, lp, b, r, a in self.rows()]
        return "\n".join(lines)

    def write_files(self, out_dir: Path) -> None:
        atomic.write_csv(out_dir / f"{self.name}.csv", COLUMNS, self.rows())


def scores_of(predictions: Predictions, vocab: Vocabulary, ids: np.ndarray) -> Scores:
    """Per-character scores from predictions holding their distributions ``(N-1, V)`` over the ids ``(N,)``."""
    probs = np.asarray(predictions.distributions)
    targets = np.asarray(ids[1:], dtype=np.int64)
    true_probs = probs[np.arange(len(targets)), targets]
    ranks = (probs > true_probs[:, None]).sum(axis=1) + 1
    totals = Evaluation.from_log_probs(predictions.log_probs, predictions.model, predictions.text)
    return Scores(nats=totals.nats, std=totals.std, chars=totals.chars, model=totals.model, text=totals.text,
                  chars_scored=tuple(vocab.chars[i] for i in targets), log_probs=np.asarray(predictions.log_probs),
                  ranks=ranks, argmax=tuple(vocab.chars[i] for i in probs.argmax(axis=1)))


def score(predictor: Predictor, text: Text) -> Scores:
    """Score every next character of ``text`` (``N`` characters give ``N-1`` rows) with any predictor; the
    predictions come from (and go to) the run's cache, as ``evaluate``'s do."""
    return scores_of(predictions_for(predictor, text, distributions=True), predictor.vocab, text.ids)
