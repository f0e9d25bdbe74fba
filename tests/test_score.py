"""rnnlens score: per-character log-probabilities, ranks and argmax of any model, totals equal to evaluate's."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
import torch

from in_process import refused, rnnlens
from random_run import random_run
from rnnlens.data.corpus import load_corpus


@pytest.fixture(scope="module")
def runs(tmp_path_factory, war_and_peace):
    """A random 1-layer LSTM and a trigram model of 5,000 characters, and a text file of 600 other ones."""
    base = tmp_path_factory.mktemp("score")
    (base / "corpus.txt").write_text(war_and_peace[:5000], encoding="utf-8")
    corpus = load_corpus(text=base / "corpus.txt")
    lstm, model = random_run(base / "lstm", corpus, seed=4)
    ngram = base / "ngram"
    assert rnnlens("ngram", "--text", base / "corpus.txt", "--order", "3", "--quiet", "--out", ngram).code == 0
    text = base / "text.txt"
    text.write_text("".join(c for c in war_and_peace[10_000:10_600] if c in corpus.vocab.chars), encoding="utf-8")
    return {"lstm": lstm, "ngram": ngram}, model, corpus, text


def test_each_character_has_the_log_prob_rank_and_argmax_a_plain_forward_pass_gives(runs):
    dirs, model, corpus, text = runs
    ran = rnnlens("score", dirs["lstm"], text, "--json")
    assert ran.code == 0, ran.err
    report = json.loads(ran.out)
    ids = torch.as_tensor(corpus.vocab.encode(text.read_text(encoding="utf-8")))
    with torch.no_grad():
        log_dist = torch.log_softmax(model(ids[None, :-1])[0][0].double(), dim=-1)
    true = log_dist[torch.arange(len(ids) - 1), ids[1:]]
    rows = report["characters"]
    assert [r["char"] for r in rows] == list(text.read_text(encoding="utf-8")[1:])
    assert np.allclose([r["log_prob"] for r in rows], true.numpy(), atol=1e-5)
    assert np.allclose([r["log2_prob"] for r in rows], true.numpy() / math.log(2), atol=1e-5)
    assert [r["rank"] for r in rows] == (log_dist > true[:, None]).sum(1).add(1).tolist()
    assert [r["argmax"] for r in rows] == [corpus.vocab.chars[i] for i in log_dist.argmax(1)]
    assert 0 < sum(r["rank"] == 1 for r in rows) < len(rows)  # some hits and some misses: ranks are tested
    assert report["nats"] == pytest.approx(-float(true.mean()), abs=1e-6)


@pytest.mark.parametrize("kind", ["lstm", "ngram"])
def test_totals_equal_evaluates_and_csv_holds_the_json_rows(runs, kind):
    dirs, _, _, text = runs
    scored = json.loads(rnnlens("score", dirs[kind], text, "--json").out)
    evaluated = json.loads(rnnlens("evaluate", dirs[kind], "--text", text, "--json").out)
    assert {k: scored[k] for k in evaluated} == evaluated
    assert len(scored["characters"]) == evaluated["chars"] == 599
    table = list(csv.DictReader(io.StringIO(rnnlens("score", dirs[kind], text, "--csv").out)))
    assert [(r["char"], float(r["log_prob"]), int(r["rank"]), r["argmax"]) for r in table] == \
        [(r["char"], r["log_prob"], r["rank"], r["argmax"]) for r in scored["characters"]]
    assert [int(r["position"]) for r in table] == list(range(1, 600))


def test_unknown_characters_are_refused_or_skipped_as_evaluate_does(runs, tmp_path):
    dirs, _, _, _ = runs
    text = tmp_path / "snow.txt"
    text.write_text("The Tsar ☃ said: ☃ and he", encoding="utf-8")
    refused(rnnlens("score", dirs["ngram"], text), "score", "2 characters outside.*--skip-unknown", code=1)
    skipped = json.loads(rnnlens("score", dirs["ngram"], text, "--skip-unknown", "--json").out)
    assert "".join(r["char"] for r in skipped["characters"]) == "he Tsar  said:  and he"
    assert skipped == json.loads(rnnlens("score", dirs["ngram"], text, "--skip-unknown", "--json").out)


def test_the_table_spells_whitespace_and_ends_with_evaluates_line(runs):
    dirs, _, _, text = runs
    lines = rnnlens("score", dirs["ngram"], text).out.splitlines()
    assert lines[0].split() == ["position", "char", "nats", "bits", "rank", "argmax"]
    assert len(lines) == 1 + 599 + 1 and "<sp>" in " ".join(lines) and "nats/char" in lines[-1]
