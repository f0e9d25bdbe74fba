"""Options and steps that several subcommands share: corpora, texts to score, reporting."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from rnnlens.data.corpus import Corpus, load_corpus, load_corpus_spec, read_text
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import Predictor


def add_corpus_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``--dataset NAME | --text FILE``, ``--data-dir``, ``--split-fractions``."""
    source = parser.add_mutually_exclusive_group(required=required)
    source.add_argument("--dataset", help="named corpus: war-and-peace or linux-kernel")
    source.add_argument("--text", help="a UTF-8 text file, or a directory of them")
    add_data_dir(parser)
    parser.add_argument("--split-fractions", type=float, nargs=3, metavar=("TRAIN", "VAL", "TEST"),
                        help="fractions of the text for each split, in file order (default: the dataset's, or 0.8 0.1 0.1)")


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="folder holding the named corpora (default: $RNNLENS_DATA)")


def corpus_from_args(args: argparse.Namespace) -> Corpus:
    return load_corpus(dataset=args.dataset, text=args.text, data_dir=args.data_dir, fractions=args.split_fractions)


def add_text_source(parser: argparse.ArgumentParser, default_split: str | None = "test") -> None:
    """``--split S | --text FILE`` to choose what to score, and ``--skip-unknown``."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--split", choices=["train", "val", "test"],
                        help=f"a split of the model's own corpus (default: {default_split})")
    source.add_argument("--text", help="any UTF-8 text file")
    add_data_dir(parser)
    parser.add_argument("--skip-unknown", action="store_true",
                        help="drop characters outside the model's vocabulary instead of refusing the text")
    parser.set_defaults(default_split=default_split)


def text_from_args(args: argparse.Namespace, predictor: Predictor) -> tuple[np.ndarray, str]:
    """The ids to score and a description of where they came from."""
    if args.text:
        text = read_text(args.text)
        return predictor.vocab.encode(text, skip_unknown=args.skip_unknown), args.text
    split = args.split or args.default_split
    if split is None:
        raise RnnlensError("give --split S or --text FILE")
    corpus = load_corpus_spec(predictor.corpus_spec, args.data_dir)
    return corpus.split_ids(split), f"{corpus.name} {split} split"


def log(message: str) -> None:
    """Report progress on stderr, keeping stdout for results."""
    print(message, file=sys.stderr, flush=True)


class Stopwatch:
    """Seconds since creation, for 'took N s' lines."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __str__(self) -> str:
        return f"{time.perf_counter() - self.start:.1f} s"
