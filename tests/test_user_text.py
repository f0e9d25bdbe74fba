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


def test_a_new_run_with_few_updates_an_epoch_is_warned_with_the_quick_presets_count(tmp_path):
    text = tmp_path / "small.txt"
    text.write_text("abcab cabba " * 100, encoding="utf-8")  # 1,200 characters: 960 for training
    ran = rnnlens("train", "--text", text, "--model", "rnn", "--layers", "1", "--hidden", "2", "--epochs", "1",
                  "--batch-size", "4", "--seq-length", "8", "--quiet", "--out", tmp_path / "run")
    assert ran.code == 0, ran.err
    updates, quick = (960 - 1) // (4 * 8), (960 - 1) // (16 * 50)  # 29 and 1: the quick preset gives fewer here
    warning = [line for line in ran.err.splitlines() if "warning" in line]
    assert warning == [f"rnnlens train: warning: an epoch has only {updates} updates (960 training characters in "
                       "batches of 4 streams x 8 steps), fewer than about 500: the model learns little per epoch"]
    assert quick < updates


def test_the_warning_names_the_quick_presets_batches_only_where_they_give_more_and_stops_at_500():
    from rnnlens.models.rnn.trainable import warn_few_updates
    from rnnlens.models.rnn.fit import TrainOptions

    with pytest.warns(UserWarning, match=r"only 104 updates .* give 1,300$"):
        warn_few_updates(104, 1_040_001, TrainOptions())  # the user's 1.3 MB directory of Python
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_few_updates(500, 5_000_001, TrainOptions())


def test_train_help_says_its_batches_differ_from_the_quick_presets():
    usage = " ".join(rnnlens("train", "--help").out.split())
    assert "the paper's 100 streams x 100 steps by default" in usage
    assert "quick preset trains with 16 x 50" in usage and "fewer than 500 an epoch is warned" in usage
