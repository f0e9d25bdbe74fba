"""Options and steps that several subcommands share: corpora, texts to score, devices, reporting."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from typing import Iterator

from rnnlens.checks import COUNT, FRACTION
from rnnlens.data.corpus import SPLITS, Corpus, load_corpus
from rnnlens.data.texts import Text, text_for
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import Predictor
from rnnlens.store.outputs import check_replaceable
from rnnlens.training.loop import Interrupted


def add_corpus_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``--dataset NAME | --text FILE``, ``--data-dir``, ``--split-fractions``."""
    source = parser.add_mutually_exclusive_group(required=required)
    source.add_argument("--dataset", help="named corpus: war-and-peace or linux-kernel")
    source.add_argument("--text", help="a UTF-8 text file, or a directory of them")
    add_data_dir(parser)
    parser.add_argument("--split-fractions", type=FRACTION.argparse_type(), nargs=3, metavar=("TRAIN", "VAL", "TEST"),
                        dest="fractions",
                        help="fractions of the text for each split, in file order (default: the dataset's, or 0.8 0.1 0.1)")


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="folder holding the named corpora (default: $RNNLENS_DATA)")


def corpus_from_args(args: argparse.Namespace) -> Corpus:
    return load_corpus(dataset=args.dataset, text=args.text, data_dir=args.data_dir, fractions=args.fractions)


def add_text_source(parser: argparse.ArgumentParser, default_split: str = "test") -> None:
    """``--split S | --text FILE`` to choose what to score, and ``--skip-unknown``."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--split", choices=SPLITS, help=f"a split of the model's own corpus (default: {default_split})")
    source.add_argument("--text", help="any UTF-8 text file")
    add_data_dir(parser)
    parser.add_argument("--skip-unknown", action="store_true",
                        help="drop characters outside the model's vocabulary instead of refusing the text")
    parser.set_defaults(default_split=default_split)


def text_from_args(args: argparse.Namespace, predictor: Predictor) -> Text:
    """The text ``--split``/``--text`` name, in the predictor's ids."""
    split = None if args.text else args.split or args.default_split
    text = text_for(predictor.vocab, predictor.corpus_spec, split=split, file=args.text,
                    skip_unknown=args.skip_unknown, data_dir=args.data_dir)
    check_scorable(text.source, len(text.ids))
    return text


def check_scorable(source: str, chars: int) -> None:
    """Refuse a text too short to predict anything (an empty split), rather than report a loss of nan."""
    if chars < 2:
        raise RnnlensError(f"{source} has {chars} character{'' if chars == 1 else 's'}, nothing to predict: "
                           "give a text (or a split) of at least 2 characters")


def add_model_and_text(parser: argparse.ArgumentParser, what: str) -> None:
    """``DIR`` (described by ``what``), the text to run it on (``--split``/``--text``) and ``--weights``/``--device``."""
    parser.add_argument("model_dir", metavar="DIR", help=what)
    add_text_source(parser, default_split="test")
    add_model_options(parser)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """``--weights`` and ``--device`` for commands that load a model."""
    parser.add_argument("--weights", choices=["best", "last"], default="best",
                        help="which checkpoint of a trained network to use (default: best)")
    add_device(parser)


def add_unsigned_option(parser, *flags: str, **kwargs) -> argparse.Action:
    """An option whose absence leaves what the command computes as it was before the option existed: one that
    only shows or logs (``train --tensorboard``), or one that only another kind of run takes (``train
    --kind``, and the other kinds' options). It is marked ``outside_signature``, so ``reproduce`` leaves it
    out of the command's signature, and adding it does not make the pipeline redo earlier work (where it is
    given, the stage's argv holds it). ``parser`` may be an argument group."""
    action = parser.add_argument(*flags, **kwargs)
    action.outside_signature = True
    return action


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto: a GPU where there is one (default: auto)")


def add_reporting(parser: argparse.ArgumentParser, json_help: str | None = "print the result as one JSON object",
                  quiet_help: str = "no progress bars") -> None:
    """``--quiet`` (by default: no progress bars) and, with ``json_help``, ``--json``."""
    parser.add_argument("--quiet", action="store_true", help=quiet_help)
    if json_help:
        parser.add_argument("--json", action="store_true", help=json_help)


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars only on a terminal: piped output gets the one-line-per-step log, never bar frames."""
    return not args.quiet and sys.stderr.isatty()


def check_out(path: str, holds: str) -> None:
    """Refuse an output directory before any work (see ``store.outputs``)."""
    check_replaceable(path, holds)


@contextmanager
def continued_by_rerunning(command: str) -> Iterator[None]:
    """A training interrupted inside ``command`` says that running the same command again continues it."""
    try:
        yield
    except Interrupted as err:
        raise Interrupted(f"{err}; run the same rnnlens {command} command again to continue", err.signum) from None


def log(message: str) -> None:
    """Report progress on stderr, keeping stdout for results."""
    print(message, file=sys.stderr, flush=True)


class Stopwatch:
    """Seconds since creation, for 'took N s' lines."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __str__(self) -> str:
        return f"{time.perf_counter() - self.start:.1f} s"


POSITIVE_COUNT = COUNT.argparse_type()
