"""Atomic writes: a file is either absent, the old version, or the whole new one.

Every artifact (checkpoint, config, trace, result) goes through these helpers,
so a run killed at any moment never leaves a half-written file that a re-run
would take as valid. A directory written whole (``atomic_directory``) is
locked while it is written; what a killed write left beside the output is
removed by the next write of the same output, while a live write is not.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _honour_umask(path: Path, mode: int) -> None:
    """Give a file made by ``tempfile`` (always 0600, or 0700 for a directory) the mode the umask allows."""
    os.chmod(path, mode & ~_umask())


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file lives in the same directory so the final rename is
    atomic on POSIX file systems; on any exception it is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    _honour_umask(tmp_path, 0o666)
    try:
        yield tmp_path
        _honour_umask(tmp_path, 0o666)  # again: a writer may have made the file anew (safetensors does, 0600)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_csv(path: str | os.PathLike, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    """Write a CSV table atomically; floats keep full precision."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buffer.getvalue())
    return Path(path)


def read_json(path: str | os.PathLike, error: type[Exception], advice: str) -> Any:
    """Read a JSON file written by ``write_json``; raise ``error`` naming the file and ``advice`` if it is damaged."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise error(f"{path}: unreadable JSON ({err}); {advice}") from None


def _lock(directory: Path, wait: bool) -> int | None:
    """An exclusive ``flock`` on ``directory``: its descriptor (closing it releases the lock, as the death of
    the process does), or None where the directory is gone, another holds the lock or the file system has no
    such locks (then nothing is ever taken as stale)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _remove_stale_temporaries(path: Path) -> None:
    """Remove the temporaries ``atomic_directory`` made for ``path`` (``.NAME.XXXXXXXX.tmp``, ``tempfile``'s
    eight characters) whose writer is gone (no lock on them): a killed write's leftovers, never a live one."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    for stale in path.parent.iterdir():
        if pattern.fullmatch(stale.name) and stale.is_dir() and (fd := _lock(stale, wait=False)) is not None:
            shutil.rmtree(stale, ignore_errors=True)
            os.close(fd)


def _locked_temporary(path: Path) -> tuple[Path, int | None]:
    """A fresh temporary directory beside ``path`` and the lock held on it while it is written.

    Another write's clean-up may take the lock between ``mkdtemp`` and ours, and then removes the directory:
    once the lock is ours, the directory is ours, so a removed one is made again.
    """
    while True:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        fd = _lock(tmp, wait=True)
        if tmp.is_dir():
            return tmp, fd
        if fd is not None:
            os.close(fd)


@contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``path`` whole on success.

    Used for multi-file artifacts (traces, results): readers see either no
    directory, or a complete one. The temporaries a killed write of ``path``
    left are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp, lock = _locked_temporary(path)
    _honour_umask(tmp, 0o777)
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if lock is not None:
            os.close(lock)
