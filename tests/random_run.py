"""A run directory as ``rnnlens train`` writes it, holding an untrained CharRNN (no training needed)."""

from __future__ import annotations

from pathlib import Path

from rnnlens.data.corpus import Corpus
from rnnlens.models.rnn.network import CharRNN
from rnnlens.store.runs import save_tensors, write_config
from test_trace import random_model


def random_run(out: Path, corpus: Corpus, model_type: str = "lstm", layers: int = 1, hidden: int = 16,
               seed: int = 0) -> tuple[Path, CharRNN]:
    """Write ``random_model(...)`` with ``corpus``'s vocabulary into ``out``; return the directory and the model."""
    model = random_model(model_type, layers, len(corpus.vocab), hidden=hidden, seed=seed)
    write_config(out, "rnn", {"model": model.config.to_dict(), "vocabulary": corpus.vocab.chars,
                              "corpus": corpus.spec()})
    save_tensors(out / "best.safetensors", {f"model.{k}": v for k, v in model.state_dict().items()})
    return out, model
