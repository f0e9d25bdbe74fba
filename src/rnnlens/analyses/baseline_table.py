"""Table 2 of the paper: test losses of n-gram and n-NN models that see only the last n characters.

Row ``n`` holds the modified Kneser-Ney model of order ``n+1`` (``n``
characters of context; the paper's "20-gram" is order 21) and the n-NN on the
last ``n`` characters. Models live in the run directory under names that say
what made them (``ngram-order5/``, ``nnn-n3/``) and are reused when present.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from rnnlens.store import atomic
from rnnlens.models.ngram import kneser_ney as ngram
from rnnlens.models import nnn
from rnnlens.store.runs import CONFIG_FILE, read_config
from rnnlens.data.corpus import Corpus
from rnnlens.errors import RnnlensError
from rnnlens.analyses.evaluation import evaluate
from rnnlens.analyses.result import new_figure, save_figure, write_csv
from rnnlens.training.loop import TrainOptions

NGRAM_CONTEXTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 20)
NNN_CONTEXTS = (1, 2, 3, 4, 5, 6, 7, 8, 9)


@dataclass(frozen=True)
class BaselineRow:
    """One model's loss on the split: ``nats`` and its bootstrap ``std`` in nats/char."""

    family: str  # "n-gram" or "n-NN"
    context: int  # n: characters the model sees
    run_dir: str
    nats: float
    std: float
    chars: int
    detail: str  # "order 5" or "hidden 256"

    @property
    def bits(self) -> float:
        return self.nats / math.log(2)


@dataclass
class BaselineTable:
    """Table 2 for one corpus and split."""

    corpus: str
    split: str
    rows: list[BaselineRow] = field(default_factory=list)

    def lookup(self, family: str, context: int) -> BaselineRow | None:
        return next((r for r in self.rows if r.family == family and r.context == context), None)

    def text(self) -> str:
        """The table as printed: one line per n, nats/char ± bootstrap std."""
        contexts = sorted({r.context for r in self.rows})
        chars = self.rows[0].chars if self.rows else 0
        lines = [f"Table 2: {self.corpus} {self.split} split ({chars:,} characters), nats/char ± bootstrap std",
                 f"{'n':>3}  {'n-gram':>17}  {'n-NN':>17}"]
        for n in contexts:
            cells = []
            for family in ("n-gram", "n-NN"):
                row = self.lookup(family, n)
                cells.append(f"{row.nats:.4f} ± {row.std:.4f}" if row else "-")
            lines.append(f"{n:>3}  {cells[0]:>17}  {cells[1]:>17}")
        return "\n".join(lines)

    def save(self, out_dir: str | os.PathLike) -> list[Path]:
        out_dir = Path(out_dir)
        header = ["family", "context", "nats", "std", "bits", "chars", "detail", "run_dir"]
        rows = [[r.family, r.context, r.nats, r.std, r.bits, r.chars, r.detail, r.run_dir] for r in self.rows]
        paths = [write_csv(out_dir / "table2.csv", header, rows)]
        atomic.write_json(out_dir / "table2.json", {"corpus": self.corpus, "split": self.split, "unit": "nats/char",
                                                    "rows": [{**asdict(r), "bits": r.bits} for r in self.rows]})
        paths.append(out_dir / "table2.json")
        paths.append(save_figure(self.plot(), out_dir / "table2.png"))
        return paths

    def plot(self):
        figure = new_figure(figsize=(5, 3.5))
        axes = figure.add_subplot()
        for family, marker in (("n-gram", "o"), ("n-NN", "s")):
            rows = sorted((r for r in self.rows if r.family == family), key=lambda r: r.context)
            if rows:
                axes.errorbar([r.context for r in rows], [r.nats for r in rows], [r.std for r in rows],
                              marker=marker, label=family, capsize=2)
        axes.set_xlabel("n (characters of context)")
        axes.set_ylabel(f"{self.split} loss (nats/char)")
        axes.set_title(f"{self.corpus}: models that see n characters")
        axes.legend()
        return figure


def _reusable(run_dir: Path, kind: str, corpus: Corpus) -> bool:
    """Whether ``run_dir`` already holds a finished model of ``kind`` trained on ``corpus``."""
    if not (run_dir / CONFIG_FILE).is_file():
        return False
    config = read_config(run_dir)
    if config.get("kind") != kind or config["corpus"]["sha256"] != corpus.sha256 \
            or list(config["corpus"].get("fractions", [])) != list(corpus.fractions):
        raise RnnlensError(f"{run_dir} holds a {config.get('kind')} model of another corpus or split; "
                           "remove it or choose another --out")
    return True


def build_table(corpus: Corpus, out_dir: str | os.PathLike, ngram_contexts: Sequence[int] = NGRAM_CONTEXTS,
                nnn_contexts: Sequence[int] = NNN_CONTEXTS, hidden_sizes: Sequence[int] = nnn.HIDDEN_GRID,
                options: TrainOptions = nnn.DEFAULT_OPTIONS, batch: int = nnn.BATCH, split: str = "test",
                data_dir: str | os.PathLike | None = None, show_progress: bool = False,
                log: Callable[[str], None] = print) -> BaselineTable:
    """Estimate or reuse every model of Table 2 under ``out_dir`` and score it on ``split``."""
    out_dir = Path(out_dir)
    ids = corpus.split_ids(split)
    table = BaselineTable(corpus.name, split)
    jobs = [("n-gram", n, out_dir / f"ngram-order{n + 1}", ngram) for n in ngram_contexts]
    jobs += [("n-NN", n, out_dir / f"nnn-n{n}", nnn) for n in nnn_contexts]
    for family, n, run_dir, module in jobs:
        if _reusable(run_dir, module.KIND, corpus):
            log(f"{run_dir}: reusing" + (" (re-estimating from the corpus)" if module is ngram else ""))
            predictor = module.load(run_dir)
        elif module is ngram:
            predictor, config = ngram.estimate_corpus(corpus, n + 1, show_progress, data_dir)
            ngram.save(run_dir, config)
            log(f"{run_dir}: estimated order {n + 1} in {config['estimate_s']:.1f} s")
        else:
            predictor = nnn.train_run(corpus, n, run_dir, hidden_sizes, options, batch, show_progress, log)
        detail = f"order {n + 1}" if module is ngram else f"hidden {predictor.model.config.hidden_size}"
        result = evaluate(predictor, ids)
        log(f"  {n} characters, {family} ({detail}): {result.line()}")
        table.rows.append(BaselineRow(family, n, str(run_dir), result.nats, result.std, result.chars, detail))
    return table
