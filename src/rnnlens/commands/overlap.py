"""``rnnlens overlap``: where models err (true character probability below 0.5) and which err together (Figure 4 left).

Every position where at least one model errs falls in one region, the set
of models that err there; the command counts every combination (for three
models the seven regions of a Venn diagram, for more an UpSet chart).
"""

from __future__ import annotations

import argparse

from rnnlens.analyses.error_overlap import THRESHOLD, error_overlap
from rnnlens.checks import OPEN_FRACTION
from rnnlens.commands.analysis import add_result_options, report
from rnnlens.commands.common import Stopwatch, check_out
from rnnlens.commands.models import add_models_and_text, models_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser("overlap", help="which models err together, per combination (Figure 4 left)",
                                   description=__doc__)
    add_models_and_text(parser, "run directories of two or more models of one corpus", at_least=2)
    parser.add_argument("--threshold", type=OPEN_FRACTION.argparse_type(), default=THRESHOLD,
                        help=f"a model errs where it gives the true character less than this (default: {THRESHOLD})")
    add_result_options(parser, "overlap.json, overlap.csv, overlap.png, overlap.svg")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    check_out(args.out, "result")
    models = models_from_args(args)
    report(error_overlap(models.predictions, threshold=args.threshold), args, clock)
    return 0
