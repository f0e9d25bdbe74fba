"""Every model is a predictor: a text in, the probability of each next character out.

RNNs, n-gram and n-NN models all offer the same two verbs, so every
analysis can compare any model with any other. For a text of ``N``
character ids the predictions are for positions ``1..N-1``: entry ``t`` is
about ``ids[t+1]`` given ``ids[:t+1]``. Log-probabilities are natural logs
(nats).
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Iterator, Protocol, runtime_checkable

import numpy as np
import torch

from rnnlens.data.corpus import Vocabulary
from rnnlens.store.runs import CONFIG_FILE, read_config, weights_path


@runtime_checkable
class Predictor(Protocol):
    """What every model offers to analyses.

    ``kind`` is its registry name; ``vocab`` its vocabulary; ``corpus_spec``
    names the corpus it was trained on (as ``Corpus.spec()`` gives it);
    ``description`` says what it is in words ("2-layer LSTM, hidden 128");
    ``identity`` (set when loaded from a run directory) names the run and
    the digest of its weights. Optional: ``facts``, what tables say of the
    model (see ``model_facts``).
    """

    kind: str
    vocab: Vocabulary
    corpus_spec: dict
    description: str
    identity: dict

    def predict_log_probs(self, ids: np.ndarray) -> np.ndarray:
        """``(N-1,)`` float64: log p(ids[t+1] | ids[:t+1]) in nats."""
        ...

    def predict_log_distributions(self, ids: np.ndarray) -> np.ndarray:
        """``(N-1, V)`` float32: log p(c | ids[:t+1]) for every character c."""
        ...


def model_facts(predictor: Predictor, kind_label: str) -> dict:
    """What tables and comparisons say of a model, from its optional ``facts`` dict.

    ``type``: its family ("LSTM", "GRU", "RNN", "n-gram", "n-NN"; default: the
    kind's ``kind_label``); ``layers``: recurrent layers (None where depth
    means nothing); ``params``: trainable parameters (None for a count-based
    model); ``label``: the name of its row in a table ("LSTM 2", "5-gram",
    "3-NN"; default: its description). A kind may add its own keys (``order``,
    ``context``, ``hidden_size``).
    """
    return {"type": kind_label, "layers": None, "params": None, "label": predictor.description,
            **(getattr(predictor, "facts", None) or {})}


def model_identity(run_dir: str | os.PathLike, kind: str, weights: str,
                   fixed_by: Callable[[dict], dict] | None = None) -> dict:
    """Who predicts: the kind, the run directory, which weights and the sha256 of what fixes them.

    The digest covers the weights file where the kind has one (a run's
    ``config.json`` changes every epoch while the weights it describes may
    not), else ``config.json``, which then holds the whole model: the part
    ``fixed_by(config)`` returns where the kind says which part that is (an
    n-gram's config also records how long estimating took and where the
    corpus was read), so the same model made twice has one digest.
    """
    run_dir = Path(run_dir)
    path = weights_path(run_dir, weights)
    if path.is_file():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    elif fixed_by is not None:
        fixed = json.dumps(fixed_by(read_config(run_dir)), sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(fixed.encode("utf-8")).hexdigest()
    else:
        digest = hashlib.sha256((run_dir / CONFIG_FILE).read_bytes()).hexdigest()
    return {"kind": kind, "run_dir": str(run_dir.resolve()), "weights": weights, "sha256": digest}


class NeuralPredictor:
    """The two verbs for torch models, from one method a subclass supplies.

    ``log_softmax_chunks(ids)`` yields ``(log_probs (n, V), targets (n,))``
    tensors chunk by chunk over the text's ``N-1`` positions.
    """

    kind = "neural"
    threads = staticmethod(nullcontext)  # a context manager for torch's threads while predicting

    def __init__(self, model: torch.nn.Module, vocab: Vocabulary, corpus_spec: dict) -> None:
        self.model = model.eval()
        self.vocab = vocab
        self.corpus_spec = corpus_spec
        self.identity: dict = {}

    def log_softmax_chunks(self, ids: np.ndarray) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        raise NotImplementedError

    def predict_log_probs(self, ids: np.ndarray) -> np.ndarray:
        """``(N-1,)`` float64: ln p(ids[t+1] | ids[:t+1]) in nats."""
        with self.threads():
            parts = [lp.gather(1, t[:, None])[:, 0].double().cpu() for lp, t in self.log_softmax_chunks(ids)]
        return torch.cat(parts).numpy() if parts else np.zeros(0)

    def predict_log_distributions(self, ids: np.ndarray) -> np.ndarray:
        """``(N-1, V)`` float32: ln p(c | ids[:t+1]) for every character c."""
        with self.threads():
            parts = [lp.cpu() for lp, _ in self.log_softmax_chunks(ids)]
        return torch.cat(parts).numpy() if parts else np.zeros((0, len(self.vocab)), np.float32)
