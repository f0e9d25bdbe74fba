"""``rnnlens probe``: linear probes of every layer and quantity for text features, with control tasks.

Each probe is fitted on one text (by default the first characters of the
run's train split) and scored on another (--split, default test, or --text):
logistic regression for on/off features and the character class (held-out
AUC, accuracy), ridge for numeric ones (R²). Beside each score: the score on
a control task (labels drawn at random per character type, Hewitt & Liang
2019), the selectivity (score - control), and the best single unit with its
share of what the layer knows.
"""

from __future__ import annotations

import argparse

from rnnlens.analyses.probes import run_probes
from rnnlens.checks import Range
from rnnlens.commands.analysis import add_feature_options, add_result_options, features_from_args, report
from rnnlens.commands.common import Stopwatch, add_model_and_text, check_out, log, show_progress
from rnnlens.data.corpus import SPLITS
from rnnlens.models.registry import load_predictor
from rnnlens.store.trace_windows import layer_keys, window_text, window_trace

CHARS = Range(3, integer=True)
LIMIT = 50_000  # characters of each text: 0.75 GB of trace for the 1.3M-parameter 2-layer LSTM's 12 keys


def add_window_options(parser: argparse.ArgumentParser) -> None:
    """``--limit`` (the scored text's characters) and the training text: ``--train-split``/``--train-text``,
    ``--train-limit``."""
    parser.add_argument("--limit", type=CHARS.argparse_type(), default=LIMIT, metavar="CHARS",
                        help=f"use the first CHARS characters of the scored text (default: {LIMIT:,})")
    fit_on = parser.add_mutually_exclusive_group()
    fit_on.add_argument("--train-split", choices=SPLITS, help="the split of the run's corpus to fit on (default: train)")
    fit_on.add_argument("--train-text", metavar="FILE", help="a UTF-8 text file to fit on instead")
    parser.add_argument("--train-limit", type=CHARS.argparse_type(), default=LIMIT, metavar="CHARS",
                        help=f"fit on the first CHARS characters of that text (default: {LIMIT:,})")


def register(subparsers) -> None:
    parser = subparsers.add_parser("probe", help="linear probes of each layer for text features, with control "
                                   "tasks, selectivity and the best single unit", description=__doc__)
    add_model_and_text(parser, "a trained network's run directory")
    add_window_options(parser)
    add_feature_options(parser)
    parser.add_argument("--keys", nargs="+", metavar="KEY",
                        help="trace keys (layer2.cell) or quantities (cell: every layer's) to probe (default: all)")
    add_result_options(parser, "probes.json, probes.csv, probes.png")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    check_out(args.out, "result")
    features = features_from_args(args, extra=("char_class",))
    predictor = load_predictor(args.model_dir, weights=args.weights, device=args.device)
    keys = layer_keys(predictor, args.keys)
    fit_split = None if args.train_text else args.train_split or "train"
    texts = {"fit": window_text(predictor, fit_split, args.train_text, args.train_limit, args.skip_unknown,
                                args.data_dir),
             "score": window_text(predictor, None if args.text else args.split or "test", args.text, args.limit,
                                  args.skip_unknown, args.data_dir)}
    traces = {role: window_trace(predictor, text, keys, show_progress(args), log) for role, text in texts.items()}
    with_char_class = not args.features or "char_class" in args.features
    log(f"probing {len(keys)} keys for {len(features) + with_char_class} features")
    result = run_probes(traces["fit"], traces["score"], keys, features, with_char_class)
    report(result, args, clock)
    return 0
