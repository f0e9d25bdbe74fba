"""``rnnlens onion``: a model's errors peeled by oracles (the paper's Figure 6), or a small and a big model's.

An error is a character whose probability was below 0.5; the oracles
(n-gram, dynamic memory, rare words, word model, punctuation, boost) each
remove the errors they explain among those still left (see
``rnnlens.analyses.onion``). With two run directories, the second is the
bigger model: per category of the small model's errors, how many the big one
does not make.

The n-gram oracle reads the models ``rnnlens ngram`` / ``rnnlens baselines``
write, ``NGRAM_DIR/ngram-order{N}/``; the orders missing there are estimated
on the model's training split and kept there. ``NGRAM_DIR`` defaults to
``$XDG_CACHE_HOME/rnnlens/ngrams/CORPUS-SHA-SPLIT/`` (``~/.cache`` without
``XDG_CACHE_HOME``), shared by every onion of that corpus and split.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from rnnlens.analyses.baseline_table import finished_baseline, paper_jobs
from rnnlens.analyses.model_set import common_text
from rnnlens.analyses.onion import (BOOSTS, ORDERS, RARE, WINDOWS, OnionOptions, OnionReport, error_onion,
                                    onion_text, scaling)
from rnnlens.analyses.onion.breakdown import ORDER
from rnnlens.analyses.onion.examples import EXAMPLES
from rnnlens.analyses.onion.words import WORD_MODES
from rnnlens.checks import COUNT, NONNEGATIVE_COUNT, OPEN_FRACTION
from rnnlens.commands.analysis import report
from rnnlens.commands.common import Stopwatch, add_reporting, check_out, log, show_progress, typed
from rnnlens.commands.models import add_models_and_text, models_from_args
from rnnlens.data.corpus import Corpus, load_corpus_spec
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError
from rnnlens.models import registry
from rnnlens.store.predictions import predictions_for
from rnnlens.store.runs import read_config

MAX_MODELS = 2


def register(subparsers) -> None:
    parser = subparsers.add_parser("onion", help="break a model's errors down by oracle (Figure 6)",
                                   description=__doc__)
    add_models_and_text(parser, "a model's run directory, then optionally a bigger model's to compare it with")
    parser.add_argument("--out", required=True, metavar="OUT_DIR",
                        help="where to write onion.json, onion.csv, onion.png, onion.svg, onion.html and the category "
                             "of every position, categories.npy (two models: scaling.csv, categories-small.npy and "
                             "categories-big.npy): a new or empty directory, or an earlier result")
    parser.add_argument("--ngram-dir", metavar="NGRAM_DIR",
                        help="n-gram models as ngram-order{N}/ (a baselines directory works); missing orders are "
                             "estimated into it (default: a cache under $XDG_CACHE_HOME/rnnlens/ngrams/)")
    add_oracle_options(parser)
    parser.add_argument("--examples", type=COUNT.argparse_type(), default=EXAMPLES,
                        help=f"examples per slice on the page (default: {EXAMPLES})")
    add_reporting(parser)
    parser.set_defaults(run=run)


def add_oracle_options(parser: argparse.ArgumentParser) -> None:
    """The oracles' parameters: ``--orders``, ``--windows``, ``--rare``, ``--boosts``, ``--words``."""
    parser.add_argument("--orders", type=ORDER.argparse_type(), nargs="+", default=list(ORDERS), metavar="N",
                        help=f"n-gram orders of the n-gram oracle (default: {typed(list(ORDERS))})")
    parser.add_argument("--windows", type=COUNT.argparse_type(), nargs="+", default=list(WINDOWS), metavar="N",
                        help=f"dynamic memory windows in characters, peeled in this order (default: {typed(WINDOWS)})")
    parser.add_argument("--rare", type=NONNEGATIVE_COUNT.argparse_type(), nargs="+", default=list(RARE), metavar="T",
                        help=f"rare words: at most T occurrences in the training split (default: {typed(RARE)})")
    parser.add_argument("--boosts", type=OPEN_FRACTION.argparse_type(), nargs="+", default=list(BOOSTS), metavar="B",
                        help=f"probability boosts (default: {typed(BOOSTS)})")
    parser.add_argument("--words", choices=WORD_MODES, default="auto",
                        help="prose words (letters and inner apostrophes) or code identifiers; auto: code when "
                             "the training text is C or Python (detected from its lines) (default: auto)")
    parser.add_argument("--whole-words", action="store_true",
                        help="memory: the earlier copy must be a word of its own (default: any substring)")


def default_ngram_dir(corpus_spec: dict) -> Path:
    """The shared cache of one corpus and split's n-gram models (see the module docstring)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    fractions = "-".join(f"{f:g}" for f in corpus_spec.get("fractions", []))
    return cache / "rnnlens" / "ngrams" / f"{corpus_spec['name']}-{corpus_spec['sha256'][:12]}-split{fractions}"


def ngram_dir_from_args(args: argparse.Namespace) -> Path:
    """``--ngram-dir``, or the default for the first model's corpus; refused if it is a file."""
    if args.ngram_dir:
        where = Path(args.ngram_dir)
    else:
        where = default_ngram_dir(read_config(args.model_dirs[0])["corpus"])
    if where.exists() and not where.is_dir():
        raise RnnlensError(f"--ngram-dir {where} is a file; give a directory for the n-gram models")
    return where


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
    read; the advice keeps them (they are another corpus's table) and names a directory for this corpus."""
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


def ngram_log_probs(corpus: Corpus, text: Text, orders: list[int], ngram_dir: Path,
                    progress: bool) -> dict[int, np.ndarray]:
    """Each order's ``(N-1,)`` log-probabilities of ``text``, from ``ngram_dir/ngram-order{N}`` (estimated there
    on ``corpus``'s train split when absent; their predictions are cached as every model's are)."""
    found = {}
    for job in paper_jobs([order - 1 for order in orders], []):
        run_dir = ngram_dir / job.name
        if finished_baseline(run_dir, job.kind, corpus):
            predictor = DeferredNgram(run_dir)
        else:
            clock = Stopwatch()
            predictor = registry.fit(job.kind, job.spec, corpus, run_dir, log=log, show_progress=progress)
            log(f"estimated {run_dir} in {clock}")
        found[job.spec["order"]] = predictions_for(predictor, text).log_probs
    return found


def options_from_args(args: argparse.Namespace) -> OnionOptions:
    return OnionOptions(tuple(args.orders), tuple(args.windows), tuple(args.rare), tuple(args.boosts), args.words,
                        args.whole_words)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    if len(args.model_dirs) > MAX_MODELS:
        raise RnnlensError(f"{len(args.model_dirs)} models given: the onion takes one model, or a small and a big one")
    check_out(args.out, "result")
    options = options_from_args(args)
    ngram_dir = ngram_dir_from_args(args)
    models = models_from_args(args)
    common_text(models.predictions)
    first = next(iter(models.predictors.values()))
    corpus = load_corpus_spec(first.corpus_spec, args.data_dir, fallback_to_environment=True)
    check_ngram_dir_corpus(ngram_dir, corpus, list(options.orders), given=bool(args.ngram_dir))
    log(f"n-gram orders {typed(list(options.orders))} from {ngram_dir}")
    ngrams = ngram_log_probs(corpus, models.text, list(options.orders), ngram_dir, show_progress(args))
    context = onion_text(first.vocab.decode(models.text.ids), ngrams, corpus.split_text("train"), options)
    onions = [error_onion(name, predictions.log_probs, context, models.predictors[name].description,
                          predictions.model, predictions.text) for name, predictions in models.predictions.items()]
    compared = scaling(*onions) if len(onions) == MAX_MODELS else None
    report(OnionReport(onions, context, models.text.source, compared, args.examples), args)
    log(f"took {clock}")
    return 0
