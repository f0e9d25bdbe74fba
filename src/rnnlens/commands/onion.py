"""``rnnlens onion``: a model's errors peeled by oracles (the paper's Figure 6), or a small and a big model's.

An error is a character whose probability was below 0.5; the oracles
(n-gram, dynamic memory, rare words, word model, punctuation, boost) each
remove the errors they explain among those still left (see
``rnnlens.analyses.onion``). With two run directories, the second is the
bigger model: per category of the small model's errors, how many the big one
does not make.

The n-gram oracle reads the models in ``--ngram-dir`` (``rnnlens.models.ngram.oracle_models``: by
default a cache shared by every onion of the corpus and split); the orders missing there are
estimated on the model's training split and kept there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnlens.analyses.model_set import common_text
from rnnlens.analyses.onion import (BOOSTS, ORDERS, RARE, WINDOWS, OnionOptions, OnionReport, error_onion,
                                    onion_text, scaling)
from rnnlens.analyses.onion.breakdown import ORDER
from rnnlens.analyses.onion.examples import EXAMPLES
from rnnlens.analyses.onion.words import WORD_MODES
from rnnlens.checks import COUNT, NONNEGATIVE_COUNT, OPEN_FRACTION
from rnnlens.commands.analysis import report
from rnnlens.commands.common import Stopwatch, add_reporting, check_out, log, show_progress
from rnnlens.commands.models import add_models_and_text, models_from_args
from rnnlens.data.corpus import load_corpus_spec
from rnnlens.errors import RnnlensError, typed
from rnnlens.models.ngram.oracle_models import check_ngram_dir_corpus, default_ngram_dir, ngram_log_probs
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


def ngram_dir_from_args(args: argparse.Namespace) -> Path:
    """``--ngram-dir``, or the default for the first model's corpus; refused if it is a file."""
    if args.ngram_dir:
        where = Path(args.ngram_dir)
    else:
        where = default_ngram_dir(read_config(args.model_dirs[0])["corpus"])
    if where.exists() and not where.is_dir():
        raise RnnlensError(f"--ngram-dir {where} is a file; give a directory for the n-gram models")
    return where


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
    ngrams = ngram_log_probs(corpus, models.text, list(options.orders), ngram_dir, show_progress(args), log)
    context = onion_text(first.vocab.decode(models.text.ids), ngrams, corpus.split_text("train"), options)
    onions = [error_onion(name, predictions.log_probs, context, models.predictors[name].description,
                          predictions.model, predictions.text) for name, predictions in models.predictions.items()]
    compared = scaling(*onions) if len(onions) == MAX_MODELS else None
    report(OnionReport(onions, context, models.text.source, compared, args.examples), args)
    log(f"took {clock}")
    return 0
