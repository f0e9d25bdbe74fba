"""Table 2 of the paper: test losses of n-gram and n-NN models that see only the last n characters.

Row ``n`` holds the modified Kneser-Ney model of order ``n+1`` (``n``
characters of context; the paper's "20-gram" is order 21) and the n-NN on the
last ``n`` characters. Each model is a ``BaselineJob``: a registered kind, a
spec and a directory name that says what made it (``ngram-order5/``,
``nnn-n3/``); the table fits the missing ones through the registry, reuses
the rest, and scores each through its cached predictions. Any kind can have
rows: the family column is the kind's ``LABEL``.

Each row keeps its loss's interval (bootstrap over positions in blocks), and
for every ``n`` with two or more families the table keeps the paired
interval of each two families' loss difference on the same positions
(``loss_differences``), so that "close" is decided on the pair itself.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from rnnlens.analyses.evaluation import Evaluation
from rnnlens.analyses.intervals import RESAMPLES, Interval, difference_interval, mean_interval
from rnnlens.analyses.result import Result
from rnnlens.data.corpus import Corpus
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError
from rnnlens.models import registry
from rnnlens.render.figures import new_figure, save_figure
from rnnlens.store.atomic import write_csv
from rnnlens.store.predictions import predictions_for
from rnnlens.store.runs import CONFIG_FILE, read_config

NGRAM_CONTEXTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 20)
NNN_CONTEXTS = (1, 2, 3, 4, 5, 6, 7, 8, 9)


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


@dataclass(frozen=True)
class BaselineJob:
    """One model of the table: its kind, spec, characters of context and directory name."""

    kind: str
    spec: dict
    context: int
    name: str


def paper_jobs(ngram_contexts: Sequence[int] = NGRAM_CONTEXTS, nnn_contexts: Sequence[int] = NNN_CONTEXTS,
               nnn_spec: dict | None = None) -> list[BaselineJob]:
    """The paper's rows: an order-(n+1) n-gram per n of ``ngram_contexts``, an n-NN per n of ``nnn_contexts``."""
    jobs = [BaselineJob("ngram", {"order": n + 1}, n, f"ngram-order{n + 1}") for n in ngram_contexts]
    return jobs + [BaselineJob("nnn", {**(nnn_spec or {}), "context": n}, n, f"nnn-n{n}") for n in nnn_contexts]


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


def finished_baseline(run_dir: Path, kind: str, corpus: Corpus) -> bool:
    """Whether ``run_dir`` already holds a finished model of ``kind`` fitted on ``corpus``."""
    if not (run_dir / CONFIG_FILE).is_file():
        return False
    config = read_config(run_dir)
    if config.get("kind") != kind or config["corpus"]["sha256"] != corpus.sha256 \
            or list(config["corpus"].get("fractions", [])) != list(corpus.fractions):
        raise RnnlensError(f"{run_dir} holds a {config.get('kind')} model of another corpus or split; "
                           "remove it or choose another output directory")
    return True


def build_table(corpus: Corpus, out_dir: str | os.PathLike, jobs: Sequence[BaselineJob] | None = None,
                split: str = "test", show_progress: bool = False,
                log: Callable[[str], None] = print) -> BaselineTable:
    """Fit or reuse every model of ``jobs`` (default ``paper_jobs()``) under ``out_dir`` and score it on ``split``."""
    jobs = paper_jobs() if jobs is None else list(jobs)
    if not jobs:
        raise RnnlensError("the table has no rows: ask for at least one model")
    out_dir = Path(out_dir)
    text = Text(corpus.split_ids(split), f"{corpus.name} {split} split")
    table = BaselineTable(corpus.name, split)
    losses: dict[tuple[str, int], np.ndarray] = {}
    for job in jobs:
        run_dir = out_dir / job.name
        if finished_baseline(run_dir, job.kind, corpus):
            log(f"{run_dir}: reusing")
            predictor = registry.load_predictor(run_dir)
        else:
            predictor = registry.fit(job.kind, job.spec, corpus, run_dir, log=log, show_progress=show_progress)
            log(f"{run_dir}: fitted")
        predictions = predictions_for(predictor, text)
        label = registry.kind(job.kind).LABEL
        row = BaselineRow.scored(label, job.context, str(run_dir), predictor.description, predictions.log_probs)
        log(f"  {job.context} characters, {label} ({predictor.description}): "
            f"{row.interval.words(digits=4, signed=False, unit=' nats/char', cases='characters')}")
        table.rows.append(row)
        losses[(label, job.context)] = -np.asarray(predictions.log_probs, dtype=np.float64)
    table.differences = loss_differences(losses)
    return table
