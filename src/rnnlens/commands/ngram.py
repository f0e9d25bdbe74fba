"""``rnnlens ngram``: estimate an interpolated modified Kneser-Ney n-gram model on a corpus's train split."""

from __future__ import annotations

import argparse
import os

from rnnlens.models.ngram.arpa import write_arpa
from rnnlens.models.ngram.kneser_ney import estimate_corpus, save
from rnnlens.data.corpus import data_directory
from rnnlens.analyses.evaluation import evaluate
from rnnlens.commands.common import Stopwatch, add_corpus_options, corpus_from_args, log


def register(subparsers) -> None:
    parser = subparsers.add_parser("ngram", help="estimate a modified Kneser-Ney n-gram model (KenLM's formulas)",
                                   description=__doc__)
    add_corpus_options(parser)
    parser.add_argument("--order", type=int, required=True,
                        help="order N: the model sees the last N-1 characters (the paper's 20-gram is --order 21)")
    parser.add_argument("--out", required=True, help="run directory for config.json (rnnlens evaluate reads it)")
    parser.add_argument("--arpa", help="also write the model as an ARPA file (space, newline, tab as <sp>, <nl>, <tab>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    corpus = corpus_from_args(args)
    train = corpus.split_ids("train")
    log(f"read {corpus.name}: {len(corpus):,} characters, vocabulary {len(corpus.vocab)}; train split {len(train):,}")
    data_dir = data_directory(args.data_dir) if args.dataset else None
    predictor, config = estimate_corpus(corpus, args.order, show_progress=not args.quiet, data_dir=data_dir)
    for s in config["orders"]:
        d1, d2, d3 = s["discounts"]
        log(f"order {s['order']:2d}: {s['ngrams']:>10,} n-grams  D1 {d1:.4f}  D2 {d2:.4f}  D3+ {d3:.4f}"
            + ("  (fallback: too few counts of counts)" if s["fallback"] else ""))
    log(f"estimated order {args.order} in {config['estimate_s']:.1f} s")
    path = save(args.out, config)
    val = corpus.split_ids("val")
    if len(val) > 1:
        log(f"validation loss {evaluate(predictor, val).line()}")
    written = [str(path)]
    if args.arpa:
        written.append(str(write_arpa(args.arpa, predictor.tables, corpus.vocab)))
        log(f"ARPA file {args.arpa}: {os.path.getsize(args.arpa):,} bytes")
    log(f"wrote {', '.join(written)}; took {clock}")
    return 0
