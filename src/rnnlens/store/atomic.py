"""Atomic writes: a file is either absent, the old version, or the whole new one.

Every artifact (checkpoint, config, trace, result) goes through these helpers,
so a run killed at any moment never leaves a half-written file that a re-run
would take as valid.
"""

from __future__ import annotations

import csv
import io
import json
import os
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


@contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``path`` whole on success.

    Used for multi-file artifacts (traces, results): readers see either no
    directory, or a complete one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    _honour_umask(tmp, 0o777)
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
