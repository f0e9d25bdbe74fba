"""``rnnlens nnn``: train an n-NN model (one tanh layer on the last n characters) with the RNNs' optimiser."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

from rnnlens.analyses.evaluation import evaluate
from rnnlens.checks import COUNT
from rnnlens.commands.common import (Stopwatch, add_corpus_options, add_reporting, continued_by_rerunning,
                                     corpus_from_args, log, show_progress, typed)
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


def recorded_run(out_dir: str | Path) -> dict | None:
    """The config of the n-NN run in ``out_dir``: its ``config.json`` once finished, else its first grid run's."""
    out = Path(out_dir)
    if (out / "config.json").is_file():
        return read_config(out)
    runs = sorted(out.glob("grid/h*/config.json"))
    return read_config(runs[0].parent) if runs else None


def check_record_agrees(config: dict, where: str, args: argparse.Namespace, corpus: Corpus, context: int,
                        changeable: set[str]) -> None:
    """Refuse to go on with the n-NN run recorded in ``config`` (at ``where``) on another corpus or split, with
    another context, or with an option given on the command line (other than ``changeable``) that contradicts
    its record; each error names both values."""
    recorded = config["corpus"]
    if recorded["sha256"] != corpus.sha256 or list(recorded["fractions"]) != list(corpus.fractions):
        trained = f"--dataset {recorded['dataset']}" if "dataset" in recorded else f"--text {recorded.get('path')}"
        raise RnnlensError(f"{where} holds an n-NN model trained on {trained} with split fractions "
                           f"{typed(recorded['fractions'])}, not on this corpus and split; choose another --out")
    if config["model"]["context"] != context:
        raise RnnlensError(f"--context {context} contradicts the recorded {config['model']['context']} of the "
                           f"n-NN model in {where}; choose another --out for another n")
    keeps = f"only {' and '.join(f'--{name}' for name in sorted(changeable))} may change" if changeable else \
        "remove it or choose another --out to change them"
    for name, value in given_options(args).items():
        if name not in changeable and config["training"].get(name) != value:
            raise RnnlensError(f"--{name.replace('_', '-')} {typed(value)} contradicts the recorded "
                               f"{typed(config['training'].get(name))} of the n-NN model in {where}; it keeps its "
                               f"options ({keeps})")


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
        fit("nnn", continued_spec(args, corpus), corpus, args.out, log=log, show_progress=show_progress(args))
    predictor = load_predictor(args.out)
    result = evaluate(predictor, corpus.split_ids("val"))
    log(f"chose {predictor.description}; validation loss {result.summary()}")
    log(f"wrote {args.out}/config.json, {args.out}/best.safetensors (each hidden size's run in {args.out}/grid/); "
        f"took {clock}")
    if args.json:
        print(json.dumps({"run": args.out, "model": predictor.description, "validation": result.to_dict()}))
    return 0
