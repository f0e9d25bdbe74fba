"""A trained CharRNN as a predictor: runs the fused kernel over a whole text, state carried."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from rnnlens.store.runs import load_tensors, read_config, split_prefix
from rnnlens.data.corpus import Vocabulary
from rnnlens.errors import RnnlensError
from rnnlens.models.rnn.network import CharRNN, ModelConfig, resolve_device
from rnnlens.models.predictor import NeuralPredictor

WEIGHTS = ("best", "last")
CHUNK = 10_000  # time steps per forward call: bounds memory, state carries across


def load_model(run_dir: str | os.PathLike, weights: str = "best", device: str = "cpu") -> tuple[CharRNN, dict]:
    """Load a CharRNN (in eval mode, on ``device``) and its config from a run directory."""
    if weights not in WEIGHTS:
        raise RnnlensError(f"unknown weights {weights!r}; choose one of {', '.join(WEIGHTS)}")
    config = read_config(run_dir)
    if config.get("kind") != "rnn":
        raise RnnlensError(f"{run_dir}: holds a {config.get('kind')} model, not an RNN")
    path = Path(run_dir) / f"{weights}.safetensors"
    if not path.is_file():
        raise RnnlensError(f"{path}: missing; the run has not written its {weights} checkpoint yet")
    tensors, _ = load_tensors(path)
    model = CharRNN(ModelConfig(**config["model"]))
    model.load_state_dict(split_prefix(tensors, "model"))
    return model.to(resolve_device(device)).eval(), config


def load(run_dir: str | os.PathLike, weights: str = "best", device: str = "cpu") -> "RNNPredictor":
    model, config = load_model(run_dir, weights, device)
    return RNNPredictor(model, Vocabulary(config["vocabulary"]), config["corpus"])


class RNNPredictor(NeuralPredictor):
    """Predictions of a CharRNN over a text, from a zero state, as one stream."""

    @torch.no_grad()
    def log_softmax_chunks(self, ids: np.ndarray) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(log_probs (n, V), targets (n,))`` chunk by chunk over the text's positions."""
        device = self.model.decoder.weight.device
        tokens = torch.as_tensor(np.asarray(ids, dtype=np.int64), device=device)
        state = None
        for start in range(0, len(tokens) - 1, CHUNK):
            window = tokens[start:start + CHUNK + 1]
            logits, state = self.model(window[None, :-1], state)
            yield torch.log_softmax(logits[0].float(), dim=-1), window[1:]
