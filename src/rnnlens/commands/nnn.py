"""``rnnlens nnn``: train an n-NN (one tanh layer on the last n characters) with the RNNs' optimiser."""

from __future__ import annotations

import argparse
from dataclasses import replace

from rnnlens.models.nnn import BATCH, DEFAULT_OPTIONS, HIDDEN_GRID, train_run
from rnnlens.analyses.evaluation import evaluate
from rnnlens.commands.common import Stopwatch, add_corpus_options, corpus_from_args, log
from rnnlens.commands.train import HELP

OPTIONS = ("epochs", "learning_rate", "rmsprop_decay", "lr_decay", "lr_decay_after", "grad_clip", "init_range",
           "patience", "seed")


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """The n-NN's hidden-size grid, minibatch and the RNN protocol's optimiser options."""
    parser.add_argument("--hidden", type=int, nargs="+", default=list(HIDDEN_GRID),
                        help=f"hidden sizes to try; the best on the validation split is kept (default: {HIDDEN_GRID})")
    parser.add_argument("--batch", type=int, default=BATCH, help=f"positions per update (default: {BATCH})")
    for name in OPTIONS:
        default = getattr(DEFAULT_OPTIONS, name)
        parser.add_argument("--" + name.replace("_", "-"), type=type(default), default=default,
                            help=f"{HELP[name]} (default: {default})")


def training_options(args: argparse.Namespace):
    return replace(DEFAULT_OPTIONS, **{name: getattr(args, name) for name in OPTIONS})


def register(subparsers) -> None:
    parser = subparsers.add_parser("nnn", help="train an n-NN on the last n characters", description=__doc__)
    add_corpus_options(parser)
    parser.add_argument("--context", type=int, required=True, help="n: characters of context")
    add_training_options(parser)
    parser.add_argument("--out", required=True, help="run directory for config.json and best.safetensors")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    corpus = corpus_from_args(args)
    log(f"read {corpus.name}: {len(corpus):,} characters, vocabulary {len(corpus.vocab)}; "
        f"train/val {len(corpus.split_ids('train')):,}/{len(corpus.split_ids('val')):,}")
    predictor = train_run(corpus, args.context, args.out, args.hidden, training_options(args), args.batch,
                          show_progress=not args.quiet, log=log)
    log(f"chose hidden size {predictor.model.config.hidden_size}; "
        f"validation loss {evaluate(predictor, corpus.split_ids('val')).line()}")
    log(f"wrote {args.out}/config.json, {args.out}/best.safetensors; took {clock}")
    return 0
