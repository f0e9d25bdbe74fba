"""``rnnlens evaluate``: loss of any model on a split or a text file, with a bootstrap std."""

from __future__ import annotations

import argparse
import json

from rnnlens.analyses.evaluation import Evaluation
from rnnlens.commands.common import Stopwatch, add_model_and_text, add_reporting, log, text_from_args
from rnnlens.models.registry import load_predictor
from rnnlens.store.predictions import predictions_for


def register(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="mean loss (nats/char, bits/char) of a model on a text",
                                   description=__doc__)
    add_model_and_text(parser, "a model's run directory")
    add_reporting(parser, "print one JSON object on stdout", quiet_help="nothing on stderr but errors (no time taken)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    predictor = load_predictor(args.model_dir, weights=args.weights, device=args.device)
    text = text_from_args(args, predictor)
    predictions = predictions_for(predictor, text)
    result = Evaluation.from_log_probs(predictions.log_probs, predictions.model, predictions.text)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(f"{args.model_dir} ({predictor.description}) on {text.source}: {result.summary()}")
    if not args.quiet:
        log(f"took {clock}")
    return 0
