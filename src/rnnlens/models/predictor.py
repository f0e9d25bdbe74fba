"""Every model is a predictor: a text in, the probability of each next character out.

RNNs, n-gram and n-NN models all offer the same two verbs, so every analysis
can compare any model with any other. For a text of ``N`` character ids the
predictions are for positions ``1..N-1``: entry ``t`` is about ``ids[t+1]``
given ``ids[:t+1]``. Log-probabilities are natural logs (nats).
"""

from __future__ import annotations

import importlib
import os
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from rnnlens.store.runs import read_config
from rnnlens.data.corpus import Vocabulary
from rnnlens.errors import RnnlensError

# config.json "kind" -> module whose ``load(run_dir, weights="best", device="cpu")`` returns
# the predictor (models without checkpoints or devices ignore those two options)
LOADERS = {
    "rnn": "rnnlens.models.rnn.predictor",
    "ngram": "rnnlens.models.ngram.kneser_ney",
    "nnn": "rnnlens.models.nnn",
}


@runtime_checkable
class Predictor(Protocol):
    """What every model offers to analyses.

    ``vocab`` is its vocabulary; ``corpus_spec`` names the corpus it was
    trained on (for ``--split``), as ``Corpus.spec()`` gives it.
    """

    vocab: Vocabulary
    corpus_spec: dict

    def predict_log_probs(self, ids: np.ndarray) -> np.ndarray:
        """``(N-1,)`` float64: log p(ids[t+1] | ids[:t+1]) in nats."""
        ...

    def predict_log_distributions(self, ids: np.ndarray) -> np.ndarray:
        """``(N-1, V)`` float32: log p(c | ids[:t+1]) for every character c."""
        ...


class NeuralPredictor:
    """The two verbs for torch models, from one method a subclass supplies.

    ``log_softmax_chunks(ids)`` yields ``(log_probs (n, V), targets (n,))``
    tensors chunk by chunk over the text's ``N-1`` positions.
    """

    def __init__(self, model: torch.nn.Module, vocab: Vocabulary, corpus_spec: dict) -> None:
        self.model = model.eval()
        self.vocab = vocab
        self.corpus_spec = corpus_spec

    def log_softmax_chunks(self, ids: np.ndarray):
        raise NotImplementedError

    def predict_log_probs(self, ids: np.ndarray) -> np.ndarray:
        """``(N-1,)`` float64: ln p(ids[t+1] | ids[:t+1]) in nats."""
        parts = [lp.gather(1, t[:, None])[:, 0].double().cpu() for lp, t in self.log_softmax_chunks(ids)]
        return torch.cat(parts).numpy() if parts else np.zeros(0)

    def predict_log_distributions(self, ids: np.ndarray) -> np.ndarray:
        """``(N-1, V)`` float32: ln p(c | ids[:t+1]) for every character c."""
        parts = [lp.cpu() for lp, _ in self.log_softmax_chunks(ids)]
        return torch.cat(parts).numpy() if parts else np.zeros((0, len(self.vocab)), np.float32)


def load_predictor(run_dir: str | os.PathLike, weights: str = "best", device: str = "cpu") -> Predictor:
    """Load whatever predictor a run directory holds (see ``LOADERS``)."""
    kind = read_config(run_dir).get("kind")
    if kind not in LOADERS:
        raise RnnlensError(f"{run_dir}: unknown model kind {kind!r}; this rnnlens reads {', '.join(LOADERS)}")
    return importlib.import_module(LOADERS[kind]).load(run_dir, weights=weights, device=device)
