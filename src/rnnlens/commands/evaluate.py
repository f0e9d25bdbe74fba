"""``rnnlens evaluate``: loss of any model on a split or a text file, with a bootstrap std; ``--dynamic``: of an
RNN that adapts its weights to the text as it reads it (dynamic evaluation, Krause et al. 2018)."""

from __future__ import annotations

import argparse
import json

from rnnlens.analyses.evaluation import Evaluation
from rnnlens.checks import POSITIVE
from rnnlens.commands.common import Stopwatch, add_model_and_text, add_reporting, log, text_from_args
from rnnlens.errors import RnnlensError
from rnnlens.models.dynamic_evaluation import DECAY, DECAY_RANGE, LR, SEGMENT, DynamicEvaluation
from rnnlens.models.registry import load_predictor
from rnnlens.store.predictions import predictions_for


def register(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="mean loss (nats/char, bits/char) of a model on a text",
                                   description=__doc__)
    add_model_and_text(parser, "a model's run directory")
    parser.add_argument("--dynamic", action="store_true",
                        help=f"dynamic evaluation (RNNs): score each segment of {SEGMENT} characters, then take one "
                             "SGD step on it, pulled back towards the trained weights by --dynamic-decay; the state "
                             "carries across segments, and the run's weights are never changed")
    parser.add_argument("--dynamic-lr", type=POSITIVE.argparse_type(), metavar="LR",
                        help=f"learning rate of each step on a segment's mean loss (default: {LR:g}: of a grid "
                             "on 50,000 validation characters, within 0.001 nats/char of War and Peace's best; the "
                             "Linux kernel gained more at 0.2)")
    parser.add_argument("--dynamic-decay", type=DECAY_RANGE.argparse_type(), metavar="D",
                        help=f"fraction of the way back to the trained weights at each step (default: {DECAY:g}, "
                             "from the same grid)")
    add_reporting(parser, "print one JSON object on stdout", quiet_help="nothing on stderr but errors (no time taken)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    predictor = load_predictor(args.model_dir, weights=args.weights, device=args.device)
    tuned = [flag for flag, value in (("--dynamic-lr", args.dynamic_lr), ("--dynamic-decay", args.dynamic_decay))
             if value is not None]
    if tuned and not args.dynamic:
        raise RnnlensError(f"{' and '.join(tuned)} tune dynamic evaluation: add --dynamic, or drop them")
    if args.dynamic:
        predictor = DynamicEvaluation(predictor, LR if args.dynamic_lr is None else args.dynamic_lr,
                                      DECAY if args.dynamic_decay is None else args.dynamic_decay)
    text = text_from_args(args, predictor)
    # adapted predictions are not kept: the run's cache holds one entry per weights and text, its own
    predictions = predictions_for(predictor, text, keep=not args.dynamic)
    result = Evaluation.from_log_probs(predictions.log_probs, predictions.model, predictions.text)
    if args.json:
        extra = {"dynamic": predictor.identity["dynamic"]} if args.dynamic else {}
        print(json.dumps({**result.to_dict(), **extra}))
    else:
        print(f"{args.model_dir} ({predictor.description}) on {text.source}: {result.summary()}")
    if not args.quiet:
        log(f"took {clock}")
    return 0
