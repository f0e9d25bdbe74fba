"""n-NN: the embedding-sum forward is the one-hot network, it learns, it is saved and scored like every model."""

import json

import numpy as np
import pytest
import torch

from rnnlens.models.ngram.kind import estimate_corpus
from rnnlens.models.nnn import NNN, NNNConfig, context_windows, load
from rnnlens.cli import main
from rnnlens.data.corpus import load_corpus
from rnnlens.analyses.evaluation import evaluate


def test_context_windows_pad_before_the_text():
    windows = context_windows(np.array([5, 6, 7, 8]), 3)
    assert windows.tolist() == [[-1, -1, 5], [-1, 5, 6], [5, 6, 7]]


def test_embedding_sum_forward_equals_the_one_hot_matmul():
    torch.manual_seed(0)
    model = NNN(NNNConfig(context=4, vocab_size=7, hidden_size=5))
    model.init_uniform(0.5)
    windows = torch.tensor([[-1, -1, -1, 3], [-1, 0, 6, 2], [1, 1, 1, 1], [6, 5, 4, 3]])
    assert torch.allclose(model(windows), model.one_hot_forward(windows), atol=1e-6)
    assert model.inputs.weight[model.inputs.padding_idx].abs().sum() == 0


def test_nnn_command_picks_the_best_hidden_size_and_beats_the_unigram_model(wp_slice_file, tmp_path, capsys):
    out = tmp_path / "nnn3"
    assert main(["nnn", "--text", str(wp_slice_file), "--context", "3", "--hidden", "16", "64",
                 "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "nnn" and [g["hidden_size"] for g in config["grid"]] == [16, 64]
    best = min(config["grid"], key=lambda g: g["best_val_loss"])
    assert config["model"]["hidden_size"] == best["hidden_size"]
    assert config["training"]["learning_rate"] == 2e-3 and config["training"]["rmsprop_decay"] == 0.95

    corpus = load_corpus(text=wp_slice_file)
    val = corpus.split_ids("val")
    predictor = load(out)
    assert evaluate(predictor, val).nats == pytest.approx(best["best_val_loss"], abs=1e-4)
    unigram, _ = estimate_corpus(corpus, 1)
    assert evaluate(predictor, val).nats < evaluate(unigram, val).nats - 0.4  # it uses its context

    dists = predictor.predict_log_distributions(val[:2000])
    assert np.abs(np.exp(dists.astype(np.float64)).sum(axis=1) - 1).max() < 1e-5
    assert np.abs(dists[np.arange(1999), val[1:2000]] - predictor.predict_log_probs(val[:2000])).max() < 1e-5

    capsys.readouterr()
    assert main(["evaluate", str(out), "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["chars"] == 19_999
    assert result["nats"] == pytest.approx(evaluate(predictor, corpus.split_ids("test")).nats, abs=1e-9)
