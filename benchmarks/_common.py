"""What the benchmarks share: the ``--smoke`` flag, scratch directories and slices of a dataset as a corpus.

Not a benchmark (its name starts with ``_``, so tests/test_benchmarks.py
does not run it); each script imports it as a sibling module.
"""

from __future__ import annotations

import argparse
import tempfile
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

from rnnlens.data.corpus import Corpus, load_corpus

SMOKE_HELP = "tiny sizes that run in seconds: checks the whole benchmark still works; its numbers mean nothing"


def parse_args(parser: argparse.ArgumentParser, smoke: dict[str, object]) -> argparse.Namespace:
    """Parse the command line, adding ``--smoke``: the sizes in ``smoke`` (option name -> value) then
    replace the defaults, so that the benchmark runs its usual code path in seconds (an option given on
    the command line still wins)."""
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    unknown = sorted(name for name in smoke if not hasattr(args, name))
    if unknown:
        raise ValueError(f"smoke sizes for options the parser lacks: {', '.join(unknown)}")
    if args.smoke:
        parser.set_defaults(**smoke)
        args = parser.parse_args()
    return args


@contextmanager
def scratch_or(path: Path | None) -> Iterator[Path]:
    """``path`` as given, or (``None``) a new temporary directory, removed on exit with all it holds."""
    with nullcontext(str(path)) if path is not None else tempfile.TemporaryDirectory(prefix="rnnlens-bench-") as d:
        yield Path(d)


def text_corpus(text: str, name: str, fractions: tuple[float, float, float]) -> Corpus:
    """``text`` as a text corpus named ``name`` with these split fractions, read through the public loader
    from a temporary file (gone on return: the corpus holds the text)."""
    with tempfile.TemporaryDirectory(prefix="rnnlens-bench-") as tmp:
        path = Path(tmp) / f"{name}.txt"
        path.write_text(text, encoding="utf-8")
        return load_corpus(text=path, fractions=fractions)


def dataset_corpus(dataset: str, chars: int | None, data_dir: str | None) -> Corpus:
    """A named dataset, or (``chars``) its first ``chars`` characters as a text corpus with the dataset's
    split fractions."""
    corpus = load_corpus(dataset=dataset, data_dir=data_dir)
    if chars is None:
        return corpus
    return text_corpus(corpus.text[:chars], f"{dataset}-first-{chars}", corpus.fractions)
