"""``rnnlens score``: every character of a text file scored by any model (log-probability, rank, argmax), as
KenLM's ``query`` does; the mean is ``evaluate``'s."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from rnnlens.analyses.scoring import COLUMNS, score
from rnnlens.commands.common import Stopwatch, add_model_options, log, text_from_args
from rnnlens.models.registry import load_predictor


def register(subparsers) -> None:
    parser = subparsers.add_parser("score", help="per-character log-probability, rank and argmax of a text",
                                   description=__doc__)
    parser.add_argument("model_dir", metavar="DIR", help="a model's run directory (any kind)")
    parser.add_argument("text", metavar="FILE", help="any UTF-8 text file")
    parser.add_argument("--skip-unknown", action="store_true",
                        help="drop characters outside the model's vocabulary instead of refusing the text")
    add_model_options(parser)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true",
                        help='one JSON object: evaluate\'s keys and "characters": [{"char", "log_prob" (nats), '
                             '"log2_prob", "rank" (1: the likeliest), "argmax"}, ...]')
    output.add_argument("--csv", action="store_true", help=f"CSV with the columns {', '.join(COLUMNS)}")
    parser.add_argument("--quiet", action="store_true", help="nothing on stderr but errors (no time taken)")
    parser.set_defaults(run=run, split=None, data_dir=None)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    predictor = load_predictor(args.model_dir, weights=args.weights, device=args.device)
    text = text_from_args(args, predictor)
    scores = score(predictor, text)
    if args.json:
        print(json.dumps(scores.to_dict(), ensure_ascii=False))
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(scores.rows())
    else:
        print(scores.table())
        print(f"{args.model_dir} ({predictor.description}) on {text.source}: {scores.summary()}")
    if not args.quiet:
        log(f"scored {scores.chars:,} characters; took {clock}")
    return 0
