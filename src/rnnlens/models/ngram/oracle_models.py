"""The n-gram models the onion's n-gram oracle reads: one directory per corpus and split, shared by every
onion of it, each order estimated once (on the corpus's train split) and read lazily.

A directory holds ``ngram-order{N}/`` run directories, as ``rnnlens ngram`` / ``rnnlens baselines`` write
them; the default is ``$XDG_CACHE_HOME/rnnlens/ngrams/CORPUS-SHA-SPLIT/`` (``~/.cache`` without
``XDG_CACHE_HOME``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from rnnlens.data.corpus import Corpus
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError, typed
from rnnlens.models import registry
from rnnlens.models.baselines import finished_baseline, paper_jobs
from rnnlens.store.predictions import predictions_for
from rnnlens.store.runs import read_config


def default_ngram_dir(corpus_spec: dict) -> Path:
    """The shared cache of one corpus and split's n-gram models (see the module docstring)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    fractions = "-".join(f"{f:g}" for f in corpus_spec.get("fractions", []))
    return cache / "rnnlens" / "ngrams" / f"{corpus_spec['name']}-{corpus_spec['sha256'][:12]}-split{fractions}"


class DeferredNgram:
    """A stored n-gram model as ``predictions_for`` sees it: its identity at once, the model itself only when
    its predictions of the text are not cached (loading re-estimates it: orders 2..10 of War and Peace took
    22 s together on a busy machine, most of a warm onion's time)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.identity = registry.identity(run_dir, "ngram", "best")

    def predict_log_probs(self, ids: np.ndarray) -> np.ndarray:
        return registry.load_predictor(self.run_dir).predict_log_probs(ids)


def check_ngram_dir_corpus(ngram_dir: Path, corpus: Corpus, orders: list[int], given: bool) -> None:
    """Refuse n-gram models in ``ngram_dir`` fitted on another corpus or split than the model's, before any is
    read; the advice keeps them (they are another corpus's table) and names a directory for this corpus.
    ``given``: the directory was the user's ``--ngram-dir``, not the default cache."""
    for job in paper_jobs([order - 1 for order in orders], []):
        config_file = ngram_dir / job.name / "config.json"
        if not config_file.is_file():
            continue
        recorded = read_config(config_file.parent)["corpus"]
        if recorded["sha256"] == corpus.sha256 and list(recorded.get("fractions", [])) == list(corpus.fractions):
            continue
        where = "--ngram-dir" if given else "the n-gram cache"
        raise RnnlensError(f"{where} {ngram_dir} holds n-gram models of {recorded.get('name', 'another corpus')} "
                           f"(split {typed(recorded.get('fractions'))}), not of the model's corpus {corpus.name} "
                           f"(split {typed(list(corpus.fractions))}); give --ngram-dir a directory of this corpus's "
                           f"models, or a new one to estimate them into (default: {default_ngram_dir(corpus.spec())})")


def ngram_log_probs(corpus: Corpus, text: Text, orders: list[int], ngram_dir: Path, progress: bool,
                    log: Callable[[str], None] = lambda _: None) -> dict[int, np.ndarray]:
    """Each order's ``(N-1,)`` log-probabilities of ``text``, from ``ngram_dir/ngram-order{N}`` (estimated there
    on ``corpus``'s train split when absent; their predictions are cached as every model's are)."""
    found = {}
    for job in paper_jobs([order - 1 for order in orders], []):
        run_dir = ngram_dir / job.name
        if finished_baseline(run_dir, job.kind, corpus):
            predictor = DeferredNgram(run_dir)
        else:
            started = time.perf_counter()
            predictor = registry.fit(job.kind, job.spec, corpus, run_dir, log=log, show_progress=progress)
            log(f"estimated {run_dir} in {time.perf_counter() - started:.1f} s")
        found[job.spec["order"]] = predictions_for(predictor, text).log_probs
    return found
