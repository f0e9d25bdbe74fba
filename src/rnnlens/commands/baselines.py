"""``rnnlens baselines``: Table 2 of the paper, n-gram and n-NN models that see the last n characters."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from rnnlens.analyses.baseline_table import build_table
from rnnlens.checks import COUNT
from rnnlens.commands.common import Stopwatch, add_corpus_options, add_reporting, check_out, check_scorable, \
    continued_by_rerunning, corpus_from_args, log, show_progress
from rnnlens.commands.training_options import add_training_options, check_record_agrees, nnn_spec, recorded_run
from rnnlens.data.corpus import SPLITS
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError, typed
from rnnlens.models.baselines import NGRAM_CONTEXTS, NNN_CONTEXTS, fit_baselines, paper_jobs
from rnnlens.models.nnn import check_same_training, nnn_options
from rnnlens.store.outputs import holdings


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


TABLE_ENTRY = re.compile(r"(ngram-order\d+|nnn-n\d+|table2|\..*\.tmp)")  # what build_table writes


def check_table_dir(path: str) -> None:
    """Refuse an --out that is not absent, empty or an earlier table's directory (its models are reused)."""
    out = Path(path)
    if not out.exists():
        return
    if not out.is_dir():
        raise RnnlensError(f"{path} is a file; give a directory for the table and its models")
    if any(not TABLE_ENTRY.fullmatch(p.name) for p in out.iterdir()):
        raise RnnlensError(f"{path} already holds {holdings(out)}; it is not written into: choose a new or empty "
                           "directory, or an earlier rnnlens baselines directory")


def check_reused_rows(args: argparse.Namespace, corpus, jobs) -> None:
    """The n-NN rows an earlier table left in --out are reused or continued: refuse any whose record
    contradicts this corpus, its context, the --hidden grid, an option given now or a default (one of an
    older rnnlens)."""
    for job in jobs:
        where = Path(args.out) / job.name
        config = recorded_run(where) if job.kind == "nnn" else None
        if config is None:
            continue
        check_record_agrees(config, str(where), args, corpus, job.context, changeable=set())
        if "hidden_grid" in config and list(config["hidden_grid"]) != list(args.hidden):
            raise RnnlensError(f"--hidden {typed(args.hidden)} contradicts the recorded {typed(config['hidden_grid'])} "
                               f"of the n-NN model in {where}; it keeps its options (remove it or choose another "
                               "--out to change them)")
        check_same_training(where, config["training"], nnn_options(job.spec))


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    jobs = paper_jobs(args.ngram, args.nnn, nnn_spec(args))
    if not jobs:
        raise RnnlensError("--ngram and --nnn name no rows; give at least one n")
    check_table_dir(args.out)
    check_out(str(Path(args.out) / "table2"), "result")
    corpus = corpus_from_args(args)
    log(f"read {corpus.name}: {len(corpus):,} characters, vocabulary {len(corpus.vocab)}")
    check_scorable(f"the {args.split} split of {corpus.name} (split fractions {typed(corpus.fractions)})",
                   len(corpus.split_ids(args.split)))
    check_reused_rows(args, corpus, jobs)
    with continued_by_rerunning("baselines"):
        fitted = fit_baselines(corpus, args.out, jobs, show_progress(args), log)
        text = Text(corpus.split_ids(args.split), f"{corpus.name} {args.split} split")
        table = build_table(corpus.name, args.split, text, fitted, log)
    paths = table.save(Path(args.out) / "table2")
    print(json.dumps(table.to_dict()) if args.json else table.summary())
    log(f"wrote {', '.join(map(str, paths))}; took {clock}")
    return 0
