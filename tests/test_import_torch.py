"""rnnlens import: plain PyTorch character models, built and saved here, score what a plain torch loop scores."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from in_process import refused, rnnlens
from rnnlens.models.rnn.predictor import load

TEXT = "the quick brown fox jumps over the lazy dog; a stitch in time saves nine.\n" * 4


class EmbeddedLSTM(nn.Module):
    """A user's model: module names rnnlens does not use, an embedding, a 2-layer LSTM, a decoder."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.chars_in = nn.Embedding(vocab, 7)
        self.core = nn.LSTM(7, 12, 2, batch_first=True)
        self.head = nn.Linear(12, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.core(self.chars_in(ids))[0])


class OneHotGRU(nn.Module):
    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.cell = nn.GRU(vocab, 10)
        self.out = nn.Linear(10, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.cell(F.one_hot(ids, self.vocab).float().transpose(0, 1))[0].transpose(0, 1))


class StackedLSTMs(nn.Module):
    """Two single-layer LSTM modules, the second reading the first, registered bottom first."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, 5)
        self.lower = nn.LSTM(5, 9, batch_first=True)
        self.upper = nn.LSTM(9, 9, batch_first=True)
        self.dec = nn.Linear(9, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.dec(self.upper(self.lower(self.emb(ids))[0])[0])


def save_model(tmp_path, model_class, seed: int = 0):
    """Save a randomly initialised model's state dict and its shuffled (unsorted) vocabulary; return the model
    and its characters in index order."""
    torch.manual_seed(seed)
    chars = sorted(set(TEXT))
    random.Random(seed).shuffle(chars)
    assert chars != sorted(chars)
    model = model_class(len(chars)).eval()
    torch.save(model.state_dict(), tmp_path / "model.pt")
    (tmp_path / "vocab.json").write_text(json.dumps(chars))
    (tmp_path / "text.txt").write_text(TEXT)
    return model, chars


def torch_loss(model: nn.Module, chars: list[str]) -> float:
    """Mean cross-entropy (nats/char) of each next character from a zero state, in the model's own ids."""
    ids = torch.tensor([chars.index(c) for c in TEXT])[None]
    with torch.no_grad():
        return F.cross_entropy(model(ids[:, :-1])[0], ids[0, 1:]).item()


@pytest.mark.parametrize("model_class", [EmbeddedLSTM, OneHotGRU, StackedLSTMs])
def test_imported_model_scores_what_torch_scores(tmp_path, model_class):
    model, chars = save_model(tmp_path, model_class)
    ran = rnnlens("import", "--torch", tmp_path / "model.pt", "--vocab", tmp_path / "vocab.json", "--out",
                  tmp_path / "run", "--json")
    assert ran.code == 0, ran.err
    evaluated = rnnlens("evaluate", tmp_path / "run", "--text", tmp_path / "text.txt", "--json")
    assert evaluated.code == 0, evaluated.err
    assert json.loads(evaluated.out)["nats"] == pytest.approx(torch_loss(model, chars), abs=1e-5)
    assert json.loads(ran.out)["parameters"] == sum(p.numel() for p in model.parameters())


def test_analyses_read_an_imported_run(tmp_path):
    """trace, cells and sample take the imported run; the trace's hidden states are the model's own."""
    model, chars = save_model(tmp_path, EmbeddedLSTM)
    run = tmp_path / "run"
    assert rnnlens("import", "--torch", tmp_path / "model.pt", "--vocab", tmp_path / "vocab.json",
                   "--out", run, "--text", tmp_path / "text.txt").code == 0
    ran = rnnlens("trace", run, "--text", tmp_path / "text.txt", "--out", tmp_path / "trace", "--quiet")
    assert ran.code == 0, ran.err
    hidden = np.load(tmp_path / "trace" / "layer2.hidden.npy")
    ids = torch.tensor([chars.index(c) for c in TEXT])[None]
    with torch.no_grad():
        expected = model.core(model.chars_in(ids[:, :-1]))[0][0].numpy()
    np.testing.assert_allclose(hidden, expected, atol=1e-5)
    ran = rnnlens("cells", tmp_path / "trace", "--quantity", "hidden", "--out", tmp_path / "cells")
    assert ran.code == 0, ran.err
    ran = rnnlens("sample", run, "--length", 40, "--seed", 1)
    assert ran.code == 0 and set(ran.out.strip()) <= set(chars), ran.err
    assert rnnlens("evaluate", run, "--split", "val", "--json").code == 0  # the corpus given at import


def test_hooked_pass_and_one_hot_forward_agree_with_the_embedding(tmp_path):
    """An embedded model's hookable pass (fused; stepped where a gate is watched) and forward_one_hot give
    forward's logits."""
    save_model(tmp_path, EmbeddedLSTM)
    assert rnnlens("import", "--torch", tmp_path / "model.pt", "--vocab", tmp_path / "vocab.json",
                   "--out", tmp_path / "run").code == 0
    network = load(tmp_path / "run").model
    ids = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6]])
    with torch.no_grad():
        logits, _ = network(ids)
        one_hot, _ = network.forward_one_hot(F.one_hot(ids, network.config.vocab_size).float())
        hooked = load(tmp_path / "run").hooked
        fused, _ = hooked.forward(ids, {})
        stepped, _ = hooked.forward(ids, {}, watch=lambda *a: None, watched={"layer1.cell"})
    for other in (one_hot, fused, stepped):
        torch.testing.assert_close(other, logits, atol=1e-6, rtol=0)


def test_refusals_leave_no_run(tmp_path):
    model, chars = save_model(tmp_path, EmbeddedLSTM)
    out = tmp_path / "run"
    torch.save(model, tmp_path / "whole.pt")
    refused(rnnlens("import", "--torch", tmp_path / "whole.pt", "--vocab", tmp_path / "vocab.json", "--out", out),
            "import", "state_dict")
    torch.save({"model": model.state_dict(), "epoch": 3}, tmp_path / "checkpoint.pt")
    refused(rnnlens("import", "--torch", tmp_path / "checkpoint.pt", "--vocab", tmp_path / "vocab.json", "--out",
                    out), "import", r"not tensors: model \(OrderedDict\), epoch \(int\)", "state_dict")
    refused(rnnlens("import", "--torch", tmp_path / "absent.pt", "--vocab", tmp_path / "vocab.json", "--out", out),
            "import", "no such file")
    (tmp_path / "short.json").write_text(json.dumps(chars[:-1]))
    refused(rnnlens("import", "--torch", tmp_path / "model.pt", "--vocab", tmp_path / "short.json", "--out", out),
            "import", f"{len(chars) - 1} characters", f"predicts {len(chars)}")
    (tmp_path / "twice.json").write_text(json.dumps(chars[:-1] + chars[:1]))
    refused(rnnlens("import", "--torch", tmp_path / "model.pt", "--vocab", tmp_path / "twice.json", "--out", out),
            "import", "more than once")
    state = model.state_dict()
    state["other.weight"] = torch.zeros(len(chars), 12)  # a second (V, H) matrix with a bias: two decoders
    state["other.bias"] = torch.zeros(len(chars))
    torch.save(state, tmp_path / "two.pt")
    line = refused(rnnlens("import", "--torch", tmp_path / "two.pt", "--vocab", tmp_path / "vocab.json",
                           "--out", out), "import", "decoder", "--map", r"head\.weight \(")
    assert "other" in line
    assert not out.exists()
    assert rnnlens("import", "--torch", tmp_path / "two.pt", "--vocab", tmp_path / "vocab.json", "--out", out,
                   "--map", "decoder=head").code != 0  # other.* is left over: refused, not ignored
    assert not out.exists()


def test_identical_import_is_kept_and_another_refused(tmp_path):
    save_model(tmp_path, OneHotGRU)
    args = ["import", "--torch", tmp_path / "model.pt", "--vocab", tmp_path / "vocab.json", "--out", tmp_path / "run"]
    assert json.loads(rnnlens(*args, "--json").out)["written"] is True
    before = (tmp_path / "run" / "best.safetensors").stat().st_mtime_ns
    assert json.loads(rnnlens(*args, "--json").out)["written"] is False
    assert (tmp_path / "run" / "best.safetensors").stat().st_mtime_ns == before
    refused(rnnlens(*args, "--text", tmp_path / "text.txt"), "import", "not empty")


def test_train_with_an_embedding(tmp_path):
    """train --embedding-size learns an nn.Embedding input: torch's parameter count of the same modules."""
    (tmp_path / "text.txt").write_text(TEXT * 5)
    ran = rnnlens("train", "--text", tmp_path / "text.txt", "--model", "lstm", "--layers", 1, "--hidden", 8,
                  "--embedding-size", 3, "--epochs", 1, "--batch-size", 4, "--seq-length", 10, "--quiet",
                  "--out", tmp_path / "run")
    assert ran.code == 0, ran.err
    vocab = len(set(TEXT))
    reference = nn.ModuleList([nn.Embedding(vocab, 3), nn.LSTM(3, 8), nn.Linear(8, vocab)])
    network = load(tmp_path / "run").model
    assert network.config.embedding_size == 3 and network.embedding.weight.shape == (vocab, 3)
    assert network.config.parameter_count == sum(p.numel() for p in reference.parameters())
    assert sum(p.numel() for p in network.parameters()) == network.config.parameter_count
