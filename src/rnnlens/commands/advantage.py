"""``rnnlens advantage``: per character, the mean probability two models give it, and where each leads most (Figure 4).

For every character that occurs as a target of the text: its count and the
mean probability of the true character under A and under B; the ``--top``
characters with the largest difference each way are drawn as bar charts.
"""

from __future__ import annotations

import argparse

from rnnlens.analyses.char_advantage import TOP, char_advantage
from rnnlens.analyses.intervals import MIN_COUNT
from rnnlens.checks import COUNT
from rnnlens.commands.analysis import add_result_options, report
from rnnlens.commands.common import Stopwatch, check_out
from rnnlens.commands.models import add_models_and_text, models_from_args
from rnnlens.errors import RnnlensError


def register(subparsers) -> None:
    parser = subparsers.add_parser("advantage", help="per-character mean probability of two models (Figure 4)",
                                   description=__doc__)
    add_models_and_text(parser, "run directories of models A and B of one corpus", at_least=2)
    parser.add_argument("--top", type=COUNT.argparse_type(), default=TOP,
                        help=f"how many characters to show each way (default: {TOP})")
    parser.add_argument("--min-count", type=COUNT.argparse_type(), default=MIN_COUNT,
                        help=f"rank among the top only characters that occur at least this often as targets; "
                             f"fewer cannot decide an advantage, so a lower value counts as {MIN_COUNT} "
                             f"(default: {MIN_COUNT})")
    add_result_options(parser, "advantage.json, advantage.csv, advantage.png, advantage.svg")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    if len(args.model_dirs) != 2:
        raise RnnlensError(f"{len(args.model_dirs)} models given: give exactly two, A and B")
    check_out(args.out, "result")
    models = models_from_args(args)
    vocab = next(iter(models.predictors.values())).vocab
    result = char_advantage(models.predictions, models.text, vocab, top=args.top, min_count=args.min_count)
    report(result, args, clock)
    return 0
