"""``rnnlens export-lstmvis``: write a trace as an LSTMVis project (states HDF5, word ids, dictionary, lstm.yml).

The directory written is one LSTMVis reads as a project: put it under
LSTMVis's data directory. Every layer's quantities become datasets of the
states file (the cell with LSTMVis's tanh, the others as they are).
"""

from __future__ import annotations

import argparse

from rnnlens.commands.common import Stopwatch, add_reporting, check_out, log
from rnnlens.explorer.lstmvis import export_lstmvis
from rnnlens.store.traces import open_trace


def register(subparsers) -> None:
    parser = subparsers.add_parser("export-lstmvis", description=__doc__,
                                   help="write a trace in LSTMVis's format")
    parser.add_argument("trace_dir", metavar="TRACE_DIR", help="a trace directory written by rnnlens trace")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="the LSTMVis project directory to write (new, empty, or an earlier export)")
    parser.add_argument("--quantities", nargs="+", metavar="Q",
                        help="only these quantities, such as cell hidden (default: every one the trace holds)")
    parser.add_argument("--name", help="the project's name in LSTMVis (default: the model's description)")
    add_reporting(parser, json_help=None, quiet_help="nothing on stderr but errors")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    check_out(args.out, "lstmvis export")
    trace = open_trace(args.trace_dir)
    paths = export_lstmvis(trace, args.out, name=args.name, quantities=args.quantities)
    size = sum(p.stat().st_size for p in paths)
    print(f"wrote {args.out}: {', '.join(p.name for p in paths)} ({size / 1e6:,.1f} MB) for {trace.description}")
    if not args.quiet:
        log(f"took {clock}")
    return 0
