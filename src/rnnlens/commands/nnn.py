"""``rnnlens nnn``: train an n-NN model (one tanh layer on the last n characters) with the RNNs' optimiser."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

from rnnlens.analyses.evaluation import evaluate
from rnnlens.checks import COUNT
from rnnlens.commands.common import (Stopwatch, add_corpus_options, add_reporting, corpus_from_args, log,
                                     show_progress, typed)
from rnnlens.commands.train import add_option_flags
from rnnlens.data.corpus import Corpus
from rnnlens.errors import RnnlensError
from rnnlens.store.runs import read_config
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


def given_options(args: argparse.Namespace) -> dict:
    return {f.name: getattr(args, f.name) for f in fields(NNNOptions) if getattr(args, f.name) is not None}


def nnn_spec(args: argparse.Namespace) -> dict:
    """The n-NN options given on the command line (without the context)."""
    return {"device": "auto", **given_options(args), "hidden_sizes": args.hidden}


def continued_spec(args: argparse.Namespace, corpus: Corpus) -> dict:
    """The spec for --out: as given for a new directory; for one whose grid has runs, their recorded options
    with --epochs and --hidden as given, after refusing a corpus, split, context or option that contradicts
    the record (so a grid is never continued on other data or with other settings)."""
    spec = {**nnn_spec(args), "context": args.context}
    runs = sorted(Path(args.out).glob("grid/h*/config.json"))
    if not runs:
        return spec
    config = read_config(runs[0].parent)
    recorded = config["corpus"]
    if recorded["sha256"] != corpus.sha256 or list(recorded["fractions"]) != list(corpus.fractions):
        trained = f"--dataset {recorded['dataset']}" if "dataset" in recorded else f"--text {recorded.get('path')}"
        raise RnnlensError(f"{args.out} holds an n-NN grid trained on {trained} with split fractions "
                           f"{typed(recorded['fractions'])}, not on this corpus and split; choose another --out")
    if config["model"]["context"] != args.context:
        raise RnnlensError(f"--context {args.context} contradicts the recorded {config['model']['context']} of "
                           f"the n-NN grid in {args.out}; choose another --out for another n")
    for name, value in given_options(args).items():
        if name != "epochs" and config["training"].get(name) != value:
            raise RnnlensError(f"--{name.replace('_', '-')} {typed(value)} contradicts the recorded "
                               f"{typed(config['training'].get(name))} of the n-NN grid in {args.out}; a continued "
                               "grid keeps its options (only --epochs and --hidden may change)")
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
    fit("nnn", continued_spec(args, corpus), corpus, args.out, log=log, show_progress=show_progress(args))
    predictor = load_predictor(args.out)
    result = evaluate(predictor, corpus.split_ids("val"))
    log(f"chose {predictor.description}; validation loss {result.summary()}")
    log(f"wrote {args.out}/config.json, {args.out}/best.safetensors (each hidden size's run in {args.out}/grid/); "
        f"took {clock}")
    if args.json:
        print(json.dumps({"run": args.out, "model": predictor.description, "validation": result.to_dict()}))
    return 0
