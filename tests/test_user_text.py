"""A user's own directory of text: empty files (every package's ``__init__.py``) are skipped and counted."""

from __future__ import annotations

import json
import warnings

import pytest

from in_process import refused, rnnlens
from rnnlens.data.corpus import load_corpus
from rnnlens.errors import RnnlensError


def python_package(root):
    """A small Python package: two empty ``__init__.py`` and two modules."""
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "sub" / "__init__.py").write_text("")
    (root / "pkg" / "a.py").write_text("def double(x):\n    return 2 * x\n" * 20)
    (root / "pkg" / "sub" / "b.py").write_text("import os\nprint(os.sep, 'done')\n" * 20)
    return root / "pkg"


def test_empty_files_of_a_directory_are_skipped_and_counted(tmp_path):
    package = python_package(tmp_path)
    with pytest.warns(UserWarning, match=r"skipped 2 empty files of 4 \(__init__.py, sub/__init__.py\)"):
        corpus = load_corpus(text=package)
    expected = (package / "a.py").read_text() + (package / "sub" / "b.py").read_text()
    assert corpus.text == expected and len(corpus) == 1280


def test_a_directory_without_empty_files_reads_without_a_warning(tmp_path):
    (tmp_path / "a.txt").write_text("some text")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_corpus(text=tmp_path).text == "some text"


def test_a_directory_of_only_empty_files_is_refused(tmp_path):
    for name in ("__init__.py", "x.txt"):
        (tmp_path / name).write_text("")
    with pytest.raises(RnnlensError, match="all 2 files of the directory are empty"):
        load_corpus(text=tmp_path)
    refused(rnnlens("ngram", "--text", tmp_path, "--order", "2", "--out", tmp_path / "out"), "ngram",
            "all 2 files of the directory are empty")
    assert not (tmp_path / "out").exists()


def test_the_command_line_says_how_many_empty_files_it_skipped_in_one_line(tmp_path):
    package = python_package(tmp_path)
    ran = rnnlens("ngram", "--text", package, "--order", "2", "--out", tmp_path / "model", "--json")
    assert ran.code == 0, ran.err
    warning = [line for line in ran.err.splitlines() if "warning" in line]
    assert warning == [f"rnnlens ngram: warning: {package}: skipped 2 empty files of 4 (__init__.py, "
                       "sub/__init__.py)"]
    assert json.loads((tmp_path / "model" / "config.json").read_text())["corpus"]["name"] == "pkg"
