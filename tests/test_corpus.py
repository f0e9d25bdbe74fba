"""Corpora: named datasets, splits, vocabulary, lossless UTF-8, refused inputs."""

import numpy as np
import pytest

from rnnlens.data.corpus import Vocabulary, load_corpus, read_text
from rnnlens.errors import RnnlensError


def test_named_datasets_match_the_data_readme(data_dir):
    wp = load_corpus(dataset="war-and-peace", data_dir=data_dir)
    assert len(wp) == 3_196_211 and len(wp.vocab) == 82
    assert wp.bounds("train") == (0, 2_556_968)
    assert wp.bounds("val") == (2_556_968, 2_876_589)
    assert wp.bounds("test") == (2_876_589, 3_196_211)
    linux = load_corpus(dataset="linux-kernel", data_dir=data_dir)
    assert len(linux) == 6_211_586 and len(linux.vocab) == 97
    assert linux.bounds("val") == (5_590_427, 5_901_006)
    assert linux.bounds("test") == (5_901_006, 6_211_586)


def test_data_dir_comes_from_the_environment(data_dir, monkeypatch):
    monkeypatch.setenv("RNNLENS_DATA", str(data_dir))
    assert load_corpus(dataset="war-and-peace").sha256.startswith("b0fc81c3")


def test_a_changed_dataset_file_is_refused(tmp_path):
    (tmp_path / "war_and_peace.txt").write_text("not the book", encoding="utf-8")
    with pytest.raises(RnnlensError, match="sha256"):
        load_corpus(dataset="war-and-peace", data_dir=tmp_path)


def test_encoding_round_trips_non_ascii_text_losslessly():
    text = "Füße — «naïve» 日本語 🙂\ttab\nline"
    vocab = Vocabulary.from_text(text)
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and len(ids) == len(text)
    assert vocab.decode(ids) == text


def test_unknown_characters_are_listed_or_skipped():
    vocab = Vocabulary.from_text("abc ")
    with pytest.raises(RnnlensError, match=r"2 characters outside .*'é' \(2\)"):
        vocab.encode("abé é")
    assert vocab.decode(vocab.encode("abé é", skip_unknown=True)) == "ab "


def test_a_directory_is_read_in_sorted_order_of_relative_paths(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.txt").write_text("second", encoding="utf-8")
    (tmp_path / "a.txt").write_text("first ", encoding="utf-8")
    (tmp_path / ".hidden").write_text("never", encoding="utf-8")
    assert read_text(tmp_path) == "first second"


def test_bad_input_files_are_refused_with_a_reason(bad_text_file):
    path, message = bad_text_file
    with pytest.raises(RnnlensError, match=message):
        read_text(path)
