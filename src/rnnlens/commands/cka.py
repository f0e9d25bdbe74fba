"""``rnnlens cka``: linear CKA between the layers and quantities of a model, its snapshots, or several models.

Every representation is a trace key's values over the first --limit
characters of one text. One run: its keys against each other (labels:
``layer1.hidden``). Several runs of one corpus: ``RUN:key`` labels.
``--snapshots``: the snapshots one run kept while training, then its best
weights (``snapshot-000500:layer2.hidden``), to see when a layer settles.
"""

from __future__ import annotations

import argparse
import os

from rnnlens.analyses.cka import compare_representations
from rnnlens.analyses.model_set import check_same_corpus
from rnnlens.checks import Range
from rnnlens.commands.analysis import add_result_options, report
from rnnlens.commands.common import Stopwatch, check_out, log, show_progress
from rnnlens.commands.models import add_models_and_text, model_names
from rnnlens.errors import RnnlensError
from rnnlens.models.registry import load_predictor, snapshots
from rnnlens.store.trace_windows import layer_keys, window_text, window_trace

LIMIT = 20_000  # characters: CKA settles to two decimals well before; 8 bytes per unit and character in memory


def register(subparsers) -> None:
    parser = subparsers.add_parser("cka", help="linear CKA between layers, snapshots or models (heat map)",
                                   description=__doc__)
    add_models_and_text(parser, "run directories of trained networks (one corpus)")
    parser.add_argument("--keys", nargs="+", metavar="KEY",
                        help="trace keys (layer2.cell) or quantities (cell: every layer's) to compare (default: "
                             "every key of one model; each layer's hidden state across models or snapshots)")
    parser.add_argument("--snapshots", action="store_true",
                        help="compare the snapshots the one run kept (train --snapshot-every) and its best weights")
    parser.add_argument("--limit", type=Range(3, integer=True).argparse_type(), default=LIMIT, metavar="CHARS",
                        help=f"use the first CHARS characters of the text (default: {LIMIT:,})")
    add_result_options(parser, "cka.json, cka.csv, cka.png")
    parser.set_defaults(run=run)


def sources_from_args(args: argparse.Namespace) -> dict[str, tuple[str, str]]:
    """Label prefix -> (run directory, weights): '' for one model, each run's name, or each snapshot's."""
    if args.snapshots:
        if len(args.model_dirs) != 1:
            raise RnnlensError(f"--snapshots compares the snapshots of one run; {len(args.model_dirs)} runs given")
        run_dir = args.model_dirs[0]
        kept = snapshots(run_dir)
        if not kept:
            raise RnnlensError(f"{run_dir} kept no snapshots; train a run with --snapshot-every N to compare them")
        return {**{s["weights"]: (run_dir, s["weights"]) for s in kept}, args.weights: (run_dir, args.weights)}
    if len(args.model_dirs) == 1:
        return {"": (args.model_dirs[0], args.weights)}
    names = model_names(args.model_dirs, args.names)
    return {name: (run_dir, args.weights) for name, run_dir in zip(names, args.model_dirs)}


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    check_out(args.out, "result")
    sources = sources_from_args(args)
    predictors = {prefix: load_predictor(d, weights=w, device=args.device) for prefix, (d, w) in sources.items()}
    if len(args.model_dirs) > 1:
        check_same_corpus({prefix: p for prefix, p in predictors.items()})
    asked = args.keys or (None if len(predictors) == 1 else ["hidden"])
    keys = {prefix: layer_keys(p, asked) for prefix, p in predictors.items()}
    first = next(iter(predictors.values()))
    text = window_text(first, None if args.text else args.split or "test", args.text, args.limit, args.skip_unknown,
                       args.data_dir)
    representations, identity = {}, {}
    for prefix, predictor in predictors.items():
        trace = window_trace(predictor, text, keys[prefix], show_progress(args),
                             lambda line: log(f"{prefix}: {line}" if prefix else line))
        identity = {**trace.info["text"], "positions": trace.positions}
        representations.update({(prefix, key): trace[key] for key in keys[prefix]})
    if args.snapshots:  # each key's snapshots side by side, in training order
        representations = dict(sorted(representations.items(), key=lambda item: keys[item[0][0]].index(item[0][1])))
    representations = {f"{prefix}:{key}" if prefix else key: values
                       for (prefix, key), values in representations.items()}
    described = {prefix or os.path.basename(os.path.normpath(d)): {"run_dir": d, "weights": w,
                                                                   "model": predictors[prefix].description}
                 for prefix, (d, w) in sources.items()}
    report(compare_representations(representations, identity, described), args, clock)
    return 0
