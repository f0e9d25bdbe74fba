"""``rnnlens trace``: record every state and gate of a network over a text, as memory-mappable arrays."""

from __future__ import annotations

import argparse

from rnnlens.commands.common import (Stopwatch, add_model_and_text, add_reporting, check_out, log,
                                     show_progress, text_from_args)
from rnnlens.models.registry import load_predictor
from rnnlens.store.traces import write_trace


def register(subparsers) -> None:
    parser = subparsers.add_parser("trace", help="record h, c and every gate of a network over a text",
                                   description=__doc__)
    add_model_and_text(parser, "a trained RNN/LSTM/GRU run directory")
    parser.add_argument("--out", required=True, metavar="TRACE_DIR",
                        help="directory to write (manifest.json, one .npy per key, text.txt); must be new, empty "
                             "or an older trace, which is then replaced whole")
    parser.add_argument("--full-distribution", action="store_true",
                        help="also keep the (positions, vocabulary) next-character distribution")
    parser.add_argument("--float16", action="store_true",
                        help="store every quantity but prob in float16: half the disk, about 3 significant digits "
                             "(enough to look at; analyses read float32)")
    add_reporting(parser, json_help=None)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    check_out(args.out, "trace")
    predictor = load_predictor(args.model_dir, weights=args.weights, device=args.device)
    text = text_from_args(args, predictor)
    log(f"read {args.model_dir} ({args.weights} weights): {predictor.description}; text: {text.source}, "
        f"{len(text.ids):,} characters")
    trace = write_trace(args.out, predictor, text, full_distribution=args.full_distribution, float16=args.float16,
                        progress=show_progress(args), log=log)
    size = sum(a.nbytes for a in trace.values())
    print(f"wrote {args.out}: {len(trace)} keys, {trace.positions:,} positions, {size / 1e6:,.1f} MB "
          f"({', '.join(trace)})")
    log(f"took {clock}")
    return 0
