"""``rnnlens attribute``: which characters before a position moved the model's prediction there, by integrated
gradients (from no character at all) or gradient x input over the one-hot inputs."""

from __future__ import annotations

import argparse

from rnnlens.analyses.attribution import attribute, check_differentiable
from rnnlens.checks import COUNT, NONNEGATIVE_COUNT
from rnnlens.commands.analysis import add_result_options, report
from rnnlens.commands.common import Stopwatch, add_model_and_text, check_out, log, text_from_args
from rnnlens.models.registry import load_predictor

METHODS = {"ig": "integrated_gradients", "gxi": "gradient_x_input"}


def register(subparsers) -> None:
    parser = subparsers.add_parser("attribute", help="which earlier characters moved the prediction at a position",
                                   description=__doc__)
    add_model_and_text(parser, "a trained network's run directory")
    parser.add_argument("--position", type=NONNEGATIVE_COUNT.argparse_type(), required=True, metavar="P",
                        help="index in the text (from 0) of the character whose log-probability is attributed")
    parser.add_argument("--target", metavar="C",
                        help="attribute the log-probability of this character instead of the one at P "
                             "(then P may be the text's length: the character after it)")
    parser.add_argument("--method", choices=list(METHODS), default="ig",
                        help="ig: integrated gradients from all-zero inputs (no character); gxi: gradient x input "
                             "(default: ig)")
    parser.add_argument("--window", type=COUNT.argparse_type(), metavar="N",
                        help="read only the last N characters before P, from a fresh state (default: all of them; "
                             "the time grows with N)")
    parser.add_argument("--steps", type=COUNT.argparse_type(), default=50,
                        help="integrated gradients' quadrature points (default: 50)")
    add_result_options(parser, "attribution.json, attribution.csv, attribution.png")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    check_out(args.out, "result")
    predictor = load_predictor(args.model_dir, weights=args.weights, device=args.device)
    check_differentiable(predictor)  # before reading the text
    text = text_from_args(args, predictor)
    log(f"attributing position {args.position:,} of {text.source} ({METHODS[args.method].replace('_', ' ')})")
    result = attribute(predictor, predictor.vocab.decode(text.ids), args.position, METHODS[args.method],
                       args.target, args.window, args.steps)
    report(result, args, clock)
    return 0
