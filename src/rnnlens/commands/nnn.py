"""``rnnlens nnn``: train an n-NN model (one tanh layer on the last n characters) with the RNNs' optimiser."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields

from rnnlens.analyses.evaluation import evaluate
from rnnlens.checks import COUNT
from rnnlens.commands.common import Stopwatch, add_corpus_options, add_reporting, corpus_from_args, log, show_progress
from rnnlens.commands.train import add_option_flags
from rnnlens.store.outputs import check_model_dir
from rnnlens.models.nnn import HIDDEN_GRID, NNNOptions
from rnnlens.models.registry import fit, load_predictor


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """The n-NN's hidden-size grid and the shared loop's options (minibatch positions included)."""
    parser.add_argument("--hidden", type=COUNT.argparse_type(), nargs="+", default=list(HIDDEN_GRID),
                        help=f"hidden sizes to try; the best on the validation split is kept "
                             f"(default: {' '.join(map(str, HIDDEN_GRID))})")
    add_option_flags(parser, NNNOptions, NNNOptions(device="auto"),
                     help={"seed": "random seed (init, order of the positions)"})


def nnn_spec(args: argparse.Namespace) -> dict:
    """The n-NN options given on the command line (without the context)."""
    given = {f.name: getattr(args, f.name) for f in fields(NNNOptions) if getattr(args, f.name) is not None}
    return {"device": "auto", **given, "hidden_sizes": args.hidden}


def register(subparsers) -> None:
    parser = subparsers.add_parser("nnn", help="train an n-NN model on the last n characters", description=__doc__)
    add_corpus_options(parser)
    parser.add_argument("--context", type=COUNT.argparse_type(), required=True, help="n: characters of context")
    add_training_options(parser)
    parser.add_argument("--out", required=True, help="run directory for config.json and best.safetensors")
    add_reporting(parser, "print the grid and the validation loss as one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    check_model_dir(args.out, "nnn")  # an n-NN run of its own is continued; nothing else is written into
    corpus = corpus_from_args(args)
    log(f"read {corpus.name}: {len(corpus):,} characters, vocabulary {len(corpus.vocab)}; "
        f"train/val {len(corpus.split_ids('train')):,}/{len(corpus.split_ids('val')):,}")
    fit("nnn", {**nnn_spec(args), "context": args.context}, corpus, args.out, log=log, show_progress=show_progress(args))
    predictor = load_predictor(args.out)
    result = evaluate(predictor, corpus.split_ids("val"))
    log(f"chose {predictor.description}; validation loss {result.summary()}")
    log(f"wrote {args.out}/config.json, {args.out}/best.safetensors (each hidden size's run in {args.out}/grid/); "
        f"took {clock}")
    if args.json:
        print(json.dumps({"run": args.out, "model": predictor.description, "validation": result.to_dict()}))
    return 0
