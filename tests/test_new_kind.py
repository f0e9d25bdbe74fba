"""A new model kind is one module and one registry line: the toy unigram kind through the whole tool.

``toy_unigram.py`` is the module; ``registry.register_kind("unigram",
toy_unigram)`` is the line. With them, ``rnnlens evaluate`` scores it, the
baseline table gives it rows, and the conformance suite (``test_conformance``)
runs every check over it.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter

import pytest

import test_conformance
import toy_unigram
from rnnlens.analyses.baseline_table import build_table
from rnnlens.cli import main
from rnnlens.data.corpus import load_corpus
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError
from rnnlens.models import registry
from rnnlens.models.baselines import BaselineJob, fit_baselines


@pytest.fixture
def unigram_kind():
    """The toy kind registered (the one line), and taken out again so other tests see the plain registry."""
    assert "unigram" not in registry.KINDS
    with pytest.raises(RnnlensError, match="unknown model kind 'unigram'"):
        registry.kind("unigram")
    registry.register_kind("unigram", toy_unigram)
    yield
    registry.KINDS.pop("unigram", None)


@pytest.fixture
def corpus(tmp_path, war_and_peace):
    path = tmp_path / "wp50k.txt"
    path.write_text(war_and_peace[:50_000], encoding="utf-8")
    return load_corpus(text=path)


def hand_computed_test_loss(corpus) -> float:
    """Mean -ln p(c) over the test split's predicted characters (all but its first), p add-one smoothed."""
    counts, train = Counter(corpus.split_text("train")), corpus.split_text("train")
    total, size = len(train), len(corpus.vocab)
    test = corpus.split_text("test")
    return -math.fsum(math.log((counts[c] + 1) / (total + size)) for c in test[1:]) / (len(test) - 1)


def evaluate_json(run_dir, capsys) -> dict:
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--json", "--quiet"]) == 0
    return json.loads(capsys.readouterr().out)


def test_evaluate_scores_the_new_kind(unigram_kind, corpus, tmp_path, capsys):
    run_dir = tmp_path / "unigram"
    registry.fit("unigram", {}, corpus, run_dir, log=lambda line: None)
    result = evaluate_json(run_dir, capsys)
    expected = hand_computed_test_loss(corpus)
    assert result["nats"] == pytest.approx(expected, rel=0, abs=1e-9)
    assert result["chars"] == len(corpus.split_text("test")) - 1
    assert result["bits"] == pytest.approx(expected / math.log(2), rel=0, abs=1e-9)
    assert result["model"]["kind"] == "unigram"
    assert result["model"]["run_dir"] == str(run_dir.resolve())
    assert result["text"]["source"] == f"{corpus.name} test split"
    assert (run_dir / "predictions").is_dir()  # cached like any other kind's predictions
    assert evaluate_json(run_dir, capsys)["nats"] == result["nats"]  # and read back the same


def test_baseline_table_has_a_row_for_the_new_kind(unigram_kind, corpus, tmp_path, capsys):
    out = tmp_path / "table"
    jobs = [BaselineJob("unigram", {}, 0, "unigram"), BaselineJob("ngram", {"order": 2}, 1, "ngram-order2")]
    test = Text(corpus.split_ids("test"), "test split")
    table = build_table(corpus.name, "test", test, fit_baselines(corpus, out, jobs, log=lambda line: None),
                        log=lambda line: None)
    assert table.families() == ["unigram", "n-gram"]
    unigram, bigram = table.lookup("unigram", 0), table.lookup("n-gram", 1)
    assert unigram.run_dir == str(out / "unigram")
    assert unigram.chars == bigram.chars == len(corpus.split_text("test")) - 1
    assert unigram.nats == pytest.approx(evaluate_json(out / "unigram", capsys)["nats"], rel=0, abs=1e-12)
    assert unigram.nats == pytest.approx(hand_computed_test_loss(corpus), rel=0, abs=1e-9)
    assert unigram.std > 0
    assert bigram.nats < unigram.nats  # one character of context helps
    assert "unigram" in table.summary()
    # the table as saved names the new family like the built-in ones
    table.save(tmp_path / "result")
    with open(tmp_path / "result" / "table2.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["family"] for r in rows] == ["unigram", "n-gram"]
    assert float(rows[0]["nats"]) == unigram.nats
    # a second build reuses both run directories
    lines = []
    again = build_table(corpus.name, "test", test, fit_baselines(corpus, out, jobs, log=lines.append), lines.append)
    assert sum("reusing" in line for line in lines) == 2
    assert again.lookup("unigram", 0).nats == unigram.nats


def test_the_conformance_suite_covers_the_new_kind():
    # every check of test_conformance.py is parametrized over these kinds; the toy is among them
    assert "unigram" in test_conformance.KIND_NAMES
    assert test_conformance.spec_for("rnn") == test_conformance.SPECS["rnn"]
    assert toy_unigram.TEST_SPEC == {}
