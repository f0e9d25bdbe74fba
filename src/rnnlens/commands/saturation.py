"""``rnnlens saturation``: how often each gate of each layer is nearly shut (< 0.1) or open (> 0.9)."""

from __future__ import annotations

import argparse

from rnnlens.analyses.gate_saturation import HIGH, LOW, gate_saturation
from rnnlens.checks import FRACTION
from rnnlens.commands.analysis import add_trace_analysis_options, report, trace_from_args
from rnnlens.commands.common import Stopwatch
from rnnlens.errors import RnnlensError
from rnnlens.models.trace import gate_keys


def register(subparsers) -> None:
    parser = subparsers.add_parser("saturation", help="fraction of steps each gate is saturated (Figure 3)",
                                   description=__doc__)
    add_trace_analysis_options(parser, "saturation.csv, saturation.json, saturation.png, saturation.svg")
    parser.add_argument("--low", type=FRACTION.argparse_type(), default=LOW,
                        help=f"left-saturated below this (default: {LOW})")
    parser.add_argument("--high", type=FRACTION.argparse_type(), default=HIGH,
                        help=f"right-saturated above this (default: {HIGH})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    if args.low >= args.high:  # before any trace is computed
        raise RnnlensError(f"--low {args.low} must be below --high {args.high}")
    trace = trace_from_args(args, lambda keys, gates: {"prob"} | set(gate_keys(keys, gates)))
    report(gate_saturation(trace, low=args.low, high=args.high), args, clock)
    return 0
