"""``rnnlens brackets``: mean probability of each closing bracket by its distance to the opening one (Figure 5 left).

Closers of ``--pair`` are matched to their openers with a stack (unmatched
closers and openers left open are counted and skipped), bucketed by distance
in characters (buckets of ``--bin``: 1-20, 21-40, ..., and one open-ended
bucket past ``--max-distance``), and every model's mean probability of the
closing character is given per bucket, with the counts. On the Linux kernel,
``rnnlens brackets NGRAM20 LSTM --split test`` is the paper's comparison.
"""

from __future__ import annotations

import argparse

from rnnlens.analyses.bracket_distance import BIN, PAIRS, bracket_distance, check_buckets
from rnnlens.checks import COUNT
from rnnlens.commands.analysis import add_result_options, report
from rnnlens.commands.common import Stopwatch, check_out
from rnnlens.commands.models import add_models_and_text, models_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser("brackets", help="mean probability of closing brackets by distance to the "
                                   "opening one (Figure 5 left)", description=__doc__)
    add_models_and_text(parser, "run directories of the models (the first is A, the others are compared with it)")
    parser.add_argument("--pair", choices=list(PAIRS), default="{}",
                        help="the characters to match: {} () [] nest, \" alternates (default: {})")
    parser.add_argument("--bin", type=COUNT.argparse_type(), default=BIN,
                        help=f"width of a distance bucket in characters (default: {BIN})")
    parser.add_argument("--max-distance", type=COUNT.argparse_type(), metavar="CHARS",
                        help="longer matches share one last, open-ended bucket; a multiple of --bin "
                             "(default: 10 x --bin)")
    parser.add_argument("--skip-code-literals", action="store_true",
                        help="ignore brackets inside C comments and string or character literals (for \": the pairs "
                             "are the C string literals)")
    add_result_options(parser, "brackets.json, brackets.csv, brackets.png and brackets.svg")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    check_out(args.out, "result")
    check_buckets(args.bin, args.max_distance)  # before any model is loaded
    models = models_from_args(args)
    chars = next(iter(models.predictors.values())).vocab.decode(models.text.ids)
    reach = {name: getattr(p, "context_length", None) for name, p in models.predictors.items()}
    result = bracket_distance(models.predictions, chars, args.pair, args.bin, args.max_distance,
                              args.skip_code_literals, contexts=reach)
    report(result, args, clock)
    return 0
