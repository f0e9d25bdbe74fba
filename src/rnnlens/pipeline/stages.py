"""Stages: one rnnlens command line each, with its upstream stages, its digest and its directory.

A stage's ``argv`` mixes strings with tokens resolved when it runs: ``OUT``
(its own output directory), ``CORPUS`` (the corpus options), ``Ref(stage,
path)`` (an upstream stage's output, or a path inside it) and ``Input(path,
sha256)`` (a file the plan wrote, such as an excerpt of the test split).

The **digest** of a stage is the sha256 of its argv with every token
replaced by what fixes it (an upstream stage's digest, a file's sha256), the
corpus's sha256 and split fractions, the rnnlens version and the defaults
its command's options have (``command_signature``: an option left out of
the argv takes its default, so a new default is a new stage). A changed
option therefore changes the digest of its stage and of every stage below
it, and of nothing else; paths, the data directory, ``--device`` and the
number of workers are not part of it.

A stage lives in ``DIR/stages/NAME-DIGEST12/``: the command writes into
``NAME/`` there (so a model's run directory is named after the model),
``log.txt`` keeps what it printed, and ``stage.json``, written atomically
and last, marks it done. A stage with that marker is reused as it is.

A **select** stage runs no command: it picks, among finished training
stages, the one with the lowest validation loss (the paper's dropout
cross-validation, or "the best LSTM"); its output is the chosen stage's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Union

from rnnlens.errors import RnnlensError
from rnnlens.store import atomic

MARKER, LOG, LOCK, STAGES = "stage.json", "log.txt", ".lock", "stages"


@dataclass(frozen=True)
class Ref:
    """The output directory of stage ``stage``, or ``path`` inside it."""

    stage: str
    path: str = ""


@dataclass(frozen=True)
class Input:
    """A file written by the plan (not by a stage), fixed by its content."""

    path: str
    sha256: str


class _Token(str):
    """A placeholder in an argv that the runner replaces (``OUT``, ``CORPUS``)."""


OUT, CORPUS = _Token("<out>"), _Token("<corpus>")
Arg = Union[str, Ref, Input]


@dataclass
class Stage:
    """One node of the graph (see the module docstring).

    ``resume`` is the argv that continues an interrupted run, used when its
    output holds ``resume_file``; without it a rerun runs ``argv`` again
    (commands such as ``baselines`` continue by themselves). ``fresh`` says
    the command refuses a non-empty output, so a partial one with nothing to
    resume is cleared first. ``info`` is shown by the progress overview and
    the report (epochs, batch shape), and ``fits`` marks a stage that fits
    models (run before the analyses).
    """

    name: str
    argv: tuple[Arg, ...] = ()
    select: tuple[str, ...] = ()  # a select stage's candidates (stage names)
    resume: tuple[Arg, ...] | None = None
    resume_file: str | None = None
    fresh: bool = False
    info: dict = field(default_factory=dict)

    @property
    def command(self) -> str:
        return "select" if self.select else str(self.argv[0])

    def upstream(self) -> list[str]:
        """The stages this one needs finished first, in argv order, without repeats."""
        names = list(self.select) + [a.stage for a in self.argv if isinstance(a, Ref)]
        return list(dict.fromkeys(names))


def rnnlens_version() -> str:
    return version("rnnlens")


DEFAULT = re.compile(r"\(default: ([^)]*)\)")


def command_signature(parser: argparse.ArgumentParser) -> str:
    """What a command does with the options it is not given: each option's default, as set or as its help
    says (loop options default to None on the parser and say their real default in the help). Options marked
    ``outside_signature`` (``commands.common.add_unsigned_option``) change nothing computed when absent and
    stay out."""
    defaults = sorted((a.option_strings[0], repr(a.default), DEFAULT.findall(a.help or ""))
                      for a in parser._actions if a.option_strings and not getattr(a, "outside_signature", False))
    return hashlib.sha256(json.dumps(defaults).encode()).hexdigest()


def digest_of(stage: Stage, upstream: dict[str, str], corpus: dict, signature: str = "") -> str:
    """The stage's digest from its upstream stages' ``upstream`` digests, ``corpus`` (sha256, fractions) and its
    command's ``signature``."""
    def fixed(arg: Arg):
        if isinstance(arg, Ref):
            return f"@{upstream[arg.stage]}/{arg.path}"
        if isinstance(arg, Input):
            return f"file:{arg.sha256}"
        return str(arg)

    payload = {"argv": [fixed(a) for a in stage.argv], "select": [upstream[s] for s in stage.select],
               "corpus": corpus, "rnnlens": rnnlens_version(), "command": signature}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class Graph:
    """Stages by name in a runnable order, with their digests and directories under ``root``; ``signatures``
    are the commands' (``command_signature``)."""

    def __init__(self, stages: list[Stage], corpus: dict, root: str | os.PathLike,
                 signatures: dict[str, str] | None = None) -> None:
        self.stages = {s.name: s for s in stages}
        if len(self.stages) != len(stages):
            raise RnnlensError("two stages share a name")
        self.root = Path(root)
        self.order = self._topological()
        self.digests: dict[str, str] = {}
        for name in self.order:
            stage = self.stages[name]
            signature = "" if stage.select else (signatures or {}).get(stage.command, "")
            self.digests[name] = digest_of(stage, self.digests, corpus, signature)

    def _topological(self) -> list[str]:
        order, state = [], {}

        def visit(name: str, path: tuple[str, ...]) -> None:
            if state.get(name) == "done":
                return
            if name not in self.stages:
                raise RnnlensError(f"stage {path[-1]} needs {name}, which no stage makes")
            if state.get(name) == "visiting":
                raise RnnlensError(f"stages depend on each other in a circle: {' -> '.join(path + (name,))}")
            state[name] = "visiting"
            for up in self.stages[name].upstream():
                visit(up, path + (name,))
            state[name] = "done"
            order.append(name)

        for name in self.stages:
            visit(name, ())
        return order

    def directory(self, name: str) -> Path:
        """``root/stages/NAME-DIGEST12``."""
        return self.root / STAGES / f"{name}-{self.digests[name][:12]}"

    def output(self, name: str) -> Path:
        """Where the stage's command writes; a select stage's output is its chosen stage's."""
        if self.stages[name].select:
            return self.output(read_marker(self.directory(name))["chosen"])
        return self.directory(name) / name

    def done(self, name: str) -> bool:
        return read_marker(self.directory(name)) is not None

    def downstream(self, name: str) -> set[str]:
        """Every stage that needs ``name``, directly or not."""
        return self._dependents[name]

    @cached_property
    def _dependents(self) -> dict[str, set[str]]:
        below: dict[str, set[str]] = {}
        for n in reversed(self.order):  # a stage's dependents come after it in the order
            direct = {d for d in self.order if n in self.stages[d].upstream()}
            below[n] = direct.union(*(below[d] for d in direct))
        return below

    def resolve(self, argv: tuple[Arg, ...], name: str, corpus_args: list[str]) -> list[str]:
        """``argv`` as strings: tokens replaced by paths (upstream stages must be done)."""
        out: list[str] = []
        for arg in argv:
            if arg is CORPUS:
                out += corpus_args
            elif arg is OUT:
                out.append(str(self.output(name)))
            elif isinstance(arg, Ref):
                out.append(str(self.output(arg.stage) / arg.path) if arg.path else str(self.output(arg.stage)))
            elif isinstance(arg, Input):
                out.append(arg.path)
            else:
                out.append(str(arg))
        return out


def read_marker(stage_dir: str | os.PathLike) -> dict | None:
    """A finished stage's ``stage.json``, or None while it is not done."""
    path = Path(stage_dir) / MARKER
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_marker(stage_dir: str | os.PathLike, record: dict) -> None:
    """Mark the stage done (atomically, after everything else it writes)."""
    atomic.write_json(Path(stage_dir) / MARKER, record)
