"""Table 2: one run directory per model, reused on a second run; CSV/JSON agree with evaluate."""

import csv
import json
import re

import numpy as np
import pytest

from rnnlens.cli import main
from rnnlens.data.corpus import load_corpus
from rnnlens.analyses.baseline_table import loss_differences
from rnnlens.analyses.evaluation import evaluate
from rnnlens.analyses.intervals import difference_interval
from rnnlens.models.registry import load_predictor


def test_baselines_command_writes_table_2_and_reuses_its_models(wp_slice_file, tmp_path, capsys):
    out = tmp_path / "table"
    args = ["baselines", "--text", str(wp_slice_file), "--out", str(out), "--ngram", "1", "4", "--nnn", "2",
            "--hidden", "8", "--epochs", "1", "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr()
    assert "Table 2" in printed.out and "reusing" not in printed.err
    rows = list(csv.DictReader(open(out / "table2" / "table2.csv")))
    assert [(r["family"], r["context"], r["detail"]) for r in rows] == [
        ("n-gram", "1", "order-2 n-gram (1 characters of context)"),
        ("n-gram", "4", "order-5 n-gram (4 characters of context)"), ("n-NN", "2", "2-NN, hidden 8")]
    corpus = load_corpus(text=wp_slice_file)
    for row in rows:
        expected = evaluate(load_predictor(row["run_dir"]), corpus.split_ids("test"))
        assert float(row["nats"]) == pytest.approx(expected.nats, abs=1e-9)
        assert float(row["std"]) == pytest.approx(expected.std, abs=1e-9) and int(row["chars"]) == 19_999
    assert float(rows[1]["nats"]) < float(rows[0]["nats"])  # four characters of context beat one
    table = json.loads((out / "table2" / "table2.json").read_text())
    assert table["unit"] == "nats/char" and len(table["rows"]) == 3 and (out / "table2" / "table2.png").is_file()
    for row, saved in zip(rows, table["rows"]):
        assert saved["interval"]["estimate"] == pytest.approx(float(row["nats"]), abs=1e-12)
        assert float(row["low"]) == saved["interval"]["low"] < saved["nats"] < saved["interval"]["high"]
    assert table["differences"] == []  # no n has both an n-gram and an n-NN here

    assert main(args) == 0  # everything is reused, same numbers
    assert capsys.readouterr().err.count("reusing") == 3
    assert list(csv.DictReader(open(out / "table2" / "table2.csv"))) == rows


def test_an_nnn_row_trained_with_other_defaults_is_not_reused(wp_slice_file, tmp_path, capsys):
    out = tmp_path / "table"
    args = ["baselines", "--text", str(wp_slice_file), "--out", str(out), "--ngram", "--nnn", "1", "--hidden", "8",
            "--epochs", "1", "--quiet"]
    assert main([*args, "--optimizer", "rmsprop"]) == 0  # as an older rnnlens, whose default it was, trained it
    before = (out / "nnn-n1" / "config.json").read_text()
    capsys.readouterr()
    assert main(args) == 1
    assert re.search(r"nnn-n1 was trained with optimizer 'rmsprop', not 'adam'; it is not reused", capsys.readouterr().err)
    assert (out / "nnn-n1" / "config.json").read_text() == before


def test_loss_differences_pair_the_families_of_each_n_on_the_same_positions():
    rng = np.random.default_rng(0)
    losses = {("n-gram", 1): rng.gamma(2, 1, 3000), ("n-gram", 2): rng.gamma(2, 1, 3000)}
    losses[("n-NN", 1)] = losses[("n-gram", 1)] + 0.1
    (pair,) = loss_differences(losses)
    assert pair["context"] == 1 and pair["families"] == ["n-gram", "n-NN"]
    assert pair["loss_difference"] == difference_interval(losses[("n-gram", 1)], losses[("n-NN", 1)]).to_dict()
    assert pair["loss_difference"]["estimate"] == pytest.approx(-0.1) and pair["loss_difference"]["high"] < 0
