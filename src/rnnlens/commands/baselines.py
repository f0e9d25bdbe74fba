"""``rnnlens baselines``: Table 2 of the paper, n-gram and n-NN models that see the last n characters."""

from __future__ import annotations

import argparse

from rnnlens.analyses.baseline_table import NGRAM_CONTEXTS, NNN_CONTEXTS, build_table
from rnnlens.data.corpus import data_directory
from rnnlens.commands.common import Stopwatch, add_corpus_options, corpus_from_args, log
from rnnlens.commands.nnn import add_training_options, training_options


def register(subparsers) -> None:
    parser = subparsers.add_parser("baselines", help="Table 2: test losses of n-gram and n-NN models",
                                   description=__doc__)
    add_corpus_options(parser)
    parser.add_argument("--out", required=True, help="run directory: one subdirectory per model, table2.csv/json/png")
    parser.add_argument("--ngram", type=int, nargs="*", default=list(NGRAM_CONTEXTS), metavar="N",
                        help=f"n-gram rows, in characters of context (order n+1) (default: {' '.join(map(str, NGRAM_CONTEXTS))})")
    parser.add_argument("--nnn", type=int, nargs="*", default=list(NNN_CONTEXTS), metavar="N",
                        help=f"n-NN rows, in characters of context (default: {' '.join(map(str, NNN_CONTEXTS))})")
    parser.add_argument("--split", choices=["train", "val", "test"], default="test", help="split to score (default: test)")
    add_training_options(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    corpus = corpus_from_args(args)
    log(f"read {corpus.name}: {len(corpus):,} characters, vocabulary {len(corpus.vocab)}")
    data_dir = data_directory(args.data_dir) if args.dataset else None
    table = build_table(corpus, args.out, args.ngram, args.nnn, args.hidden, training_options(args), args.batch,
                        args.split, data_dir, show_progress=not args.quiet, log=log)
    paths = table.save(args.out)
    print(table.text())
    log(f"wrote {', '.join(map(str, paths))}; took {clock}")
    return 0
