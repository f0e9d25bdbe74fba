"""What the analysis commands share: ``--out`` and the reporting options, the report; for the trace analyses
(``cells``, ``saturation``) their options and the trace they read; the text features a probe or an SAE reads."""

from __future__ import annotations

import argparse
import json

from rnnlens.analyses.result import Result
from rnnlens.checks import Range
from rnnlens.commands.common import Stopwatch, add_model_and_text, add_reporting, check_out, log, show_progress
from rnnlens.data.corpus import SPLITS
from rnnlens.data.texts import Text
from rnnlens.data.features import FEATURES, Feature, load_feature_file
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import Predictor
from rnnlens.models.trace import Trace
from rnnlens.store.trace_windows import window_text
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


CHARS = Range(3, integer=True)
LIMIT = 50_000  # characters of each text: 0.75 GB of trace for the 1.3M-parameter 2-layer LSTM's 12 keys


def add_window_options(parser: argparse.ArgumentParser, train_limit: int = LIMIT) -> None:
    """For a command that fits on one text and scores on another (probe, sae): ``--limit`` (the scored text's
    characters) and the text to fit on: ``--train-split``/``--train-text``, ``--train-limit``."""
    parser.add_argument("--limit", type=CHARS.argparse_type(), default=LIMIT, metavar="CHARS",
                        help=f"use the first CHARS characters of the scored text (default: {LIMIT:,})")
    fit_on = parser.add_mutually_exclusive_group()
    fit_on.add_argument("--train-split", choices=SPLITS, help="the split of the run's corpus to fit on (default: train)")
    fit_on.add_argument("--train-text", metavar="FILE", help="a UTF-8 text file to fit on instead")
    parser.add_argument("--train-limit", type=CHARS.argparse_type(), default=train_limit, metavar="CHARS",
                        help=f"fit on the first CHARS characters of that text (default: {train_limit:,})")


def window_texts(args: argparse.Namespace, predictor: Predictor) -> dict[str, Text]:
    """``{"fit": ..., "score": ...}``: the texts ``add_window_options`` and ``--split``/``--text`` name, each cut
    to its limit (fit: the train split by default; score: the test split)."""
    fit_split = None if args.train_text else args.train_split or "train"
    score_split = None if args.text else args.split or "test"
    return {"fit": window_text(predictor, fit_split, args.train_text, args.train_limit, args.skip_unknown,
                               args.data_dir),
            "score": window_text(predictor, score_split, args.text, args.limit, args.skip_unknown, args.data_dir)}


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
