"""The models of Table 2: n-gram and n-NN models that see only the last n characters, fitted once.

Each model is a ``BaselineJob``: a registered kind, a spec and a directory
name that says what made it (``ngram-order5/``, ``nnn-n3/``). ``fit_baselines``
fits the missing ones through the registry and reuses the rest; the table
itself is an analysis of their predictions (``analyses.baseline_table``), and
the onion's n-gram oracle reads the same directories
(``models.ngram.oracle_models``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from rnnlens.data.corpus import Corpus
from rnnlens.errors import RnnlensError
from rnnlens.models import registry
from rnnlens.models.predictor import Predictor
from rnnlens.store.runs import CONFIG_FILE, read_config

NGRAM_CONTEXTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 20)
NNN_CONTEXTS = (1, 2, 3, 4, 5, 6, 7, 8, 9)


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


@dataclass(frozen=True)
class FittedBaseline:
    """A job's model, fitted or reused, in its run directory."""

    job: BaselineJob
    run_dir: Path
    predictor: Predictor


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


def fit_baselines(corpus: Corpus, out_dir: str | Path, jobs: Sequence[BaselineJob], show_progress: bool = False,
                  log: Callable[[str], None] = print) -> Iterator[FittedBaseline]:
    """Each job's model under ``out_dir/NAME``, fitted on ``corpus`` or reused when already there, in order."""
    for job in jobs:
        run_dir = Path(out_dir) / job.name
        if finished_baseline(run_dir, job.kind, corpus):
            log(f"{run_dir}: reusing")
            predictor = registry.load_predictor(run_dir)
        else:
            predictor = registry.fit(job.kind, job.spec, corpus, run_dir, log=log, show_progress=show_progress)
            log(f"{run_dir}: fitted")
        yield FittedBaseline(job, run_dir, predictor)
