"""Dynamic evaluation: each segment scored before the model learns from it, the run's weights untouched."""

from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from in_process import refused, rnnlens
from random_run import random_run
from rnnlens.data.corpus import load_corpus
from rnnlens.models.dynamic_evaluation import SEGMENT, DynamicEvaluation
from rnnlens.models.registry import load_predictor

LR, DECAY = 0.5, 0.2


@pytest.fixture(scope="module")
def runs(tmp_path_factory, war_and_peace):
    """A random 2-layer LSTM and a bigram model of 5,000 characters, and a text file of 230 other ones."""
    base = tmp_path_factory.mktemp("dynamic")
    (base / "corpus.txt").write_text(war_and_peace[:5000], encoding="utf-8")
    corpus = load_corpus(text=base / "corpus.txt")
    lstm, model = random_run(base / "lstm", corpus, layers=2, hidden=8, seed=5)
    ngram = base / "ngram"
    assert rnnlens("ngram", "--text", base / "corpus.txt", "--order", "2", "--quiet", "--out", ngram).code == 0
    text = base / "text.txt"
    text.write_text("".join(c for c in war_and_peace[20_000:20_300] if c in corpus.vocab.chars)[:230],
                    encoding="utf-8")
    return lstm, ngram, model, corpus.vocab.encode(text.read_text(encoding="utf-8")), text


def plain_dynamic_loop(model: torch.nn.Module, ids: np.ndarray, lr: float, decay: float) -> np.ndarray:
    """Reference: score a segment, then one SGD step on its mean loss with decay towards the start weights."""
    model = copy.deepcopy(model)
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    x = torch.as_tensor(ids)
    state, scored = None, []
    for s in range(0, len(ids) - 1, SEGMENT):
        targets = x[s + 1:s + SEGMENT + 1]
        inputs = x[s:s + len(targets)]
        logits, state = model(inputs[None], state)
        scored.append(-F.cross_entropy(logits[0], targets, reduction="none").detach())
        grads = torch.autograd.grad(F.cross_entropy(logits[0], targets), list(model.parameters()))
        with torch.no_grad():
            for (name, p), g in zip(model.named_parameters(), grads):
                p.copy_(p - lr * g + decay * (start[name] - p))
        state = tuple(h.detach() for h in state)
    return torch.cat(scored).double().numpy()


def test_adapted_log_probs_equal_a_plain_loop_and_the_first_segment_is_scored_unadapted(runs):
    lstm, _, model, ids, _ = runs
    clean = load_predictor(lstm)
    adapted = DynamicEvaluation(clean, LR, DECAY).predict_log_probs(ids)
    expected = plain_dynamic_loop(model, ids, LR, DECAY)
    assert len(adapted) == len(ids) - 1 == 229
    assert np.allclose(adapted, expected, atol=1e-5)
    unadapted = clean.predict_log_probs(ids)
    assert np.allclose(adapted[:SEGMENT], unadapted[:SEGMENT], atol=1e-6)
    assert np.abs(adapted[SEGMENT:] - unadapted[SEGMENT:]).min() > 1e-4  # every later character is adapted
    assert adapted.mean() > unadapted.mean() + 0.1  # and better predicted: it learns from what it read
    assert not np.allclose(plain_dynamic_loop(model, ids, LR, 0.0), expected, atol=1e-3)  # the decay counts
    assert np.array_equal(DynamicEvaluation(clean, LR, DECAY).predict_log_probs(ids), adapted)  # each pass afresh


def test_evaluate_dynamic_prints_evaluates_keys_plus_its_settings_and_leaves_the_weights_alone(runs):
    lstm, _, model, ids, text = runs
    weights = hashlib.sha256((lstm / "best.safetensors").read_bytes()).hexdigest()
    clean = json.loads(rnnlens("evaluate", lstm, "--text", text, "--json").out)
    ran = rnnlens("evaluate", lstm, "--text", text, "--json", "--dynamic", "--dynamic-lr", LR, "--dynamic-decay", DECAY)
    assert ran.code == 0, ran.err
    dynamic = json.loads(ran.out)
    assert set(dynamic) == set(clean) | {"dynamic"} and dynamic["dynamic"] == {"lr": LR, "decay": DECAY}
    assert dynamic["nats"] == pytest.approx(-plain_dynamic_loop(model, ids, LR, DECAY).mean(), abs=1e-6)
    assert dynamic["model"] == {**clean["model"], "dynamic": {"lr": LR, "decay": DECAY}}
    assert json.loads(rnnlens("evaluate", lstm, "--text", text, "--json").out) == clean  # not served the adapted
    assert hashlib.sha256((lstm / "best.safetensors").read_bytes()).hexdigest() == weights


def test_kinds_without_weights_to_adapt_and_settings_without_dynamic_are_refused(runs):
    lstm, ngram, _, _, text = runs
    refused(rnnlens("evaluate", ngram, "--text", text, "--dynamic"), "evaluate",
            "adapts a recurrent network's weights, and a ngram model has none", code=1)
    refused(rnnlens("evaluate", lstm, "--text", text, "--dynamic-lr", "0.1"), "evaluate",
            "--dynamic-lr tune dynamic evaluation: add --dynamic", code=1)
    refused(rnnlens("evaluate", lstm, "--dynamic", "--dynamic-decay", "2"), "evaluate", "dynamic-decay", code=2)
