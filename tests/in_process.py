"""``rnnlens ARGS`` run in the test's own process (a subprocess costs seconds of imports on a busy two-core
machine), and the shape every refusal must have. What only a real process shows (signals, piped stderr,
``--version``) runs one instead."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

from rnnlens import cli


@dataclass
class Ran:
    code: int
    out: str
    err: str


def rnnlens(*args) -> Ran:
    """``rnnlens ARGS`` in this process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as exit:
            code = exit.code
    return Ran(code, out.getvalue(), err.getvalue())


def refused(ran: Ran, command: str, *patterns: str, code: int | None = None) -> str:
    """A non-zero exit whose last stderr line is the one error line, matching every pattern; returns the line."""
    assert ran.code != 0 and (code is None or ran.code == code), (ran.code, ran.err)
    assert "Traceback" not in ran.err, ran.err
    lines = ran.err.rstrip("\n").splitlines()
    assert lines and lines[-1].startswith(f"rnnlens {command}: error: "), ran.err
    assert sum("error" in line for line in lines) == 1, ran.err
    for pattern in patterns:
        assert re.search(pattern, lines[-1]), (pattern, lines[-1])
    return lines[-1]
