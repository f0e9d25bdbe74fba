"""``rnnlens trace``: record every state and gate of a network over a text, as memory-mappable arrays.

Also home of the options that ``cells`` and ``saturation`` share: they read
a trace directory, or trace a model themselves (optionally keeping the trace
with ``--trace`` to reuse next time).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from rnnlens.models.rnn import predictor as rnn_predictor
from rnnlens.errors import RnnlensError
from rnnlens.models.rnn.network import ModelConfig
from rnnlens.models.rnn.trace import Trace, trace_model
from rnnlens.store.traces import MANIFEST, ensure_trace, open_trace, run_provenance, write_trace
from rnnlens.commands.common import Stopwatch, add_text_source, log, text_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser("trace", help="record h, c and every gate of a network over a text",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", metavar="DIR", help="a trained RNN/LSTM/GRU run directory")
    add_text_source(parser, default_split="test")
    add_network_options(parser)
    parser.add_argument("--out", required=True, metavar="TRACE_DIR",
                        help="directory to write (manifest.json, one .npy per key, text.txt); replaced whole")
    parser.add_argument("--full-distribution", action="store_true",
                        help="also keep the (positions, vocabulary) next-character distribution")
    parser.set_defaults(run=run)


def add_network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", choices=["best", "last"], default="best", help="which checkpoint to trace")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")


def add_analysis_options(parser: argparse.ArgumentParser, writes: str) -> None:
    """What ``cells`` and ``saturation`` share: ``DIR`` (a run or a trace directory), the text
    options, ``--trace``, ``--out`` (which will hold ``writes``) and ``--json``."""
    parser.add_argument("model_dir", metavar="DIR",
                        help="a trained network's run directory, or a trace directory written by rnnlens trace")
    add_text_source(parser, default_split="test")
    add_network_options(parser)
    parser.add_argument("--trace", metavar="TRACE_DIR",
                        help="keep the trace here and reuse it next time (rewritten if incomplete or of "
                             "other weights or text)")
    parser.add_argument("--out", required=True, metavar="OUT_DIR", help=f"where to write {writes}")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def describe(trace: Trace) -> str:
    model = trace.info["model"]
    return (f"{model['num_layers']}-layer {model['model_type'].upper()}, hidden {model['hidden_size']}, "
            f"on {trace.info.get('text', {}).get('source', 'a text')} ({trace.positions + 1:,} characters)")


def trace_from_args(args: argparse.Namespace, keys_for: Callable[[ModelConfig], set[str]]) -> Trace:
    """The trace ``cells``/``saturation`` work on: read from a trace directory, kept and reused with
    ``--trace``, or else computed in memory with only the keys ``keys_for(config)`` names."""
    source = Path(args.model_dir)
    if (source / MANIFEST).is_file():
        if args.text or args.split or args.trace:
            raise RnnlensError(f"{source} is a trace directory; --split, --text and --trace apply to a run directory")
        trace = open_trace(source)
        log(f"read trace {source}: {describe(trace)}")
        return trace
    predictor = rnn_predictor.load(source, weights=args.weights, device=args.device)
    ids, where = text_from_args(args, predictor)
    info = {**run_provenance(source, args.weights), "text": {"source": where}}
    if args.trace:  # a kept trace holds every key, so that every analysis can reuse it
        trace, status = ensure_trace(args.trace, predictor.model, ids, predictor.vocab, info, progress=True)
        log(f"trace {args.trace} {status}: {describe(trace)}")
        return trace
    trace = trace_model(predictor.model, ids, predictor.vocab, keys=keys_for(predictor.model.config), info=info,
                        progress=True)
    log(f"traced {source} ({args.weights} weights): {describe(trace)}")
    return trace


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    predictor = rnn_predictor.load(args.model_dir, weights=args.weights, device=args.device)
    ids, where = text_from_args(args, predictor)
    config = predictor.model.config
    log(f"read {args.model_dir} ({args.weights} weights): {config.num_layers}-layer {config.model_type.upper()}, "
        f"hidden {config.hidden_size}; text: {where}, {len(ids):,} characters")
    info = {**run_provenance(args.model_dir, args.weights), "text": {"source": where}}
    trace = write_trace(args.out, predictor.model, ids, predictor.vocab, info,
                        full_distribution=args.full_distribution, progress=True)
    size = sum(a.nbytes for a in trace.values())
    print(f"wrote {args.out}: {len(trace)} keys, {trace.positions:,} positions, {size / 1e6:,.1f} MB "
          f"({', '.join(trace)})")
    log(f"took {clock}")
    return 0
