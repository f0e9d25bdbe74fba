"""n-NN models: one tanh hidden layer on the one-hot codes of the last n characters, softmax output.

The input of the paper's n-NN is the concatenation of ``n`` one-hot vectors
(``n * V`` values); multiplying it by the first weight matrix adds ``n`` of its
columns, so the network looks them up and sums them (``nn.EmbeddingBag``),
which is the same function at a fraction of the cost::

    h = tanh(sum_j W[:, j*V + c_{t-n+1+j}] + b)      p(c_{t+1}) = softmax(U h + d)

Positions before the start of a text have no character: their one-hot code is
all zeros (a padding row that stays zero), so a text of ``N`` characters gets
``N-1`` predictions like every other predictor.

Training is the shared loop's (``rnnlens.training.loop``): the RNNs'
uniform init, RMSProp settings, element-wise gradient clipping, per-epoch
learning-rate decay, early stopping, checkpoints and exact resume. Minibatches
are ``batch`` positions in a random order drawn afresh for every epoch from
``(seed, epoch)`` (positions are independent examples here; the RNN's 10,000
characters per update learned more slowly per epoch in a check on War and
Peace). The hidden size is chosen by validation loss from a grid: each size
is its own resumable run in ``grid/hH/``, and the run directory keeps the
chosen network as ``best.safetensors`` and the whole grid in ``config.json``
(kind ``nnn``).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnlens.checks import COUNT
from rnnlens.data.corpus import Corpus, Vocabulary
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import NeuralPredictor
from rnnlens.models.rnn.network import resolve_device
from rnnlens.store.runs import load_tensors, read_config, split_prefix, write_config
from rnnlens.training.loop import BEST, LAST, LoopOptions, Trainer, clear_stale_files

KIND = "nnn"
LABEL = "n-NN"
HIDDEN_GRID = (128, 256)
CHUNK = 1 << 16  # positions per forward pass when scoring a text


@dataclass(frozen=True)
class NNNOptions(LoopOptions):
    """The shared loop's options with fewer epochs (an n-NN converges in a few passes) and ``batch`` positions."""

    epochs: int = 2
    patience: int = 1
    batch: int = 1000  # positions per update


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

    kind = KIND

    @property
    def description(self) -> str:
        return f"{self.model.config.context}-NN, hidden {self.model.config.hidden_size}"

    @property
    def facts(self) -> dict:
        """See ``models.predictor.model_facts``."""
        c = self.model.config
        return {"type": LABEL, "params": parameters(c), "label": f"{c.context}-NN", "context": c.context,
                "hidden_size": c.hidden_size}

    @property
    def context_length(self) -> int:
        return self.model.config.context

    @torch.no_grad()
    def log_softmax_chunks(self, ids: np.ndarray):
        device = self.model.decoder.weight.device
        windows = context_windows(ids, self.model.config.context)
        targets = torch.as_tensor(np.asarray(ids[1:], dtype=np.int64), device=device)
        for start in range(0, len(windows), CHUNK):
            logits = self.model(torch.from_numpy(windows[start:start + CHUNK].copy()).to(device))
            yield torch.log_softmax(logits, dim=-1), targets[start:start + CHUNK]


@torch.no_grad()
def mean_loss(model: NNN, windows: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy (nats/char) of ``model`` on ``(M, n)`` windows and ``(M,)`` targets."""
    was_training = model.training
    model.eval()
    total, device = 0.0, model.decoder.weight.device
    for start in range(0, len(windows), CHUNK):
        x = torch.from_numpy(windows[start:start + CHUNK].copy()).to(device)
        y = torch.from_numpy(np.ascontiguousarray(targets[start:start + CHUNK])).to(device)
        total += F.cross_entropy(model(x), y, reduction="sum").item()
    model.train(was_training)
    return total / max(len(windows), 1)


class WindowTask:
    """Minibatches of context windows in a random order per epoch: the shared loop's task for an n-NN."""

    def __init__(self, corpus: Corpus, config: NNNConfig, options: NNNOptions, device: torch.device) -> None:
        train_ids, val_ids = corpus.split_ids("train"), corpus.split_ids("val")
        if len(val_ids) < 2:
            raise RnnlensError("the validation split is too short to choose an n-NN",
                               advice="give the split a share of the text", option="fractions")
        self.config, self.options, self.device = config, options, device
        self.windows, self.targets = context_windows(train_ids, config.context), train_ids[1:]
        self.val_windows, self.val_targets = context_windows(val_ids, config.context), val_ids[1:]
        self.chars_per_batch = options.batch
        self.order = np.arange(len(self.windows))

    def make_model(self) -> NNN:
        return NNN(self.config)

    def init_weights(self, model: NNN, scale: float) -> None:
        model.init_uniform(scale)

    def num_batches(self) -> int:
        return -(-len(self.windows) // self.options.batch)

    def start_epoch(self, model: NNN, epoch: int, fresh: bool) -> None:
        # from (seed, epoch) alone, so that a resumed epoch sees the same order
        self.order = np.random.default_rng([self.options.seed, epoch]).permutation(len(self.windows))

    def batch_loss(self, model: NNN, k: int) -> torch.Tensor:
        rows = self.order[k * self.options.batch:(k + 1) * self.options.batch]
        x, y = torch.from_numpy(self.windows[rows]), torch.from_numpy(self.targets[rows])
        return F.cross_entropy(model(x.to(self.device)), y.to(self.device))

    def validation_loss(self, model: NNN) -> float:
        return mean_loss(model, self.val_windows, self.val_targets)

    def carried(self) -> dict[str, torch.Tensor]:
        return {}

    def restore_carried(self, tensors: dict[str, torch.Tensor]) -> None:
        pass


def nnn_options(spec: dict) -> NNNOptions:
    names = {f.name for f in fields(NNNOptions)}
    return NNNOptions(**{k: v for k, v in spec.items() if k in names})


def hidden_grid(spec: dict) -> list[int]:
    grid = list(spec.get("hidden_sizes", HIDDEN_GRID))
    if not grid:
        raise RnnlensError("an n-NN needs at least one hidden size to try")
    for size in grid:
        COUNT.check("hidden size", size)
    return grid


def fit(spec: dict, corpus: Corpus, out_dir: str | os.PathLike, log: Callable[[str], None] = print,
        show_progress: bool = False) -> NNNPredictor:
    """Train an n-NN for each hidden size of the spec (resuming where a run stopped), keep the best and return it.

    A spec holds ``context`` (n), ``hidden_sizes`` (default 128 256) and any option of ``NNNOptions``.
    """
    context, options, grid = spec["context"], nnn_options(spec), hidden_grid(spec)
    COUNT.check("context", context)
    device = resolve_device(options.device)
    out_dir = Path(out_dir)
    records = []
    for hidden in grid:
        config = NNNConfig(context, len(corpus.vocab), hidden)
        run = out_dir / "grid" / f"h{hidden}"
        trainer = Trainer(WindowTask(corpus, config, options, device), options, run, KIND, run_config(config, corpus), device)
        if (run / LAST).exists():
            clear_stale_files(run)
            trainer.restore_last()
        if not trainer.finished():
            trainer.fit(show_progress=show_progress, log=lambda line, h=hidden: log(f"{context}-NN hidden {h}: {line}"))
        records.append({"hidden_size": hidden, "best_val_loss": trainer.progress.best_val_loss,
                        "best_epoch": min(trainer.progress.history, key=lambda r: r["val_loss"])["epoch"],
                        "history": trainer.progress.history})
    chosen = min(records, key=lambda r: r["best_val_loss"])
    shutil.copyfile(out_dir / "grid" / f"h{chosen['hidden_size']}" / BEST, out_dir / f".{BEST}.tmp")
    os.replace(out_dir / f".{BEST}.tmp", out_dir / BEST)
    config = NNNConfig(context, len(corpus.vocab), chosen["hidden_size"])
    write_config(out_dir, KIND, {**run_config(config, corpus), "training": asdict(options), "hidden_grid": grid,
                                 "grid": records, "best_val_loss": chosen["best_val_loss"]})
    return load(out_dir, device=options.device)


def run_config(config: NNNConfig, corpus: Corpus) -> dict:
    """What ``config.json`` records of an n-NN beside its training."""
    return {"model": asdict(config), "parameters": parameters(config), "vocabulary": corpus.vocab.chars,
            "corpus": corpus.spec()}


def load(run_dir: str | os.PathLike, weights: str = "best", device: str = "cpu") -> NNNPredictor:
    """Load a trained n-NN (on ``device``) as a predictor; ``weights`` "last" reads the run's last checkpoint."""
    config = read_config(run_dir)
    if config.get("kind") != KIND:
        raise RnnlensError(f"{run_dir}: holds a {config.get('kind')} model, not an n-NN")
    path = Path(run_dir) / (BEST if weights == "best" else LAST)
    if not path.is_file():
        raise RnnlensError(f"{path}: missing; this n-NN has no {weights} weights")
    tensors, _ = load_tensors(path)
    model = NNN(NNNConfig(**config["model"]))
    model.load_state_dict(split_prefix(tensors, "model"))
    return NNNPredictor(model.to(resolve_device(device)), Vocabulary(config["vocabulary"]), config["corpus"])


def parameters(config: NNNConfig) -> int:
    """Trainable parameters: ``n V H + H`` in, ``H V + V`` out."""
    return config.context * config.vocab_size * config.hidden_size + config.hidden_size + \
        (config.hidden_size + 1) * config.vocab_size
