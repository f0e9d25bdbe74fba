"""``rnnlens baselines``: Table 2 of the paper, n-gram and n-NN models that see the last n characters."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnlens.analyses.baseline_table import NGRAM_CONTEXTS, NNN_CONTEXTS, build_table, paper_jobs
from rnnlens.checks import COUNT
from rnnlens.commands.common import Stopwatch, add_corpus_options, add_reporting, check_out, corpus_from_args, log, \
    show_progress
from rnnlens.commands.nnn import add_training_options, nnn_spec
from rnnlens.data.corpus import SPLITS
from rnnlens.errors import RnnlensError


def register(subparsers) -> None:
    parser = subparsers.add_parser("baselines", help="Table 2: test losses of n-gram and n-NN models",
                                   description=__doc__)
    add_corpus_options(parser)
    parser.add_argument("--out", required=True, help="run directory: one subdirectory per model, and table2/")
    parser.add_argument("--ngram", type=COUNT.argparse_type(), nargs="*", default=list(NGRAM_CONTEXTS), metavar="N",
                        help=f"n-gram rows, in characters of context (order n+1) "
                             f"(default: {' '.join(map(str, NGRAM_CONTEXTS))})")
    parser.add_argument("--nnn", type=COUNT.argparse_type(), nargs="*", default=list(NNN_CONTEXTS), metavar="N",
                        help=f"n-NN rows, in characters of context (default: {' '.join(map(str, NNN_CONTEXTS))})")
    parser.add_argument("--split", choices=SPLITS, default="test", help="split to score (default: test)")
    add_training_options(parser)
    add_reporting(parser, "print the table as one JSON object (the keys of table2.json)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    jobs = paper_jobs(args.ngram, args.nnn, nnn_spec(args))
    if not jobs:
        raise RnnlensError("--ngram and --nnn name no rows; give at least one n")
    check_out(str(Path(args.out) / "table2"), "result")
    corpus = corpus_from_args(args)
    log(f"read {corpus.name}: {len(corpus):,} characters, vocabulary {len(corpus.vocab)}")
    table = build_table(corpus, args.out, jobs, args.split, show_progress=show_progress(args), log=log)
    paths = table.save(Path(args.out) / "table2")
    print(json.dumps(table.to_dict()) if args.json else table.summary())
    log(f"wrote {', '.join(map(str, paths))}; took {clock}")
    return 0
