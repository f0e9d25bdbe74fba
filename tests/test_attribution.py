"""rnnlens attribute: gradient x input against autograd written here, integrated gradients against a plain
Riemann sum and its completeness, a hand-built shift register whose prediction reads one character only, and
the refusals (kinds without gradients, positions with nothing before or after them)."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from in_process import refused, rnnlens
from random_run import random_run
from rnnlens.analyses.attribution import attribute
from rnnlens.data.corpus import Vocabulary, load_corpus
from rnnlens.models.registry import load_predictor
from rnnlens.models.rnn.network import CharRNN, ModelConfig
from rnnlens.models.rnn.predictor import RNNPredictor

TEXT = 'He said "yes, and then no" and left.\nShe said "why'


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("attribution")
    (base / "corpus.txt").write_text(TEXT * 20, encoding="utf-8")
    (base / "text.txt").write_text(TEXT, encoding="utf-8")
    corpus = load_corpus(text=base / "corpus.txt")
    lstm, _ = random_run(base / "lstm", corpus, layers=2, hidden=12)
    assert rnnlens("ngram", "--text", base / "corpus.txt", "--order", "2", "--quiet", "--out", base / "ngram").code == 0
    return lstm, base / "ngram", base / "text.txt"


def log_prob_at(model: CharRNN, one_hot: torch.Tensor, target: int) -> torch.Tensor:
    """ln p(target) after ``one_hot`` ``(B, T, V)``, with the network's modules called directly."""
    outputs, _ = model.rnn(one_hot)
    return torch.log_softmax(model.decoder(outputs[:, -1]), -1)[:, target]


def test_gradient_x_input_is_the_gradient_at_each_read_character(runs):
    lstm = load_predictor(runs[0])
    position = 30
    result = attribute(lstm, TEXT, position, "gradient_x_input", window=20)
    x = F.one_hot(torch.as_tensor(lstm.vocab.encode(TEXT[10:30])), len(lstm.vocab)).float()[None].requires_grad_()
    value = log_prob_at(lstm.model, x, int(lstm.vocab.encode(TEXT[30])[0]))
    gradient, = torch.autograd.grad(value.sum(), x)
    assert result.start == 10 and result.chars == TEXT[10:30] and result.target == TEXT[30]
    assert result.log_prob == pytest.approx(value.item(), abs=1e-6)
    assert torch.allclose(torch.as_tensor(result.scores).float(), (gradient * x).sum(-1)[0], atol=1e-6)


def test_integrated_gradients_add_up_to_the_change_from_no_characters(runs):
    lstm = load_predictor(runs[0])
    target = int(lstm.vocab.encode("y")[0])
    result = attribute(lstm, TEXT, len(TEXT), target="y", window=12, steps=200)
    x = F.one_hot(torch.as_tensor(lstm.vocab.encode(TEXT[-12:])), len(lstm.vocab)).float()[None]
    with torch.no_grad():
        change = (log_prob_at(lstm.model, x, target) - log_prob_at(lstm.model, torch.zeros_like(x), target)).item()
    assert result.scores.sum() == pytest.approx(change, abs=1e-3)
    assert abs(result.completeness_gap) < 1e-3 and abs(change) > 0.01
    alphas = (torch.arange(2000) + 0.5) / 2000  # midpoint rule of the path integral, written here
    path = (alphas[:, None, None] * x).requires_grad_()
    gradient, = torch.autograd.grad(log_prob_at(lstm.model, path, target).sum(), path)
    riemann = (x * gradient.mean(0, keepdim=True)).sum(-1)[0]
    assert torch.allclose(torch.as_tensor(result.scores).float(), riemann, atol=2e-3)


def shift_register(vocab_size: int, back: int) -> CharRNN:
    """A tanh RNN whose state holds the last ``back`` characters, one block of units each, and whose prediction
    reads only the oldest block: the character ``back`` places before the predicted one."""
    model = CharRNN(ModelConfig("rnn", vocab_size, vocab_size * back, 1))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        model.rnn.weight_ih_l0[:vocab_size] = 1.5 * torch.eye(vocab_size)  # unsaturated: gradients pass
        for block in range(1, back):
            rows = slice(block * vocab_size, (block + 1) * vocab_size)
            model.rnn.weight_hh_l0[rows, rows.start - vocab_size:rows.start] = 1.5 * torch.eye(vocab_size)
        model.decoder.weight[:, (back - 1) * vocab_size:] = 4 * torch.eye(vocab_size)
    return model.eval()


@pytest.mark.parametrize("method", ["integrated_gradients", "gradient_x_input"])
def test_a_model_reading_one_character_back_puts_all_the_score_there(method):
    vocab, back = Vocabulary("abcde"), 3
    predictor = RNNPredictor(shift_register(len(vocab), back), vocab, {})
    text = "abcdeedcbaab"
    result = attribute(predictor, text, 10, method, target=text[10 - back])
    scores = torch.as_tensor(result.scores)
    assert int(scores.abs().argmax()) == 10 - back
    assert scores[10 - back] > 0.01  # the character it copies raises its own log-probability
    assert scores.abs().sum() - scores[10 - back].abs() < 1e-6  # and nothing else moves it


def test_the_command_saves_what_it_prints(runs, tmp_path):
    lstm_dir, _, text = runs
    ran = rnnlens("attribute", lstm_dir, "--text", text, "--position", 25, "--method", "gxi", "--out",
                  tmp_path / "out", "--json", "--quiet")
    assert ran.code == 0, ran.err
    printed = json.loads(ran.out)
    assert printed == json.loads((tmp_path / "out" / "attribution.json").read_text())
    assert {"model", "position", "target", "log_prob", "method", "characters"} <= printed.keys()
    expected = attribute(load_predictor(lstm_dir), TEXT, 25, "gradient_x_input")
    assert [c["score"] for c in printed["characters"]] == pytest.approx(list(expected.scores), abs=1e-9)
    assert [c["char"] for c in printed["characters"]] == list(TEXT[:25]) and printed["target"] == TEXT[25]
    assert (tmp_path / "out" / "attribution.png").stat().st_size > 0


def test_refuses_an_ngram_and_positions_without_characters_on_both_sides(runs, tmp_path):
    lstm_dir, ngram_dir, text = runs
    refused(rnnlens("attribute", ngram_dir, "--text", text, "--position", 5, "--out", tmp_path / "a"), "attribute",
            "needs a differentiable model", "ngram is an n-gram")
    for position in (0, len(TEXT)):
        refused(rnnlens("attribute", lstm_dir, "--text", text, "--position", position, "--out", tmp_path / "b"),
                "attribute", f"position {position} is outside 1..{len(TEXT) - 1}", "with --position")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
