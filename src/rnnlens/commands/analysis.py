"""What the analysis commands share: ``--out`` and the reporting options, the report; for the trace analyses
(``cells``, ``saturation``) their options and the trace they read; the text features a probe or an SAE reads."""

from __future__ import annotations

import argparse
import json

from rnnlens.analyses.result import Result
from rnnlens.commands.common import Stopwatch, add_model_and_text, add_reporting, check_out, log, show_progress
from rnnlens.data.features import FEATURES, Feature, load_feature_file
from rnnlens.errors import RnnlensError
from rnnlens.models.trace import Trace
from rnnlens.store.traces import KeyChoice, get_trace


def add_trace_analysis_options(parser: argparse.ArgumentParser, writes: str) -> None:
    """``DIR`` (a run or a trace directory), the text options, ``--trace``, ``--out`` and ``--json``."""
    add_model_and_text(parser, "a trained network's run directory, or a trace directory written by rnnlens trace")
    parser.add_argument("--trace", metavar="TRACE_DIR",
                        help="keep the trace here and reuse it next time (rewritten if incomplete or of "
                             "other weights or text)")
    add_result_options(parser, writes)


def add_result_options(parser: argparse.ArgumentParser, writes: str) -> None:
    """``--out`` (described by the files it gets, ``writes``), ``--quiet`` and ``--json``."""
    parser.add_argument("--out", required=True, metavar="OUT_DIR",
                        help=f"where to write {writes} (a new or empty directory, or an earlier result)")
    add_reporting(parser)


def add_feature_options(parser: argparse.ArgumentParser) -> None:
    """``--features NAME...`` (default: every registered feature) and ``--feature-file FILE.py`` (repeatable)."""
    parser.add_argument("--features", nargs="+", metavar="NAME",
                        help=f"text features to use (default: all: {', '.join(FEATURES)})")
    parser.add_argument("--feature-file", action="append", default=[], metavar="FILE.py",
                        help="a Python file whose @register_feature functions are added (repeatable)")


def features_from_args(args: argparse.Namespace, extra: tuple[str, ...] = ()) -> dict[str, Feature]:
    """The registered features ``--features`` names (all by default) after loading ``--feature-file``; names in
    ``extra`` (features the command computes itself) are allowed and left out."""
    for path in args.feature_file:
        log(f"added feature(s) from {path}: {', '.join(load_feature_file(path)) or 'none'}")
    names = [n for n in args.features if n not in extra] if args.features else list(FEATURES)
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise RnnlensError(f"unknown feature(s) {', '.join(unknown)}; known: {', '.join([*FEATURES, *extra])}")
    return {n: FEATURES[n] for n in names}


def trace_from_args(args: argparse.Namespace, keys: KeyChoice) -> Trace:
    check_out(args.out, "result")
    if args.trace:
        check_out(args.trace, "trace")
    return get_trace(args.model_dir, keys, split=args.split, file=args.text, skip_unknown=args.skip_unknown,
                     data_dir=args.data_dir, weights=args.weights, device=args.device, keep=args.trace,
                     progress=show_progress(args), log=log)


def report(result: Result, args: argparse.Namespace, clock: Stopwatch | None = None) -> None:
    """Save the result into ``--out`` and print it (``--json``: the saved JSON's keys); unless ``--quiet``, say
    the time taken since ``clock``."""
    paths = result.save(args.out)
    print(json.dumps(result.to_dict()) if args.json else result.summary())
    log(f"wrote {', '.join(str(p) for p in paths)}")
    if clock is not None and not args.quiet:
        log(f"took {clock}")
