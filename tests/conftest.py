"""Shared fixtures: the real corpora (read-only) and small slices of them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("RNNLENS_DATA", REPO.parent / "shared" / "data"))


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
