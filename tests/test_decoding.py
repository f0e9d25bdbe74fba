"""Decoding: top-k and top-p sampling, and beam search, for any predictor."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch

from in_process import refused, rnnlens
from random_run import random_run
from rnnlens.data.corpus import Vocabulary, load_corpus
from rnnlens.models.beam_search import beam_search
from rnnlens.models.registry import load_predictor
from rnnlens.models.sampling import filtered, sample


class TablePredictor:
    """A first-order Markov model over 'abc' with a fixed transition table: row = the last character."""

    kind, description, corpus_spec, identity, context_length = "table", "a table", {}, {}, 1

    def __init__(self, table) -> None:
        self.vocab = Vocabulary("abc")
        self.log_table = np.log(np.asarray(table, dtype=np.float64))

    def predict_log_distributions(self, ids: np.ndarray) -> np.ndarray:
        return self.log_table[np.asarray(ids[:-1])].astype(np.float32)

    def predict_log_probs(self, ids: np.ndarray) -> np.ndarray:
        return self.log_table[ids[:-1], ids[1:]]


# after 'a' the likeliest is 'b', but 'b' leads to a flat row and 'c' to a confident one: greedy is not best
GREEDY_IS_NOT_BEST = [[0.1, 0.5, 0.4], [0.34, 0.33, 0.33], [0.05, 0.05, 0.9]]


def exhaustive(predictor: TablePredictor, prime: str, length: int) -> list[tuple[float, str]]:
    """Every continuation with its total log-probability, best first."""
    scored = []
    for chars in itertools.product("abc", repeat=length):
        ids = predictor.vocab.encode(prime + "".join(chars))
        scored.append((float(predictor.predict_log_probs(ids)[len(prime) - 1:].sum()), "".join(chars)))
    return sorted(scored, key=lambda s: -s[0])


def test_beam_search_finds_the_best_sequences_an_exhaustive_search_finds_where_greedy_does_not():
    model = TablePredictor(GREEDY_IS_NOT_BEST)
    best = exhaustive(model, "a", 3)
    greedy = "".join(sample(model, 3, prime="a", argmax=True))
    assert greedy != best[0][1] == "ccc"
    assert [b.text for b in beam_search(model, "a", 3, 1)] == [greedy]
    beams = beam_search(model, "a", 3, 2)
    assert beams[0].text == "ccc" and beams[0].log_prob == pytest.approx(best[0][0], abs=1e-6)
    assert beams[1].log_prob == pytest.approx(dict((s, p) for p, s in best)[beams[1].text], abs=1e-6)
    wide = beam_search(model, "a", 3, 9)  # 9 = 3 x 3 beams keep every two-character prefix: exact
    assert [b.text for b in wide] == [s for _, s in best[:9]]
    assert [b.log_prob for b in wide] == pytest.approx([p for p, _ in best[:9]], abs=1e-6)


def test_filtered_keeps_the_top_k_and_the_nucleus_renormalised():
    log_dist = torch.log(torch.tensor([0.15, 0.5, 0.05, 0.3]))
    assert filtered(log_dist, top_k=2).tolist() == pytest.approx([0, 0.5 / 0.8, 0, 0.3 / 0.8])
    assert filtered(log_dist, top_p=0.8).tolist() == pytest.approx([0, 0.5 / 0.8, 0, 0.3 / 0.8])
    assert filtered(log_dist, top_p=0.81).tolist() == pytest.approx([0.15 / 0.95, 0.5 / 0.95, 0, 0.3 / 0.95])
    assert filtered(log_dist, top_k=1, top_p=0.9).tolist() == [0, 1, 0, 0]
    hot = torch.softmax(torch.log(torch.tensor([0.15, 0.5, 0.05, 0.3])) / 2, dim=-1)
    assert filtered(log_dist, temperature=2, top_k=3).tolist() == pytest.approx(
        (hot * torch.tensor([1, 1, 0, 1])).div(1 - hot[2]).tolist())
    tied = torch.log(torch.tensor([0.4, 0.4, 0.2]))
    assert filtered(tied, top_k=1).tolist() == [1, 0, 0]  # the first of equals, as argmax takes


def test_top_k_samples_are_drawn_from_the_k_likeliest_in_their_renormalised_proportions():
    model = TablePredictor([[0.2, 0.5, 0.3]] * 3)
    drawn = "".join(sample(model, 2000, prime="a", seed=3, top_k=2))
    assert set(drawn) == {"b", "c"}
    assert drawn.count("b") / len(drawn) == pytest.approx(0.5 / 0.8, abs=0.043)  # 4 standard errors


@pytest.fixture(scope="module")
def runs(tmp_path_factory, war_and_peace):
    """A random 2-layer GRU and a 4-gram model of 5,000 characters."""
    base = tmp_path_factory.mktemp("decoding")
    (base / "corpus.txt").write_text(war_and_peace[:5000], encoding="utf-8")
    corpus = load_corpus(text=base / "corpus.txt")
    gru, _ = random_run(base / "gru", corpus, "gru", layers=2, hidden=12, seed=1)
    ngram = base / "ngram"
    assert rnnlens("ngram", "--text", base / "corpus.txt", "--order", "4", "--quiet", "--out", ngram).code == 0
    return {"gru": gru, "ngram": ngram}


@pytest.mark.parametrize("kind", ["gru", "ngram"])
def test_top_k_1_and_beam_1_give_what_argmax_gives(runs, kind):
    argmax = rnnlens("sample", runs[kind], "--length", "60", "--prime", "The ", "--argmax", "--quiet")
    assert argmax.code == 0, argmax.err
    for seed in ("1", "2"):
        top_1 = rnnlens("sample", runs[kind], "--length", "60", "--prime", "The ", "--top-k", "1", "--seed", seed,
                        "--temperature", "1.5")
        assert top_1.out == argmax.out and f"(seed {seed}, temperature 1.5, top-k 1)" in top_1.err
    beam = json.loads(rnnlens("sample", runs[kind], "--length", "60", "--prime", "The ", "--beam", "1", "--json").out)
    assert [s["text"] + "\n" for s in beam["samples"]] == [argmax.out]


@pytest.mark.parametrize("kind", ["gru", "ngram"])
def test_beams_come_best_first_with_the_log_prob_the_model_gives_their_text(runs, kind):
    ran = rnnlens("sample", runs[kind], "--length", "20", "--prime", "he s", "--beam", "4", "--json")
    assert ran.code == 0, ran.err
    samples = json.loads(ran.out)["samples"]
    predictor = load_predictor(runs[kind])
    rescored = [float(predictor.predict_log_probs(predictor.vocab.encode(s["text"]))[3:].sum()) for s in samples]
    assert [s["log_prob"] for s in samples] == pytest.approx(rescored, abs=1e-4)
    assert rescored == sorted(rescored, reverse=True) and len({s["text"] for s in samples}) == 4
    assert all(len(s["text"]) == 24 and s["text"].startswith("he s") for s in samples)
    text = rnnlens("sample", runs[kind], "--length", "20", "--prime", "he s", "--beam", "4").out.splitlines()
    assert text[0] == f"#1: {samples[0]['log_prob']:.4f} nats ({samples[0]['log_prob'] / math.log(2):.4f} bits)"
    assert text[1::2] == [s["text"] for s in samples]


def test_beam_refuses_sampling_options_and_an_empty_prime(runs):
    refused(rnnlens("sample", runs["ngram"], "--beam", "2", "--top-k", "3", "--prime", "a"), "sample",
            "draws nothing: drop --top-k", code=1)
    refused(rnnlens("sample", runs["ngram"], "--beam", "2"), "sample", "starts from a prime.*with --prime", code=1)
    refused(rnnlens("sample", runs["ngram"], "--top-p", "0"), "sample", "top-p", code=2)
