"""rnnlens context: the loss of a model seeing only the last d characters, both ways of cutting the context,
recomputed here by reading each window alone; an n-gram's curve is flat beyond its n."""

from __future__ import annotations

import json

import numpy as np
import pytest

from in_process import rnnlens
from random_run import random_run
from rnnlens.analyses.context_curve import context_curves, draw_positions
from rnnlens.data.corpus import load_corpus
from rnnlens.data.texts import Text
from rnnlens.models.registry import load_predictor

DISTANCES = [1, 2, 3, 5, 8]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, war_and_peace):
    base = tmp_path_factory.mktemp("context")
    (base / "corpus.txt").write_text(war_and_peace[:20_000], encoding="utf-8")
    corpus = load_corpus(text=base / "corpus.txt")
    lstm, _ = random_run(base / "lstm", corpus, layers=2, hidden=12)
    assert rnnlens("ngram", "--text", base / "corpus.txt", "--order", "3", "--quiet", "--out", base / "ngram").code == 0
    text = base / "text.txt"
    text.write_text("".join(c for c in war_and_peace[40_000:43_000] if c in corpus.vocab.chars), encoding="utf-8")
    return lstm, base / "ngram", text


def test_each_point_is_the_loss_of_each_window_read_alone(runs):
    lstm_dir, _, text_file = runs
    lstm = load_predictor(lstm_dir)
    chars = text_file.read_text(encoding="utf-8")
    text = Text(lstm.vocab.encode(chars), "text")
    result = context_curves({"lstm": lstm}, text, chars, DISTANCES, positions=40, seed=3)
    at, _, uniform = draw_positions(chars, 40, DISTANCES[-1] - 1, 3)
    curve = result.curves[0]
    assert np.allclose(curve.full, -lstm.predict_log_probs(text.ids)[at], atol=1e-6)
    for row, d in zip(curve.reset, DISTANCES):
        alone = [-lstm.predict_log_probs(text.ids[t - d + 1:t + 2])[-1] for t in at]
        assert np.allclose(row, alone, atol=1e-5)
    assert not np.allclose(curve.reset[0], curve.replaced[0])  # a random span before it changes an RNN's state
    assert uniform.sum() == 40 and len(at) >= 40


def test_an_ngrams_curve_is_flat_beyond_its_n_and_the_same_both_ways(runs, tmp_path):
    lstm_dir, ngram_dir, text_file = runs
    ran = rnnlens("context", lstm_dir, ngram_dir, "--text", text_file, "--distances", *map(str, DISTANCES),
                  "--positions", "50", "--out", tmp_path / "c", "--json")
    assert ran.code == 0, ran.err
    report = json.loads(ran.out)
    assert [m["name"] for m in report["models"]] == ["lstm", "ngram"]
    ngram = report["models"][1]
    nats = [p["nats"] for p in ngram["curve"]]
    # from its n on, what comes before the last d characters is never seen (below it, the replaced way shows
    # it random characters where the reset way shows it the start of a text)
    assert nats[1:] == [p["nats"] for p in ngram["curve_reset"]][1:]
    assert all(n == pytest.approx(ngram["full_nats"], abs=1e-9) for n in nats[1:])  # order 3: 2 characters seen
    assert nats[0] > ngram["full_nats"] and ngram["effective_context"] == 2
    assert (tmp_path / "c" / "context.png").is_file()
