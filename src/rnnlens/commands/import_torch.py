"""``rnnlens import``: a plain PyTorch character model (its state dict and vocabulary) as an rnnlens run directory.

The model is an input (one-hot, or an ``nn.Embedding``), ``torch.nn.LSTM``,
``GRU`` or ``RNN`` layers (tanh) and a ``Linear`` decoder; its parts are found
by their tensors' names and shapes (see ``models/rnn/import_torch.py``), or
named with ``--map``. Every analysis then reads the run like a trained one.
"""

from __future__ import annotations

import argparse
import json

from rnnlens.commands.common import add_corpus_options, add_reporting, corpus_from_args
from rnnlens.errors import RnnlensError
from rnnlens.models.rnn.import_torch import MAP_PARTS, ONE_HOT, import_run
from rnnlens.models.rnn.predictor import describe


def register(subparsers) -> None:
    parser = subparsers.add_parser("import", description=__doc__,
                                   help="make a run directory of a plain PyTorch LSTM/GRU/RNN character model")
    parser.add_argument("--torch", required=True, metavar="STATE_DICT",
                        help="the file torch.save(model.state_dict(), ...) wrote")
    parser.add_argument("--vocab", required=True, metavar="VOCAB_JSON",
                        help='the model\'s characters in index order: a JSON list ["a", "b", ...] or an object '
                             '{"a": 0, "b": 1, ...}')
    parser.add_argument("--out", required=True, metavar="DIR", help="the run directory to write (new or empty)")
    parser.add_argument("--map", action="append", default=[], metavar="PART=PREFIX",
                        help=f"name a part where shapes cannot tell: input=PREFIX (or input={ONE_HOT}), "
                             "rnn=PREFIX[,PREFIX...] (modules bottom first), decoder=PREFIX")
    add_corpus_options(parser, required=False)
    parser.epilog = ("--dataset or --text names the corpus the model was trained on, so that --split reads its "
                     "splits (its characters must be the model's); without one, score texts with --text")
    add_reporting(parser, "print the imported model's config as one JSON object")
    parser.set_defaults(run=run)


def parse_maps(items: list[str]) -> dict[str, str]:
    """``["rnn=lstm", "decoder=head"]`` -> ``{"rnn": "lstm", "decoder": "head"}``."""
    maps = {}
    for item in items:
        part, sep, prefix = item.partition("=")
        if not sep or part not in MAP_PARTS or not prefix:
            raise RnnlensError(f"--map {item}: give PART=PREFIX with PART one of {', '.join(MAP_PARTS)}")
        maps[part] = prefix
    return maps


def run(args: argparse.Namespace) -> int:
    maps = parse_maps(args.map)
    corpus = corpus_from_args(args) if args.dataset or args.text else None
    config, written = import_run(args.torch, args.vocab, args.out, maps, corpus)
    if args.json:
        print(json.dumps({"out": args.out, "model": config.to_dict(), "parameters": config.parameter_count,
                          "written": written}))
    else:
        print(f"{'wrote' if written else 'already imported, kept'} {args.out}: {describe(config)}, "
              f"{config.parameter_count:,} parameters, {config.vocab_size} characters"
              + ("" if corpus else "; no corpus named, so score texts with --text FILE"))
    return 0
