"""``rnnlens evaluate``: loss of any model on a split or a text file, with a bootstrap std."""

from __future__ import annotations

import argparse
import json

from rnnlens.analyses.evaluation import evaluate
from rnnlens.models.predictor import load_predictor
from rnnlens.commands.common import Stopwatch, add_text_source, log, text_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="mean loss (nats/char, bits/char) of a model on a text",
                                   description=__doc__)
    parser.add_argument("model_dir", metavar="DIR", help="a model's run directory")
    add_text_source(parser, default_split="test")
    parser.add_argument("--weights", choices=["best", "last"], default="best", help="which checkpoint of a trained network to use")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (for neural models)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    predictor = load_predictor(args.model_dir, weights=args.weights, device=args.device)
    ids, where = text_from_args(args, predictor)
    result = evaluate(predictor, ids)
    if args.json:
        print(json.dumps({**result.to_dict(), "text": where, "model": args.model_dir}))
    else:
        print(f"{args.model_dir} on {where}: {result.line()}")
    log(f"took {clock}")
    return 0

