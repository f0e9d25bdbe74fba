"""export-lstmvis: a trace written in LSTMVis's files (states HDF5, word ids, dictionary, lstm.yml) reads back equal."""

import h5py
import numpy as np
import pytest
import yaml

from rnnlens.cli import main
from rnnlens.data.corpus import load_corpus
from rnnlens.data.spelling import unspell
from rnnlens.store.runs import save_tensors, write_config
from rnnlens.store.traces import open_trace
from test_trace import random_model

# every kind of character the dictionary must spell: spaces, newlines, tabs, a no-break space, a vertical tab,
# accents, a '<'
TEXT = "Le \"café\"\tcoûte <3 €.\nPierre\u00a0dit: « non »\x0b\n\n\tfin\n" * 20


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory):
    """The trace of a random 2-layer LSTM (hidden 8) over TEXT, as rnnlens trace writes it."""
    base = tmp_path_factory.mktemp("lstmvis")
    (base / "text.txt").write_bytes(TEXT.encode("utf-8"))
    corpus = load_corpus(text=base / "text.txt")
    model = random_model("lstm", 2, len(corpus.vocab), hidden=8, seed=3)
    run = base / "run"
    write_config(run, "rnn", {"model": model.config.to_dict(), "vocabulary": corpus.vocab.chars,
                              "corpus": corpus.spec()})
    save_tensors(run / "best.safetensors", {f"model.{k}": v for k, v in model.state_dict().items()})
    assert main(["trace", str(run), "--text", str(base / "text.txt"), "--out", str(base / "trace"), "--quiet"]) == 0
    return base / "trace"


def read_dictionary(path) -> dict[int, str]:
    """LSTMVis's reading of a .dict file: each line split on whitespace into a word and its id."""
    words = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        word, number = line.split()
        words[int(number)] = unspell(word)
    return words


def test_the_files_read_back_equal_the_trace(trace_dir, tmp_path, capsys):
    out = tmp_path / "project"
    assert main(["export-lstmvis", str(trace_dir), "--out", str(out), "--name", "café model"]) == 0
    assert "wrote" in capsys.readouterr().out
    trace = open_trace(trace_dir)
    T = trace.positions
    config = yaml.safe_load((out / "lstm.yml").read_text(encoding="utf-8"))
    assert config["name"] == "café model" and config["files"] == {"states": "states.h5", "word_ids": "words.h5",
                                                                  "words": "words.dict"}
    assert config["word_sequence"] == {"file": "word_ids", "path": "word_ids", "dict_file": "words"}
    types = {(t["layer"], t["path"]): t for t in config["states"]["types"]}
    keys = [k for k in trace if k.startswith("layer")]
    assert len(types) == len(keys) == 12  # 2 layers x hidden, cell, 3 gates, candidate
    with h5py.File(out / config["files"]["states"], "r") as states:
        assert sorted(states) == sorted(k.replace(".", "_") for k in keys)
        for key in keys:
            data = states[key.replace(".", "_")]
            assert data.shape == (T, 8) and data.dtype == np.float32
            assert np.array_equal(data[()], trace[key]), key
            entry = types[(int(key[5]), key.replace(".", "_"))]
            quantity = key.split(".")[1]
            assert entry["type"] == {"cell": "state", "hidden": "output"}.get(quantity, quantity)
            assert entry.get("transform", "tanh") == ("tanh" if quantity == "cell" else "none")  # LSTMVis's tanh(c)
            assert entry.get("unsigned", False) == quantity.endswith("_gate")
    words = read_dictionary(out / "words.dict")
    assert sorted(words) == list(range(1, len(set(trace.text)) + 1)) and set(words.values()) == set(trace.text)
    spelled = (out / "words.dict").read_text(encoding="utf-8").split()[::2]
    assert {"<sp>", "<nl>", "<tab>", "<U+00A0>", "<U+000B>", "<", "é"} <= set(spelled)
    with h5py.File(out / "words.h5", "r") as ids:
        sequence = ids["word_ids"][()]
    assert sequence.shape == (T,) and "".join(words[i] for i in sequence) == trace.text[:T]  # id t: text[t], row t


def test_quantities_choose_the_datasets_and_a_user_directory_is_never_written_into(trace_dir, tmp_path, capsys):
    out = tmp_path / "cells-only"
    assert main(["export-lstmvis", str(trace_dir), "--out", str(out), "--quantities", "cell", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    with h5py.File(out / "states.h5", "r") as states:
        assert sorted(states) == ["layer1_cell", "layer2_cell"]
    assert main(["export-lstmvis", str(trace_dir), "--out", str(out), "--quantities", "hidden", "--quiet"]) == 0  # replaced
    with h5py.File(out / "states.h5", "r") as states:
        assert sorted(states) == ["layer1_hidden", "layer2_hidden"]
    assert main(["export-lstmvis", str(trace_dir), "--out", str(out), "--quantities", "tanh"]) == 1
    assert "no tanh; its quantities are candidate, cell" in capsys.readouterr().err
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert main(["export-lstmvis", str(trace_dir), "--out", str(mine)]) == 1
    assert "not replaced" in capsys.readouterr().err and (mine / "notes.txt").read_text() == "keep me"
    assert main(["export-lstmvis", str(tmp_path), "--out", str(tmp_path / "x")]) == 1  # not a trace
    assert "not a finished trace" in capsys.readouterr().err
