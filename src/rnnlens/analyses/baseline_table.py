"""Table 2 of the paper: test losses of n-gram and n-NN models that see only the last n characters.

Row ``n`` holds the modified Kneser-Ney model of order ``n+1`` (``n``
characters of context; the paper's "20-gram" is order 21) and the n-NN on the
last ``n`` characters. The models are fitted (or reused) by
``rnnlens.models.baselines``; the table scores each through its cached
predictions. Any kind can have rows: the family column is the kind's ``LABEL``.

Each row keeps its loss's interval (bootstrap over positions in blocks), and
for every ``n`` with two or more families the table keeps the paired
interval of each two families' loss difference on the same positions
(``loss_differences``), so that "close" is decided on the pair itself.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np

from rnnlens.analyses.evaluation import Evaluation
from rnnlens.analyses.intervals import RESAMPLES, Interval, difference_interval, mean_interval
from rnnlens.analyses.result import Result
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError
from rnnlens.models import registry
from rnnlens.models.baselines import FittedBaseline
from rnnlens.render.figures import new_figure, save_figure
from rnnlens.store.atomic import write_csv
from rnnlens.store.predictions import predictions_for

@dataclass(frozen=True)
class BaselineRow:
    """One model's loss on the split: ``nats``, its bootstrap ``std`` and its ``interval`` in nats/char."""

    family: str  # the kind's label: "n-gram", "n-NN"
    context: int  # n: characters the model sees
    run_dir: str
    nats: float
    std: float
    chars: int
    detail: str  # the model's description
    interval: Interval

    @property
    def bits(self) -> float:
        return self.nats / math.log(2)

    @classmethod
    def scored(cls, family: str, context: int, run_dir: str, detail: str, log_probs: np.ndarray,
               resamples: int = RESAMPLES) -> "BaselineRow":
        """The row of a model whose ``(N,)`` log-probabilities of the true characters are ``log_probs`` (nats)."""
        loss = Evaluation.from_log_probs(log_probs)
        return cls(family, context, run_dir, loss.nats, loss.std, loss.chars, detail,
                   mean_interval(-np.asarray(log_probs, dtype=np.float64), resamples=resamples))


@dataclass
class BaselineTable(Result):
    """Table 2 for one corpus and split; ``differences`` as ``loss_differences`` gives them."""

    name = "table2"
    corpus: str
    split: str
    rows: list[BaselineRow] = field(default_factory=list)
    differences: list[dict] = field(default_factory=list)

    def lookup(self, family: str, context: int) -> BaselineRow | None:
        return next((r for r in self.rows if r.family == family and r.context == context), None)

    def families(self) -> list[str]:
        return list(dict.fromkeys(r.family for r in self.rows))

    def summary(self) -> str:
        """The table as printed: one line per n, a column per family, nats/char ± bootstrap std."""
        contexts = sorted({r.context for r in self.rows})
        chars = self.rows[0].chars if self.rows else 0
        families = self.families()
        lines = [f"Table 2: {self.corpus} {self.split} split ({chars:,} characters), nats/char ± bootstrap std",
                 f"{'n':>3}" + "".join(f"  {family:>17}" for family in families)]
        for n in contexts:
            cells = [self.lookup(family, n) for family in families]
            lines.append(f"{n:>3}" + "".join(f"  {f'{r.nats:.4f} ± {r.std:.4f}' if r else '-':>17}" for r in cells))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"corpus": self.corpus, "split": self.split, "unit": "nats/char",
                "rows": [{**asdict(r), "bits": r.bits} for r in self.rows], "differences": self.differences}

    def write_files(self, out: Path) -> None:
        """table2.csv and table2.png beside table2.json."""
        header = ["family", "context", "nats", "std", "low", "high", "bits", "chars", "detail", "run_dir"]
        write_csv(out / "table2.csv", header,
                  [[r.family, r.context, r.nats, r.std, r.interval.low, r.interval.high, r.bits, r.chars, r.detail,
                    r.run_dir] for r in self.rows])
        save_figure(self.plot(), out / "table2.png")

    def plot(self):
        figure = new_figure(figsize=(5, 3.5))
        axes = figure.add_subplot()
        for family, marker in zip(self.families(), "os^Dv<>"):
            rows = sorted((r for r in self.rows if r.family == family), key=lambda r: r.context)
            if rows:
                axes.errorbar([r.context for r in rows], [r.nats for r in rows], [r.std for r in rows],
                              marker=marker, label=family, capsize=2)
        axes.set_xlabel("n (characters of context)")
        axes.set_ylabel(f"{self.split} loss (nats/char)")
        axes.set_title(f"{self.corpus}: models that see n characters")
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.legend()
        return figure


def loss_differences(losses: Mapping[tuple[str, int], np.ndarray], resamples: int = RESAMPLES) -> list[dict]:
    """For every ``n`` and every two families with a model seeing ``n`` characters, ``{"context": n,
    "families": [a, b], "loss_difference": Interval dict}``: the mean over positions of ``loss_a - loss_b`` in
    nats/char (negative: ``a`` better), paired. ``losses`` maps ``(family, n)`` to ``(N,)`` per-position losses."""
    keys = list(losses)
    return [{"context": n, "families": [a, b],
             "loss_difference": difference_interval(losses[(a, n)], losses[(b, m)], resamples=resamples).to_dict()}
            for k, (a, n) in enumerate(keys) for b, m in keys[k + 1:] if m == n]


def build_table(corpus_name: str, split: str, text: Text, fitted: Iterable[FittedBaseline],
                log: Callable[[str], None] = print) -> BaselineTable:
    """Score every fitted model of ``fitted`` on ``text`` (the corpus's ``split``) into the table, in order."""
    table = BaselineTable(corpus_name, split)
    losses: dict[tuple[str, int], np.ndarray] = {}
    for model in fitted:
        predictions = predictions_for(model.predictor, text)
        label = registry.kind(model.job.kind).LABEL
        row = BaselineRow.scored(label, model.job.context, str(model.run_dir), model.predictor.description,
                                 predictions.log_probs)
        log(f"  {model.job.context} characters, {label} ({model.predictor.description}): "
            f"{row.interval.words(digits=4, signed=False, unit=' nats/char', cases='characters')}")
        table.rows.append(row)
        losses[(label, model.job.context)] = -np.asarray(predictions.log_probs, dtype=np.float64)
    if not table.rows:
        raise RnnlensError("the table has no rows: ask for at least one model")
    table.differences = loss_differences(losses)
    return table
