"""``rnnlens cells``: find the units that track line position, quotes, brackets, comments... and draw them."""

from __future__ import annotations

import argparse

from rnnlens.analyses.interpretable_cells import find_interpretable_cells, quantity_keys
from rnnlens.checks import COUNT
from rnnlens.commands.analysis import add_trace_analysis_options, report, trace_from_args
from rnnlens.commands.common import Stopwatch, log
from rnnlens.data.features import FEATURES, load_feature_file
from rnnlens.errors import RnnlensError


def register(subparsers) -> None:
    parser = subparsers.add_parser("cells", help="rank every cell against text features; pictures of the best",
                                   description=__doc__)
    add_trace_analysis_options(parser, "cells.json, best_cells.csv, scores.csv, cells.html, cells.png")
    parser.add_argument("--quantity", help="what to score: tanh_cell (default for an LSTM), cell, hidden "
                                           "(default otherwise) or a gate such as forget_gate")
    parser.add_argument("--features", nargs="+", metavar="NAME",
                        help=f"features to score (default: all: {', '.join(FEATURES)})")
    parser.add_argument("--feature-file", action="append", default=[], metavar="FILE.py",
                        help="a Python file whose @register_feature functions are added (repeatable)")
    parser.add_argument("--window", type=COUNT.argparse_type(), default=400,
                        help="characters in each picture (default: 400)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    before = set(FEATURES)
    for path in args.feature_file:
        load_feature_file(path)
    added = [name for name in FEATURES if name not in before]
    if args.feature_file:
        log(f"added feature(s) from {', '.join(args.feature_file)}: {', '.join(added) or 'none'}")
    unknown = [name for name in args.features or [] if name not in FEATURES]
    if unknown:
        raise RnnlensError(f"unknown feature(s) {', '.join(unknown)}; known: {', '.join(FEATURES)}")
    trace = trace_from_args(args, lambda keys, gates: {"prob"} | quantity_keys(keys, args.quantity))
    report(find_interpretable_cells(trace, features=args.features, quantity=args.quantity, window=args.window), args, clock)
    return 0
