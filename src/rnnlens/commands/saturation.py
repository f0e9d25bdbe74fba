"""``rnnlens saturation``: how often each gate of each layer is nearly shut (< 0.1) or open (> 0.9)."""

from __future__ import annotations

import argparse
import json

from rnnlens.analyses.gate_saturation import HIGH, LOW, gate_keys, gate_saturation
from rnnlens.commands.common import Stopwatch, log
from rnnlens.commands.trace import add_analysis_options, trace_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser("saturation", help="fraction of steps each gate is saturated (Figure 3)",
                                   description=__doc__)
    add_analysis_options(parser, "saturation.csv, saturation.json, saturation.png, saturation.svg")
    parser.add_argument("--low", type=float, default=LOW, help=f"left-saturated below this (default {LOW})")
    parser.add_argument("--high", type=float, default=HIGH, help=f"right-saturated above this (default {HIGH})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    trace = trace_from_args(args, lambda config: {"prob"} | gate_keys(config.model_type, config.num_layers))
    result = gate_saturation(trace, low=args.low, high=args.high)
    paths = result.save(args.out)
    if args.json:
        print(json.dumps({"low": result.low, "high": result.high, "summary": result.summary()}))
    else:
        print(result.table())
    log(f"wrote {', '.join(str(p) for p in paths)}")
    log(f"took {clock}")
    return 0
