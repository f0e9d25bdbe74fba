"""``rnnlens dynamics``: how a run's snapshots approach n-NN models as it trains (the paper's Figure 5 right).

For each snapshot the run kept (``rnnlens train --snapshot-every N``): the
symmetric KL divergence between its predictive distributions and each
reference model's (nats, mean over positions), and its loss minus the
reference's (nats/char), over the first --limit characters of the text.
"""

from __future__ import annotations

import argparse
import os

from rnnlens.analyses.model_set import check_same_corpus
from rnnlens.analyses.training_dynamics import context_length, names_by_context, training_dynamics
from rnnlens.checks import Range
from rnnlens.commands.analysis import add_result_options, report
from rnnlens.commands.common import (Stopwatch, add_device, add_text_source, check_out, log,
                                     text_from_args)
from rnnlens.commands.models import model_names
from rnnlens.data.texts import first_chars
from rnnlens.errors import RnnlensError
from rnnlens.models.registry import load_predictor, snapshots
from rnnlens.store.predictions import predictions_for, snapshot_predictions

LIMIT = 20_000  # characters: a few seconds per snapshot on a CPU; the paper used the whole test set
TEXT_CHARS = Range(2, integer=True)  # a text to predict has at least two characters


def register(subparsers) -> None:
    parser = subparsers.add_parser("dynamics", help="KL divergence and loss difference of a run's snapshots "
                                   "against n-NN models (Figure 5 right)", description=__doc__)
    parser.add_argument("run_dir", metavar="RUN", help="an RNN run trained with --snapshot-every")
    parser.add_argument("--against", nargs="+", required=True, metavar="DIR",
                        help="run directories of the models to compare with (n-NN models; any model with "
                             "predictive distributions)")
    parser.add_argument("--names", nargs="+", metavar="NAME",
                        help="a name for each --against model, in order (default: its n, the context length, when "
                             "every model has a different one; else each directory's base name)")
    add_text_source(parser, default_split="test")
    parser.add_argument("--limit", type=TEXT_CHARS.argparse_type(), default=LIMIT, metavar="CHARS",
                        help=f"use only the first CHARS characters of the text (default: {LIMIT:,})")
    add_device(parser)
    add_result_options(parser, "dynamics.json, dynamics.csv, dynamics.png, dynamics.svg")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    check_out(args.out, "result")
    kept = snapshots(args.run_dir)
    if not kept:
        raise RnnlensError(f"{args.run_dir} kept no snapshots; train a run with --snapshot-every N to follow its "
                           "training")
    loaded = [load_predictor(d, device=args.device) for d in args.against]
    names = model_names(args.against, args.names or names_by_context(loaded))
    references = dict(zip(names, loaded))
    first = load_predictor(args.run_dir, weights=kept[0]["weights"], device=args.device)
    check_same_corpus({os.path.normpath(args.run_dir): first, **references})
    text = first_chars(text_from_args(args, first), args.limit)
    log(f"{args.run_dir}: {len(kept)} snapshots, batches {kept[0]['batch']}..{kept[-1]['batch']}; "
        f"against {', '.join(names)} on {text.source} ({len(text.ids):,} characters)")
    against = {name: predictions_for(p, text, distributions=True) for name, p in references.items()}
    contexts = {name: context_length(p) for name, p in references.items()}
    trained = snapshot_predictions(args.run_dir, kept, text, args.device, (lambda _: None) if args.quiet else log)
    result = training_dynamics(trained, against, contexts, run=os.path.basename(os.path.normpath(args.run_dir)))
    report(result, args, clock)
    return 0
