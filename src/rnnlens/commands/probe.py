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
from rnnlens.commands.analysis import (add_feature_options, add_result_options, add_window_options, features_from_args,
                                       report, window_texts)
from rnnlens.commands.common import Stopwatch, add_model_and_text, check_out, log, show_progress
from rnnlens.models.registry import load_predictor
from rnnlens.store.trace_windows import layer_keys, window_trace


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
    traces = {role: window_trace(predictor, text, keys, show_progress(args), log)
              for role, text in window_texts(args, predictor).items()}
    with_char_class = not args.features or "char_class" in args.features
    log(f"probing {len(keys)} keys for {len(features) + with_char_class} features")
    result = run_probes(traces["fit"], traces["score"], keys, features, with_char_class)
    report(result, args, clock)
    return 0
