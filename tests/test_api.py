"""rnnlens.trace and rnnlens.predict_next on a string of the user's choice, against a plain torch loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnlens
from in_process import rnnlens as run_rnnlens
from random_run import random_run
from rnnlens.data.corpus import load_corpus
from rnnlens.errors import RnnlensError

CORPUS = "the cat sat on the mat, the dog sat on the log.\n" * 30
TEXT = "the dog sat"  # 11 characters: 10 predictions inside it, one after its end


@pytest.fixture(scope="module")
def lstm(tmp_path_factory):
    """A random 1-layer LSTM's run directory (hidden 8) and its weights."""
    base = tmp_path_factory.mktemp("api")
    (base / "corpus.txt").write_text(CORPUS, encoding="utf-8")
    run, model = random_run(base / "lstm", load_corpus(text=base / "corpus.txt"), hidden=8, seed=3)
    return run, model.state_dict(), load_corpus(text=base / "corpus.txt")


def plain_lstm(weights: dict, ids: list[int], vocab_size: int):
    """A plain torch.nn.LSTMCell loop over one-hot ids: each step's hidden, cell and softmax, ``(N, ...)``."""
    cell = torch.nn.LSTMCell(vocab_size, weights["rnn.weight_hh_l0"].shape[1]).double()
    cell.load_state_dict({k: weights[f"rnn.{k}_l0"].double() for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
    h = c = torch.zeros(1, cell.hidden_size, dtype=torch.float64)
    hidden, cells, probs = [], [], []
    with torch.no_grad():
        for i in ids:
            h, c = cell(torch.nn.functional.one_hot(torch.tensor([i]), vocab_size).double(), (h, c))
            logits = h @ weights["decoder.weight"].double().T + weights["decoder.bias"].double()
            hidden.append(h[0].numpy()), cells.append(c[0].numpy()), probs.append(torch.softmax(logits[0], -1).numpy())
    return np.array(hidden), np.array(cells), np.array(probs)


def test_trace_of_a_string_has_n_minus_1_rows_equal_to_a_plain_lstm_loop(lstm):
    run, weights, corpus = lstm
    ids = corpus.vocab.encode(TEXT).tolist()
    hidden, cells, probs = plain_lstm(weights, ids, len(corpus.vocab))
    trace = rnnlens.trace(run, TEXT)
    assert trace.text == TEXT and trace.positions == len(TEXT) - 1 == 10
    assert trace["layer1.hidden"].shape == (10, 8)
    np.testing.assert_allclose(trace["layer1.hidden"], hidden[:-1], atol=1e-5)
    np.testing.assert_allclose(trace["layer1.cell"], cells[:-1], atol=1e-5)
    np.testing.assert_allclose(trace["prob"], probs[np.arange(10), ids[1:]], atol=1e-5)
    assert set(rnnlens.trace(run, TEXT, keys=["layer1.cell"])) == {"layer1.cell"}


def test_predict_next_gives_each_prediction_and_the_one_after_the_end(lstm):
    run, weights, corpus = lstm
    ids = corpus.vocab.encode(TEXT).tolist()
    _, _, probs = plain_lstm(weights, ids, len(corpus.vocab))
    predicted = rnnlens.predict_next(rnnlens.load_predictor(run), TEXT)  # a loaded predictor works as a path does
    assert predicted.distributions.shape == (11, len(corpus.vocab)) and predicted.log_probs.shape == (10,)
    np.testing.assert_allclose(predicted.distributions, probs, atol=1e-5)
    np.testing.assert_allclose(predicted.next, probs[-1], atol=1e-5)
    np.testing.assert_allclose(predicted.log_probs, np.log(probs[np.arange(10), ids[1:]]), atol=1e-5)
    best = np.argsort(-probs[-1])[:3]
    assert [c for c, _ in predicted.top(3)] == [corpus.vocab.chars[j] for j in best]
    assert predicted.top(1, position=0)[0][1] == pytest.approx(probs[0].max(), abs=1e-5)


def test_predict_next_works_for_any_kind_and_a_one_character_text(lstm, tmp_path):
    _, _, corpus = lstm
    text_file = tmp_path / "corpus.txt"
    text_file.write_text(CORPUS, encoding="utf-8")
    assert run_rnnlens("ngram", "--text", text_file, "--order", "2", "--out", tmp_path / "bigram", "--quiet").code == 0
    bigram = rnnlens.predict_next(tmp_path / "bigram", "o")
    assert bigram.log_probs.shape == (0,) and bigram.distributions.shape == (1, len(corpus.vocab))
    # a bigram's next character after "o" is mostly what follows "o" in training: "n" (on), "g" (dog, log)
    counts = {c: corpus.split_text("train").count("o" + c) for c in "ng"}
    assert {c for c, _ in bigram.top(2)} == {c for c in counts if counts[c]}
    with pytest.raises(RnnlensError, match="no internal states to trace"):
        rnnlens.trace(tmp_path / "bigram", TEXT)


def test_unknown_characters_are_refused_naming_skip_unknown_or_dropped(lstm):
    run, _, _ = lstm
    with pytest.raises(RnnlensError, match=r"1 characters outside .*'Z'") as refused:
        rnnlens.predict_next(run, "the Zog")
    assert refused.value.option == "skip_unknown"
    assert rnnlens.trace(run, "the Zog", skip_unknown=True).text == "the og"
    with pytest.raises(RnnlensError, match="at least one character"):
        rnnlens.trace(run, "")
