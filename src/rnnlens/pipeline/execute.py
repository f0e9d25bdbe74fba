"""Run one stage's command where a runner put it (a local worker process or a Ray task).

A worker calls ``rnnlens.cli.main(argv)`` in its own process, with the
command's stdout and stderr sent to the stage's ``log.txt``; imports are
paid once per worker, not once per stage. While it runs the stage holds an
exclusive lock on ``STAGE/.lock`` (released by the kernel when the process
dies), so a rerun never writes into a directory that a leftover process
still writes. An interrupted stage is continued: with its ``resume`` argv
where its output holds the resume file (a training's ``last.safetensors``),
else by running the same command again; a partial output that a ``fresh``
command would refuse and that holds nothing to resume is cleared first.
The marker ``stage.json`` is written last.
"""

from __future__ import annotations

import fcntl
import os
import platform
import shlex
import shutil
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from rnnlens.pipeline.stages import LOCK, LOG, read_marker, rnnlens_version, write_marker


@dataclass(frozen=True)
class Job:
    """A stage ready to run, in plain values a worker process can receive."""

    name: str
    digest: str
    directory: str  # STAGE: holds the output, log.txt and stage.json
    output: str
    argv: tuple[str, ...]
    resume: tuple[str, ...] | None = None
    resume_file: str | None = None
    fresh: bool = False
    threads: int = 1


@dataclass(frozen=True)
class Outcome:
    """What running a job did: ``status`` is ``ran``, ``reused`` (found done) or ``failed`` (exit status)."""

    name: str
    status: str
    exit: int = 0
    seconds: float = 0.0
    attempt_argv: tuple[str, ...] = ()


def start_worker(threads: int) -> None:
    """Initialise a worker process: its torch threads, death with the process that started it, and Ctrl-C left
    to that process (a terminal's SIGINT reaches every process of the group: a training still saves and stops,
    and the runner stops the others with SIGTERM)."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(threads)


def die_with_parent() -> None:
    """Have the kernel kill this process when its parent dies (Linux), or notice it within a second."""
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        if libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0 and os.getppid() == parent:  # 1: PR_SET_PDEATHSIG
            return
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(137)

    threading.Thread(target=watch, daemon=True, name="die-with-parent").start()


@contextmanager
def stage_lock(directory: Path) -> Iterator[None]:
    """Hold ``STAGE/.lock`` exclusively; wait for a process that still holds it."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def output_to(log: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2) to the end of ``log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd, *saved):
            os.close(f)


def attempt_argv(job: Job) -> tuple[str, ...]:
    """The argv that starts or continues the job, clearing a partial output that cannot be continued."""
    output = Path(job.output)
    if job.resume is not None and job.resume_file and (output / job.resume_file).is_file():
        return job.resume
    if job.fresh and output.exists():
        shutil.rmtree(output)
    return job.argv


def run_job(job: Job) -> Outcome:
    """Run ``job`` unless it is done; write its marker on success (see the module docstring)."""
    from rnnlens.cli import main  # here, not at the top: the CLI's reproduce command imports this package

    directory = Path(job.directory)
    with stage_lock(directory):
        if read_marker(directory) is not None:
            return Outcome(job.name, "reused")
        argv = attempt_argv(job)
        log = directory / LOG
        start = time.perf_counter()
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"$ rnnlens {shlex.join(argv)}\n")
        with output_to(log):
            try:
                code = main(list(argv))
            except SystemExit as stop:  # a bad option: argparse has printed its one line
                code = stop.code if isinstance(stop.code, int) else 2
        seconds = time.perf_counter() - start
        if code != 0:
            return Outcome(job.name, "failed", code, seconds, argv)
        write_marker(directory, {"name": job.name, "digest": job.digest, "argv": list(job.argv),
                                 "last_attempt": list(argv), "attempt_seconds": round(seconds, 3),
                                 "finished": time.strftime("%Y-%m-%d %H:%M:%S"), **versions(),
                                 "host": platform.node(), "threads": job.threads})
        return Outcome(job.name, "ran", 0, seconds, argv)


def versions() -> dict:
    """The versions that produced a stage: rnnlens, torch, Python."""
    import torch

    return {"rnnlens": rnnlens_version(), "torch": torch.__version__, "python": platform.python_version()}
