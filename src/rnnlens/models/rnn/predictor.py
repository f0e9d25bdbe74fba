"""A trained CharRNN as a predictor: runs the fused kernel over a whole text, state carried; with
interventions (``models/interventions.py``) the hookable forward pass (``hooked.py``) instead."""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np
import torch

from rnnlens.store.runs import load_tensors, read_config, split_prefix, weights_path
from rnnlens.data.corpus import Vocabulary
from rnnlens.errors import RnnlensError
from rnnlens.models.interventions import Hooks
from rnnlens.models.rnn.hooked import HookedRNN
from rnnlens.models.rnn.network import CharRNN, ModelConfig, resolve_device
from rnnlens.models.predictor import NeuralPredictor
from rnnlens.models.threads import single_stream_threads

CHUNK = 10_000  # time steps per forward call: bounds memory, state carries across


def load_model(run_dir: str | os.PathLike, weights: str = "best", device: str = "cpu") -> tuple[CharRNN, dict]:
    """Load a CharRNN (in eval mode, on ``device``) and its config from a run directory."""
    config = read_config(run_dir)
    if config.get("kind") != "rnn":
        raise RnnlensError(f"{run_dir}: holds a {config.get('kind')} model, not an RNN")
    path = weights_path(run_dir, weights)
    if not path.is_file():
        raise RnnlensError(f"{path}: missing; the run has not written its {weights} checkpoint yet")
    tensors, _ = load_tensors(path)
    model = CharRNN(ModelConfig(**config["model"]))
    model.load_state_dict(split_prefix(tensors, "model"))
    return model.to(resolve_device(device)).eval(), config


def load(run_dir: str | os.PathLike, weights: str = "best", device: str = "cpu") -> "RNNPredictor":
    """The CharRNN of a run directory as a predictor."""
    model, config = load_model(run_dir, weights, device)
    return RNNPredictor(model, Vocabulary(config["vocabulary"]), config["corpus"])


def describe(config: ModelConfig) -> str:
    """``2-layer LSTM, hidden 128``."""
    return f"{config.num_layers}-layer {config.model_type.upper()}, hidden {config.hidden_size}"


class RNNPredictor(NeuralPredictor):
    """Predictions of a CharRNN over a text, from a zero state, as one stream; ``hooks`` (set by
    ``interventions.with_interventions``) change chosen quantities as it runs."""

    kind = "rnn"
    threads = staticmethod(single_stream_threads)  # one stream through time: see models/threads.py
    supports_interventions = True
    hooks: Hooks = {}
    _hooked: HookedRNN | None = None

    @property
    def hooked(self) -> HookedRNN:
        """The model's hookable forward pass (built once, shared by intervened copies)."""
        if self._hooked is None:
            self._hooked = HookedRNN(self.model)
        return self._hooked

    def check_hook_points(self, hooks: Hooks) -> None:
        self.hooked.check(hooks)

    def hook_point_units(self, key: str) -> int:
        """How many units hook point ``key`` has."""
        self.hooked.check({key: ()})
        return self.hooked.hidden_size

    @property
    def description(self) -> str:
        return describe(self.model.config)

    @property
    def facts(self) -> dict:
        """See ``models.predictor.model_facts``."""
        c = self.model.config
        return {"type": c.model_type.upper(), "layers": c.num_layers, "params": c.parameter_count,
                "label": f"{c.model_type.upper()} {c.num_layers}", "hidden_size": c.hidden_size,
                **({"budget": c.budget} if c.budget else {})}

    @torch.no_grad()
    def stream(self, prime_ids: np.ndarray):
        """Yield log p(next character) ``(V,)`` after the prime, then after each id sent in, state carried
        (with hooks, position 0 is the prime's first character)."""
        device = self.model.decoder.weight.device
        run = self._run_with_hooks if self.hooks else self._run_fused
        ids = torch.as_tensor(np.asarray(prime_ids, dtype=np.int64), device=device)[None]
        logits, state = run(ids, 0, None)
        position = ids.shape[1]
        while True:
            choice = yield torch.log_softmax(logits[0, -1].float(), dim=-1).cpu().numpy()
            logits, state = run(torch.tensor([[choice]], device=device), position, state)
            position += 1

    def _run_fused(self, ids: torch.Tensor, start: int, state):
        return self.model(ids, state)

    def _run_with_hooks(self, ids: torch.Tensor, start: int, state):
        return self.hooked.forward(ids, self.hooks, start, state)

    def log_probs_of_inputs(self, one_hot: torch.Tensor) -> torch.Tensor:
        """``(B, T, V)`` float32 log p(next character) after each of ``one_hot``'s ``(B, T, V)`` float inputs
        (one-hot rows, or any mixture of them), read from a zero state: differentiable with respect to
        ``one_hot``, the capability attribution needs (``analyses/attribution.py``)."""
        if self.hooks:
            raise RnnlensError("attribution runs the clean model only; drop the interventions (clamps, ablations)")
        weight = self.model.decoder.weight
        with torch.backends.cudnn.flags(enabled=False):  # cuDNN's RNN backward refuses a model in eval mode
            logits, _ = self.model.forward_one_hot(one_hot.to(weight.device, weight.dtype))
        return torch.log_softmax(logits.float(), dim=-1)

    @torch.no_grad()
    def predict_variant_log_probs(self, ids: np.ndarray, hooks: Hooks, variants: int) -> np.ndarray:
        """``(variants, N-1)`` float64 log-probabilities of ``variants`` copies of the model run side by side
        over ``ids`` with ``hooks`` (whose ``rows`` say which variant each change is for; see
        ``interventions.py``). One stepped pass instead of one per variant."""
        self.check_hook_points(hooks)
        device = self.model.decoder.weight.device
        tokens = torch.as_tensor(np.asarray(ids, dtype=np.int64), device=device)
        state, parts = None, []
        chunk = max(100, CHUNK // variants)  # the stepped layers' inputs take variants x chunk x 4H numbers
        with self.threads():
            for start in range(0, len(tokens) - 1, chunk):
                window = tokens[start:start + chunk + 1]
                logits, state = self.hooked.forward(window[:-1].expand(variants, -1), hooks, start, state)
                targets = window[1:].expand(variants, -1)[..., None]
                parts.append(torch.log_softmax(logits.float(), -1).gather(2, targets)[..., 0].double().cpu())
        return torch.cat(parts, 1).numpy() if parts else np.zeros((variants, 0))

    @torch.no_grad()
    def predict_window_log_probs(self, windows: np.ndarray) -> np.ndarray:
        """``(P,)`` ln p(last id | the rest) for ``windows`` ``(P, W)``, each read from a zero state (side by side,
        a few thousand characters of windows at a time); see ``models/windows.py``."""
        device = self.model.decoder.weight.device
        rows = max(1, 100_000 // windows.shape[1])
        run = self._run_with_hooks if self.hooks else self._run_fused
        parts = []
        with self.threads():
            for start in range(0, len(windows), rows):
                batch = torch.as_tensor(windows[start:start + rows], device=device)
                logits, _ = run(batch[:, :-1], 0, None)
                log_probs = torch.log_softmax(logits[:, -1].float(), dim=-1)
                parts.append(log_probs.gather(1, batch[:, -1:])[:, 0].double().cpu())
        return torch.cat(parts).numpy() if parts else np.zeros(0)

    @torch.no_grad()
    def log_softmax_chunks(self, ids: np.ndarray) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(log_probs (n, V), targets (n,))`` chunk by chunk over the text's positions."""
        device = self.model.decoder.weight.device
        tokens = torch.as_tensor(np.asarray(ids, dtype=np.int64), device=device)
        run = self._run_with_hooks if self.hooks else self._run_fused
        state = None
        for start in range(0, len(tokens) - 1, CHUNK):
            window = tokens[start:start + CHUNK + 1]
            logits, state = run(window[None, :-1], start, state)
            yield torch.log_softmax(logits[0].float(), dim=-1), window[1:]
