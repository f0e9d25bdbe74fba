"""``rnnlens cells``: find the units that track line position, quotes, brackets, comments... and draw them."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

from rnnlens.analyses.interpretable_cells import default_quantity, find_interpretable_cells, quantity_keys
from rnnlens.errors import RnnlensError
from rnnlens.data.features import FEATURES
from rnnlens.commands.common import Stopwatch, log
from rnnlens.commands.trace import add_analysis_options, trace_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser("cells", help="rank every cell against text features; pictures of the best",
                                   description=__doc__)
    add_analysis_options(parser, "cells.json, best_cells.csv, scores.csv, cells.html, cells.png")
    parser.add_argument("--quantity", help="what to score: tanh_cell (default for an LSTM), cell, hidden "
                                           "(default otherwise) or a gate such as forget_gate")
    parser.add_argument("--features", nargs="+", metavar="NAME", help=f"features to score (default: all: "
                                                                      f"{', '.join(FEATURES)})")
    parser.add_argument("--feature-file", action="append", default=[], metavar="FILE.py",
                        help="a Python file whose @register_feature functions are added (repeatable)")
    parser.add_argument("--window", type=int, default=400, help="characters in each picture (default 400)")
    parser.set_defaults(run=run)


def load_feature_file(path: str) -> None:
    """Run a user's Python file so its ``register_feature`` decorators add to ``FEATURES``."""
    if not Path(path).is_file():
        raise RnnlensError(f"{path}: no such feature file")
    spec = importlib.util.spec_from_file_location(f"rnnlens_user_features_{Path(path).stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    before = set(FEATURES)
    for path in args.feature_file:
        load_feature_file(path)
    added = [name for name in FEATURES if name not in before]
    if args.feature_file:
        log(f"added feature(s) from {', '.join(args.feature_file)}: {', '.join(added) or 'none'}")
    trace = trace_from_args(args, lambda config: {"prob"} | quantity_keys(
        config.num_layers, args.quantity or default_quantity(config.model_type)))
    result = find_interpretable_cells(trace, features=args.features, quantity=args.quantity, window=args.window)
    paths = result.save(args.out)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(result.table())
    log(f"wrote {', '.join(str(p) for p in paths)}")
    log(f"took {clock}")
    return 0
