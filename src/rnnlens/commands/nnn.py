"""``rnnlens nnn``: train an n-NN model (one tanh layer on the last n characters) to convergence by validation loss."""

from __future__ import annotations

import argparse
import json

from rnnlens.analyses.evaluation import evaluate
from rnnlens.checks import COUNT
from rnnlens.commands.common import (Stopwatch, add_corpus_options, add_reporting, continued_by_rerunning,
                                     corpus_from_args, log, show_progress)
from rnnlens.commands.training_options import add_training_options, check_record_agrees, nnn_spec, recorded_run
from rnnlens.data.corpus import Corpus
from rnnlens.store.outputs import check_model_dir
from rnnlens.models.registry import fit


def continued_spec(args: argparse.Namespace, corpus: Corpus) -> dict:
    """The spec for --out: as given for a new directory; for an n-NN run there, its recorded options with
    --epochs and --hidden as given, once nothing given contradicts the record (so a grid is never continued
    on other data or with other settings)."""
    spec = {**nnn_spec(args), "context": args.context}
    config = recorded_run(args.out)
    if config is None:
        return spec
    check_record_agrees(config, args.out, args, corpus, args.context, changeable={"epochs", "hidden"})
    return {**config["training"], **spec}


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
    with continued_by_rerunning("nnn"):
        predictor = fit("nnn", continued_spec(args, corpus), corpus, args.out, log=log,
                        show_progress=show_progress(args))
    result = evaluate(predictor, corpus.split_ids("val"))
    log(f"chose {predictor.description}; validation loss {result.summary()}")
    log(f"wrote {args.out}/config.json, {args.out}/best.safetensors (each hidden size's run in {args.out}/grid/); "
        f"took {clock}")
    if args.json:
        print(json.dumps({"run": args.out, "model": predictor.description, "validation": result.to_dict()}))
    return 0
