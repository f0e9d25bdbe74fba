"""Shared fixtures: the real corpora (read-only) and small slices of them."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("RNNLENS_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session", autouse=True)
def ctrl_c_not_ignored():
    """The tests of Ctrl-C need Python's own SIGINT handler. A shell without job control starts a backgrounded
    command (``pytest ... &``) with SIGINT ignored; Python then keeps it ignored, and so do the processes it
    starts, so those tests would fail only because of how the suite was launched."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding war_and_peace.txt and linux_kernel.txt (never written to)."""
    if not (DATA_DIR / "war_and_peace.txt").is_file():
        pytest.fail(f"corpora not found in {DATA_DIR}; set RNNLENS_DATA")
    return DATA_DIR


@pytest.fixture(scope="session")
def war_and_peace(data_dir) -> str:
    return (data_dir / "war_and_peace.txt").read_text(encoding="utf-8")


@pytest.fixture
def wp_slice_file(tmp_path, war_and_peace):
    """A text file with the first 200,000 characters of War and Peace."""
    path = tmp_path / "wp200k.txt"
    path.write_text(war_and_peace[:200_000], encoding="utf-8")
    return path


BAD_TEXT_FILES = {  # content (None: no file at all) and what the refusal must say
    "missing": (None, "no such file"),
    "empty": (b"", "empty"),
    "latin-1": (b"caf\xe9 au lait", "not UTF-8 .*0xe9 at byte 3"),
    "binary": (b"\x7fELF\x00\x01\x02", "binary"),
}


@pytest.fixture(params=list(BAD_TEXT_FILES))
def bad_text_file(request, tmp_path) -> tuple[Path, str]:
    """A text file every reader must refuse, and a pattern the refusal matches."""
    content, message = BAD_TEXT_FILES[request.param]
    path = tmp_path / "input.txt"
    if content is not None:
        path.write_bytes(content)
    return path, message
