"""``rnnlens context``: the loss of each model when it sees only the last d characters, and its effective
context (the smallest d within 1% of its full-context loss), overall and per class of the predicted character."""

from __future__ import annotations

import argparse

from rnnlens.analyses.context_curve import DISTANCES, context_curves
from rnnlens.checks import COUNT, NONNEGATIVE_COUNT
from rnnlens.commands.analysis import add_result_options, report
from rnnlens.commands.common import Stopwatch, check_out, log
from rnnlens.commands.models import add_models_and_text, models_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser("context", help="loss against the context a model sees; effective context",
                                   description=__doc__)
    add_models_and_text(parser, "models of any kind, of one corpus")
    parser.add_argument("--distances", nargs="+", type=COUNT.argparse_type(), default=list(DISTANCES), metavar="D",
                        help=f"characters of context to try (default: {' '.join(map(str, DISTANCES))})")
    parser.add_argument("--positions", type=COUNT.argparse_type(), default=1000,
                        help="positions drawn from the text (default: 1000), plus up to 200 of each rare class")
    parser.add_argument("--seed", type=NONNEGATIVE_COUNT.argparse_type(), default=0,
                        help="seed of the drawn positions and replacement spans (default: 0)")
    add_result_options(parser, "context.json, context.csv, context.png")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    check_out(args.out, "result")
    models = models_from_args(args)
    first = next(iter(models.predictors.values()))
    log(f"context curves of {', '.join(models.predictors)} on {models.text.source}: {len(args.distances)} "
        f"distances, {args.positions:,} positions")
    full = {name: p.log_probs for name, p in models.predictions.items()}
    result = context_curves(models.predictors, models.text, first.vocab.decode(models.text.ids), args.distances,
                            args.positions, args.seed, full)
    report(result, args, clock)
    return 0
