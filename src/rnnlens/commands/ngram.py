"""``rnnlens ngram``: estimate an n-gram model (interpolated modified Kneser-Ney) on a corpus's train split."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from rnnlens.analyses.evaluation import evaluate
from rnnlens.checks import COUNT
from rnnlens.commands.common import Stopwatch, add_corpus_options, add_reporting, corpus_from_args, log, show_progress
from rnnlens.errors import RnnlensError
from rnnlens.models.ngram.arpa import write_arpa
from rnnlens.models.registry import fit
from rnnlens.store.outputs import check_model_dir


def register(subparsers) -> None:
    parser = subparsers.add_parser("ngram", help="estimate an n-gram model (modified Kneser-Ney, KenLM's formulas)",
                                   description=__doc__)
    add_corpus_options(parser)
    parser.add_argument("--order", type=COUNT.argparse_type(), required=True,
                        help="order N: the model sees the last N-1 characters (the paper's 20-gram is --order 21)")
    parser.add_argument("--out", required=True, help="run directory for config.json (rnnlens evaluate reads it)")
    parser.add_argument("--arpa", metavar="FILE",
                        help="also write the model as an ARPA file (space, newline, tab as <sp>, <nl>, <tab>); "
                             "an existing file is replaced only if it is an ARPA file")
    add_reporting(parser, "print the n-gram counts, discounts and validation loss as one JSON object")
    parser.set_defaults(run=run)


def check_arpa_path(path: str) -> None:
    """Refuse to overwrite anything at ``path`` but an ARPA file (one with a ``\\data\\`` header)."""
    target = Path(path)
    if target.is_dir():
        raise RnnlensError(f"--arpa {path} is a directory; give a file name")
    if target.exists():
        with open(target, "rb") as f:
            head = f.read(4096)
        if b"\\data\\" not in head:
            raise RnnlensError(f"--arpa {path} exists and is not an ARPA file; it is not replaced: choose another "
                               "file name")


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    check_model_dir(args.out, "ngram")  # an n-gram model of its own is estimated again; nothing else is replaced
    if args.arpa:
        check_arpa_path(args.arpa)
    corpus = corpus_from_args(args)
    log(f"read {corpus.name}: {len(corpus):,} characters, vocabulary {len(corpus.vocab)}; "
        f"train split {len(corpus.split_ids('train')):,}")
    predictor = fit("ngram", {"order": args.order}, corpus, args.out, log=log, show_progress=show_progress(args))
    config = predictor.info
    for s in config["orders"]:
        d1, d2, d3 = s["discounts"]
        log(f"order {s['order']:2d}: {s['ngrams']:>10,} n-grams  D1 {d1:.4f}  D2 {d2:.4f}  D3+ {d3:.4f}"
            + ("  (fallback: too few counts of counts)" if s["fallback"] else ""))
    log(f"estimated order {args.order} in {config['estimate_s']:.1f} s")
    val = corpus.split_ids("val")
    result = evaluate(predictor, val) if len(val) > 1 else None
    if result is not None:
        log(f"validation loss {result.summary()}")
    written = [os.path.join(args.out, "config.json")]
    if args.arpa:
        written.append(str(write_arpa(args.arpa, predictor.tables, corpus.vocab)))
        log(f"ARPA file {args.arpa}: {os.path.getsize(args.arpa):,} bytes")
    log(f"wrote {', '.join(written)}; took {clock}")
    if args.json:
        print(json.dumps({"run": args.out, "order": args.order, "orders": config["orders"],
                          "validation": result.to_dict() if result else None}))
    return 0
