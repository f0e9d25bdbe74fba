"""The ``rnnlens`` command line: one subcommand per module in ``rnnlens.commands``."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import re
import signal
import sys
import threading
from contextlib import contextmanager
from importlib.metadata import version

from rnnlens.errors import RnnlensError
from rnnlens.training.loop import Interrupted

import rnnlens.commands

# the modules of ``rnnlens.commands`` shared by several subcommands; every other module is one subcommand with
# ``register(subparsers)``, which adds its parser and sets ``run`` (a new command is a new file, nothing else)
SHARED_COMMAND_MODULES = {"common", "analysis", "models", "training_options"}
COMMANDS = sorted(info.name for info in pkgutil.iter_modules(rnnlens.commands.__path__)
                  if info.name not in SHARED_COMMAND_MODULES)


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong, and where the help is (exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


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
    for name in COMMANDS:
        importlib.import_module(f"rnnlens.commands.{name}").register(subparsers)
        command = subparsers.choices[name]
        command.description = plain_text(command.description)
        command.set_defaults(flags={action.dest: action.option_strings[0] for action in command._actions
                                    if action.option_strings})
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


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit status 0, 1 for an error, 2 for a bad option, 128 + the signal when stopped by
    SIGINT (Ctrl-C: 130) or SIGTERM (143)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with terminate_by_unwinding():
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
