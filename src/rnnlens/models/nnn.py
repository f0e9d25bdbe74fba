"""n-NN models: one tanh hidden layer on the one-hot codes of the last n characters, softmax output.

The input of the paper's n-NN is the concatenation of ``n`` one-hot vectors
(``n * V`` values); multiplying it by the first weight matrix adds ``n`` of its
columns, so the network looks them up and sums them (``nn.EmbeddingBag``),
which is the same function at a fraction of the cost::

    h = tanh(sum_j W[:, j*V + c_{t-n+1+j}] + b)      p(c_{t+1}) = softmax(U h + d)

Positions before the start of a text have no character: their one-hot code is
all zeros (a padding row that stays zero), so a text of ``N`` characters gets
``N-1`` predictions like every other predictor.

Training follows the RNNs' protocol (``rnnlens.training.loop.TrainOptions``):
uniform init, RMSProp with the same learning rate and decay, element-wise
gradient clipping, the per-epoch learning-rate decay and early stopping on the
validation loss. Minibatches are ``BATCH`` positions drawn in a fresh random
order every epoch (positions are independent examples here; the RNN's 10,000
characters per update learned more slowly per epoch in a check on War and
Peace).
The hidden size is chosen by validation loss from a grid; the run directory
keeps the chosen network as ``best.safetensors`` and the whole grid in
``config.json`` (kind ``nnn``).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from rnnlens.store.runs import load_tensors, read_config, save_tensors, split_prefix, write_config
from rnnlens.data.corpus import Corpus, Vocabulary
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import NeuralPredictor
from rnnlens.training.loop import TrainOptions, learning_rate_for

KIND = "nnn"
BEST = "best.safetensors"
HIDDEN_GRID = (128, 256)
# the RNNs' optimiser settings; fewer epochs because an n-NN converges in a few passes and CPU time is short
DEFAULT_OPTIONS = replace(TrainOptions(), epochs=2, patience=1)
BATCH = 1000  # positions per update
CHUNK = 1 << 16  # positions per forward pass when scoring a text


@dataclass(frozen=True)
class NNNConfig:
    """Shape of an n-NN: characters of context, vocabulary size, hidden units."""

    context: int
    vocab_size: int
    hidden_size: int


class NNN(nn.Module):
    """The n-NN as a module: ``(B, n)`` padded context windows in, ``(B, V)`` logits out."""

    def __init__(self, config: NNNConfig) -> None:
        super().__init__()
        self.config = config
        n, v = config.context, config.vocab_size
        # row j*V + c is the first layer's column for character c at context position j; row n*V is padding
        self.inputs = nn.EmbeddingBag(n * v + 1, config.hidden_size, mode="sum", padding_idx=n * v)
        self.bias = nn.Parameter(torch.zeros(config.hidden_size))
        self.decoder = nn.Linear(config.hidden_size, v)
        self.register_buffer("offsets", torch.arange(n) * v, persistent=False)

    def init_uniform(self, scale: float) -> None:
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-scale, scale)
            self.inputs.weight[self.inputs.padding_idx].zero_()

    def rows(self, windows: torch.Tensor) -> torch.Tensor:
        """Embedding rows of ``(B, n)`` windows of character ids (-1 before the text)."""
        return torch.where(windows >= 0, windows + self.offsets, self.inputs.padding_idx)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.tanh(self.inputs(self.rows(windows)) + self.bias))

    def one_hot_forward(self, windows: torch.Tensor) -> torch.Tensor:
        """The paper's form: concatenated one-hot codes times the first weight matrix (for tests)."""
        n, v = self.config.context, self.config.vocab_size
        codes = F.one_hot(windows.clamp(min=0), v).float() * (windows >= 0)[..., None]
        first = self.inputs.weight[: n * v]  # (n*V, H)
        return self.decoder(torch.tanh(codes.reshape(len(windows), n * v) @ first + self.bias))


def context_windows(ids: np.ndarray, context: int) -> np.ndarray:
    """``(N-1, n)`` int64: row ``t`` is ``ids[t-n+1 .. t]``, -1 where that is before the text."""
    if len(ids) < 2:
        return np.zeros((0, context), np.int64)
    padded = np.concatenate([np.full(context - 1, -1), np.asarray(ids[:-1], dtype=np.int64)])
    return np.lib.stride_tricks.sliding_window_view(padded, context)


class NNNPredictor(NeuralPredictor):
    """An n-NN's predictions over a text."""

    @torch.no_grad()
    def log_softmax_chunks(self, ids: np.ndarray):
        windows = context_windows(ids, self.model.config.context)
        targets = torch.as_tensor(np.asarray(ids[1:], dtype=np.int64))
        for start in range(0, len(windows), CHUNK):
            logits = self.model(torch.from_numpy(windows[start:start + CHUNK].copy()))
            yield torch.log_softmax(logits, dim=-1), targets[start:start + CHUNK]


@torch.no_grad()
def mean_loss(model: NNN, windows: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy (nats/char) of ``model`` on ``(M, n)`` windows and ``(M,)`` targets."""
    model.eval()
    total = 0.0
    for start in range(0, len(windows), CHUNK):
        x = torch.from_numpy(windows[start:start + CHUNK].copy())
        y = torch.from_numpy(np.ascontiguousarray(targets[start:start + CHUNK]))
        total += F.cross_entropy(model(x), y, reduction="sum").item()
    model.train()
    return total / max(len(windows), 1)


def train_one(corpus: Corpus, config: NNNConfig, options: TrainOptions, batch: int = BATCH,
              show_progress: bool = False, log=print) -> tuple[dict, dict]:
    """Train one n-NN; return its best weights (by validation loss) and its record."""
    train_ids, val_ids = corpus.split_ids("train"), corpus.split_ids("val")
    if len(val_ids) < 2:
        raise RnnlensError("the validation split is too short to choose an n-NN; give --split-fractions with a val share")
    windows, targets = context_windows(train_ids, config.context), train_ids[1:]
    val_windows, val_targets = context_windows(val_ids, config.context), val_ids[1:]
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    model = NNN(config)
    model.init_uniform(options.init_range)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=options.learning_rate, alpha=options.rmsprop_decay, eps=1e-8)
    record = {"hidden_size": config.hidden_size, "history": [], "best_val_loss": None, "best_epoch": None}
    best, bad = None, 0
    start = time.perf_counter()
    for epoch in range(options.epochs):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_for(epoch, options)
        order = rng.permutation(len(windows))
        total = 0.0
        steps = range(0, len(order), batch)
        for k in tqdm(steps, desc=f"{config.context}-NN h{config.hidden_size} epoch {epoch + 1}/{options.epochs}",
                      unit="batch", disable=not show_progress, leave=False, file=sys.stderr):
            rows = order[k:k + batch]
            loss = F.cross_entropy(model(torch.from_numpy(windows[rows])), torch.from_numpy(targets[rows]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if options.grad_clip > 0:
                torch.nn.utils.clip_grad_value_(model.parameters(), options.grad_clip)
            optimizer.step()
            total += loss.item() * len(rows)
        val = mean_loss(model, val_windows, val_targets)
        entry = {"epoch": epoch + 1, "train_loss": total / len(order), "val_loss": val,
                 "elapsed_s": round(time.perf_counter() - start, 2)}
        record["history"].append(entry)
        log(f"{config.context}-NN hidden {config.hidden_size}: epoch {epoch + 1}/{options.epochs}  "
            f"train {entry['train_loss']:.4f}  val {val:.4f} nats/char  elapsed {entry['elapsed_s']:.0f} s")
        if record["best_val_loss"] is None or val < record["best_val_loss"]:
            record["best_val_loss"], record["best_epoch"], bad = val, epoch + 1, 0
            best = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if options.patience and bad >= options.patience:
                break
    return best, record


def train_run(corpus: Corpus, context: int, out_dir: str | os.PathLike, hidden_sizes=HIDDEN_GRID,
              options: TrainOptions = DEFAULT_OPTIONS, batch: int = BATCH, show_progress: bool = False,
              log=print) -> NNNPredictor:
    """Train an n-NN for each hidden size, keep the one with the best validation loss in ``out_dir``."""
    if context < 1:
        raise RnnlensError(f"--context {context}: an n-NN needs at least one character of context")
    start = time.perf_counter()
    grid, chosen, weights = [], None, None
    for hidden in hidden_sizes:
        config = NNNConfig(context, len(corpus.vocab), hidden)
        state, record = train_one(corpus, config, options, batch, show_progress, log)
        grid.append(record)
        if chosen is None or record["best_val_loss"] < chosen["best_val_loss"]:
            chosen, weights = record, state
    config = NNNConfig(context, len(corpus.vocab), chosen["hidden_size"])
    save_tensors(Path(out_dir) / BEST, {f"model.{k}": v for k, v in weights.items()},
                 {"val_loss": chosen["best_val_loss"], "epoch": chosen["best_epoch"]})
    write_config(out_dir, KIND, {
        "model": asdict(config), "parameters": parameters(config), "vocabulary": corpus.vocab.chars, "corpus": corpus.spec(),
        "training": {**asdict(options), "batch": batch}, "hidden_grid": list(hidden_sizes), "grid": grid,
        "best_val_loss": chosen["best_val_loss"], "train_s": round(time.perf_counter() - start, 2),
    })
    return load(out_dir)


def load(run_dir: str | os.PathLike, weights: str = "best", device: str = "cpu") -> NNNPredictor:
    """Load a trained n-NN (on the CPU) as a predictor."""
    config = read_config(run_dir)
    if config.get("kind") != KIND:
        raise RnnlensError(f"{run_dir}: holds a {config.get('kind')} model, not an n-NN")
    tensors, _ = load_tensors(Path(run_dir) / BEST)
    model = NNN(NNNConfig(**config["model"]))
    model.load_state_dict(split_prefix(tensors, "model"))
    return NNNPredictor(model, Vocabulary(config["vocabulary"]), config["corpus"])


def parameters(config: NNNConfig) -> int:
    """Trainable parameters: ``n V H + H`` in, ``H V + V`` out."""
    return config.context * config.vocab_size * config.hidden_size + config.hidden_size + \
        (config.hidden_size + 1) * config.vocab_size

