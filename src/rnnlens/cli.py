"""The ``rnnlens`` command line: one subcommand per module in ``rnnlens.commands``."""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import pkgutil
import re
import signal
import sys
import threading
import warnings
from contextlib import contextmanager
from importlib.metadata import version

from rnnlens.errors import RnnlensError
from rnnlens.training.loop import Interrupted

import rnnlens.commands

# the modules of ``rnnlens.commands`` shared by several subcommands; every other module is one subcommand with
# ``register(subparsers)``, which adds its parser and sets ``run`` (a new command is a new file, nothing else)
SHARED_COMMAND_MODULES = {"common", "analysis", "models", "training_options"}
COMMAND_MODULES = sorted(info.name for info in pkgutil.iter_modules(rnnlens.commands.__path__)
                         if info.name not in SHARED_COMMAND_MODULES)


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong, the closest right word when there is one, and
    where the help is (exit status 2). An option a subcommand lacks is that subcommand's error
    (``rnnlens train: error: unrecognized arguments: --modle``), not the whole program's."""

    commands: dict[str, argparse.ArgumentParser] = {}  # the subcommands' parsers, set by build_parser

    def error(self, message: str):
        typo = re.match(r"argument COMMAND: invalid choice: '([^']*)'", message)
        if typo:
            message = f"unknown command {typo.group(1)!r}{closest(typo.group(1), COMMANDS)}"
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")

    def parse_args(self, args=None, namespace=None):
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self.commands.get(getattr(parsed, "command", None), self)
            known = [s for action in parser._actions for s in action.option_strings]
            hint = closest(extras[0], known) if extras[0].startswith("-") else ""
            parser.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
        return parsed


def closest(word: str, choices: list[str]) -> str:
    """`` (did you mean 'train'?)`` for the choice nearest ``word`` (difflib's ratio, at least 0.6), else ''."""
    match = difflib.get_close_matches(word.split("=")[0], choices, n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


RENAMED = {"import_torch": "import"}  # modules whose command is a Python keyword


def command_name(module: str) -> str:
    """The subcommand a module of ``rnnlens.commands`` adds: its name with - for _ (``export-lstmvis``)."""
    return RENAMED.get(module, module.replace("_", "-"))


COMMANDS = [command_name(module) for module in COMMAND_MODULES]  # what the user types


def normalise_command(argv: list[str]) -> list[str]:
    """``argv`` with the command typed with _ for - (``export_lstmvis``, its name before 0.1) as its one name."""
    argv = list(argv)
    position = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if position is not None and command_name(argv[position]) in COMMANDS:
        argv[position] = command_name(argv[position])
    return argv


def plain_text(docstring: str | None) -> str | None:
    """A module docstring as a help description: its first paragraph, without the reST markup and the
    ``rnnlens NAME``: prefix (the usage line above it names the command)."""
    if not docstring:
        return docstring
    text = " ".join(docstring.strip().split("\n\n")[0].split())
    text = re.sub(r"^``rnnlens \w+``: ", "", text).replace("``", "")
    return text[:1].upper() + text[1:]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rnnlens",
        description="Train character-level RNN/LSTM/GRU language models and see what happens inside them.",
    )
    parser.add_argument("--version", action="version", version=f"rnnlens {version('rnnlens')}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(f"rnnlens.commands.{module}").register(subparsers)
        command = subparsers.choices[command_name(module)]
        command.description = plain_text(command.description)
        command.set_defaults(flags={action.dest: action.option_strings[0] for action in command._actions
                                    if action.option_strings})
    parser.commands = dict(subparsers.choices)
    return parser


class Terminated(BaseException):
    """SIGTERM outside training: unwinds like Ctrl-C, so half-written outputs are removed on the way out."""


@contextmanager
def terminate_by_unwinding():
    """While a command runs, SIGTERM raises ``Terminated`` (training installs its own save-and-stop handler)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def unwind(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, unwind)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def warnings_as_lines(args: argparse.Namespace):
    """While a command runs, each warning (an empty file skipped in a --text directory...) is one stderr line,
    ``rnnlens COMMAND: warning: ...``, every time it comes; with --debug, Python's own form with its source line."""
    def one_line(message, category, filename, lineno, file=None, line=None):
        print(f"rnnlens {args.command}: warning: {' '.join(str(message).split())}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        if not args.debug:
            warnings.showwarning = one_line
        yield


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit status 0, 1 for an error, 2 for a bad option, 128 + the signal when stopped by
    SIGINT (Ctrl-C: 130) or SIGTERM (143)."""
    parser = build_parser()
    args = parser.parse_args(normalise_command(sys.argv[1:] if argv is None else argv))
    try:
        with terminate_by_unwinding(), warnings_as_lines(args):
            return args.run(args) or 0
    except Interrupted as err:  # training stopped by a signal after saving a checkpoint
        print(f"rnnlens {args.command}: interrupted: {err}", file=sys.stderr)
        return 128 + err.signum
    except RnnlensError as err:
        if args.debug:
            raise
        print(f"rnnlens {args.command}: error: {err.render(args.flags)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # stdout closed early (``rnnlens sample | head``): stop quietly, as SIGPIPE would
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush of stdout is silent
        return 128 + signal.SIGPIPE
    except (KeyboardInterrupt, Terminated) as err:
        signum = signal.SIGTERM if isinstance(err, Terminated) else signal.SIGINT
        print(f"rnnlens {args.command}: interrupted by {signal.Signals(signum).name}; nothing half-written is left",
              file=sys.stderr)
        return 128 + signum
    except Exception as err:  # a bug: say so in one line unless asked for the traceback
        if args.debug:
            raise
        message = " ".join(str(err).split())  # one line, whatever the exception's text
        print(f"rnnlens {args.command}: internal error: {type(err).__name__}: {message} (rerun with --debug for the "
              "traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
