"""n-NN models: one tanh hidden layer on the one-hot codes of the last n characters, softmax output.

The input of the paper's n-NN is the concatenation of ``n`` one-hot vectors
(``n * V`` values); multiplying it by the first weight matrix adds ``n`` of its
columns, so the network looks them up and sums them (``nn.EmbeddingBag``),
which is the same function at a fraction of the cost::

    h = tanh(sum_j W[:, j*V + c_{t-n+1+j}] + b)      p(c_{t+1}) = softmax(U h + d)

Positions before the start of a text have no character: their one-hot code is
all zeros (a padding row that stays zero), so a text of ``N`` characters gets
``N-1`` predictions like every other predictor.

Training is the shared loop's (``rnnlens.training.loop``: uniform init,
element-wise gradient clipping, early stopping, checkpoints and exact resume)
with defaults that reach convergence in minutes on a CPU rather than the
RNNs' protocol: Adam at 1e-2 on ``batch`` = 8192 positions, the learning
rate halved after each epoch that does not lower the best validation loss by
``min_improvement`` = 0.002 nats/char, and a stop after two such epochs in a
row (``patience``). Minibatches are positions in a random order drawn afresh
for every epoch from ``(seed, epoch)``; each position's target is the
distribution of the characters that follow its context in the training
split (``WindowTask``), which is the same objective without the noise of one
sampled character, computed once per distinct context of the batch. The
hidden size is chosen by validation loss from a grid: every size trains
``select_epochs`` = 2 epochs, the best of them trains on alone (0: every size
to the end). Each size is its own resumable run in ``grid/hH/``; the run
directory keeps the chosen network as ``best.safetensors`` and the whole grid
in ``config.json`` (kind ``nnn``). The paper's optimiser stays an option
(``optimizer="rmsprop", learning_rate=2e-3, lr_schedule="epoch",
lr_decay=0.95``); ``benchmarks/RESULTS.md`` has what each reached and took.
``dropout`` (off by default) drops hidden units while training: on the Linux
kernel, whose validation and test files are unlike its training ones, the
unregularised n-NN overfits from n = 3.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from rnnlens.checks import COUNT
from rnnlens.data.corpus import Corpus, Vocabulary
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import NeuralPredictor
from rnnlens.models.rnn.network import resolve_device
from rnnlens.store.runs import load_tensors, read_config, split_prefix, write_config
from rnnlens.training.loop import BEST, LAST, LoopOptions, Trainer, clear_stale_files, option_agrees

KIND = "nnn"
LABEL = "n-NN"
HIDDEN_GRID = (128, 256)
CHUNK = 1 << 16  # positions (contexts when training) per forward pass


@dataclass(frozen=True)
class NNNOptions(LoopOptions):
    """The shared loop's options with ``batch`` positions per update, ``select_epochs`` for the hidden-size
    grid and the defaults that train an n-NN to convergence in minutes on a CPU (see the module's docstring)."""

    epochs: int = 30
    patience: int = 2
    batch: int = 8192  # positions per update
    select_epochs: int = 2  # epochs of every hidden size before the best goes on alone (0: all to the end)
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    lr_schedule: str = "plateau"
    lr_decay: float = 0.5
    min_improvement: float = 0.002
    dropout: float = 0.0  # on the hidden layer while training: where the test text is unlike the training one


@dataclass(frozen=True)
class NNNConfig:
    """Shape of an n-NN: characters of context, vocabulary size, hidden units, dropout on the hidden layer."""

    context: int
    vocab_size: int
    hidden_size: int
    dropout: float = 0.0


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
        self.dropout = nn.Dropout(config.dropout)
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
        return self.decoder(self.dropout(torch.tanh(self.inputs(self.rows(windows)) + self.bias)))


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


@dataclass(frozen=True)
class Contexts:
    """The distinct contexts of a text's positions and the characters that follow each (a sparse table).

    For a text of ``M+1`` characters: ``of_position (M,)`` is the context id of each position,
    ``windows (U, n)`` the characters of each of the ``U`` contexts (-1 before the text),
    ``positions (U,)`` how many positions have it; context ``u`` is followed by the characters
    ``next_chars[start[u]:start[u+1]]`` (ascending), each at that ``shares`` (float32) of its positions.
    """

    of_position: np.ndarray
    windows: np.ndarray
    positions: np.ndarray
    start: np.ndarray
    next_chars: np.ndarray
    shares: np.ndarray

    @classmethod
    def of(cls, ids: np.ndarray, context: int, vocab_size: int) -> "Contexts":
        """The contexts of ``n = context`` characters in ``ids``."""
        windows = context_windows(ids, context)
        of_position = np.zeros(len(windows), np.int64)
        for j in range(context):  # number the distinct prefixes one character longer at a time (no overflow)
            of_position = np.unique(of_position * (vocab_size + 1) + windows[:, j] + 1, return_inverse=True)[1]
        first = np.unique(of_position, return_index=True)[1]
        pairs, counts = np.unique(of_position * vocab_size + np.asarray(ids[1:], np.int64), return_counts=True)
        pair_context = pairs // vocab_size
        positions = np.bincount(of_position, minlength=len(first))
        return cls(of_position, np.ascontiguousarray(windows[first]), positions,
                   np.searchsorted(pair_context, np.arange(len(first) + 1)), pairs % vocab_size,
                   (counts / positions[pair_context]).astype(np.float32))

    def __len__(self) -> int:
        return len(self.windows)

    def targets(self, which: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For ``(K,)`` context ids, one entry per (context, next character) pair: ``rows`` (index into
        ``which``), ``chars`` and ``shares``."""
        lengths = self.start[which + 1] - self.start[which]
        rows = np.repeat(np.arange(len(which)), lengths)
        index = np.repeat(self.start[which] - (np.cumsum(lengths) - lengths), lengths) + np.arange(lengths.sum())
        return rows, self.next_chars[index], self.shares[index]


def context_loss(model: NNN, contexts: Contexts, which: np.ndarray, weights: np.ndarray) -> torch.Tensor:
    """``sum_k weights[k] * H(next characters of context which[k], model)``: nats, summed, with a graph.

    With ``weights`` the positions of each context this is the text's total cross-entropy (every
    position's loss once), computed once per distinct context.
    """
    device = model.decoder.weight.device
    rows, chars, shares = contexts.targets(which)
    logits = model(torch.from_numpy(contexts.windows[which]).to(device)).float()  # fp32 under bf16 autocast too
    log_probs = torch.log_softmax(logits, dim=-1)
    chosen = log_probs[torch.from_numpy(rows).to(device), torch.from_numpy(chars).to(device)]
    return -(chosen * torch.from_numpy(shares * weights[rows]).to(device)).sum()


@torch.no_grad()
def mean_loss(model: NNN, contexts: Contexts) -> float:
    """Mean cross-entropy (nats/char) of ``model`` over the positions of ``contexts``."""
    was_training = model.training
    model.eval()
    total = 0.0
    for first in range(0, len(contexts), CHUNK):
        which = np.arange(first, min(first + CHUNK, len(contexts)))
        total += context_loss(model, contexts, which, contexts.positions[which].astype(np.float32)).item()
    model.train(was_training)
    return total / max(len(contexts.of_position), 1)


def corpus_contexts(corpus: Corpus, context: int) -> tuple[Contexts, Contexts]:
    """The train and validation contexts of ``corpus`` (refusing a validation split too short to choose by)."""
    train_ids, val_ids = corpus.split_ids("train"), corpus.split_ids("val")
    if len(val_ids) < 2:
        raise RnnlensError("the validation split is too short to choose an n-NN",
                           advice="give the split a share of the text", option="fractions")
    return Contexts.of(train_ids, context, len(corpus.vocab)), Contexts.of(val_ids, context, len(corpus.vocab))


class WindowTask:
    """Minibatches of training positions in a random order per epoch: the shared loop's task for an n-NN.

    A batch's loss is its positions' mean cross-entropy with each position's next character replaced by
    the distribution of the characters that follow its context in the whole training split: the same
    mean over an epoch (every position once), without the noise of one sampled character per position,
    and computed once per distinct context of the batch.
    """

    def __init__(self, train: Contexts, val: Contexts, config: NNNConfig, options: NNNOptions) -> None:
        self.train, self.val, self.config, self.options = train, val, config, options
        self.chars_per_batch = options.batch
        self.bf16_on_cpu = False  # bf16 autocast measured 1.05-1.13x on a 3-NN epoch: not worth its rounding
        self.order = np.arange(len(train.of_position))

    def make_model(self) -> NNN:
        return NNN(self.config)

    def init_weights(self, model: NNN, scale: float) -> None:
        model.init_uniform(scale)

    def num_batches(self) -> int:
        return -(-len(self.train.of_position) // self.options.batch)

    def start_epoch(self, model: NNN, epoch: int, fresh: bool) -> None:
        # from (seed, epoch) alone, so that a resumed epoch sees the same order
        self.order = np.random.default_rng([self.options.seed, epoch]).permutation(len(self.train.of_position))

    def batch_loss(self, model: NNN, k: int) -> torch.Tensor:
        positions = self.order[k * self.options.batch:(k + 1) * self.options.batch]
        which, repeats = np.unique(self.train.of_position[positions], return_counts=True)
        return context_loss(model, self.train, which, repeats.astype(np.float32)) / len(positions)

    def validation_loss(self, model: NNN) -> float:
        return mean_loss(model, self.val)

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

    A spec holds ``context`` (n), ``hidden_sizes`` (default ``HIDDEN_GRID``) and any option of ``NNNOptions``.
    Every size trains ``select_epochs`` epochs; the one with the lowest validation loss in them trains on to
    convergence (``select_epochs`` 0: every size trains to convergence and the lowest loss wins).
    """
    context, options, grid = spec["context"], nnn_options(spec), hidden_grid(spec)
    COUNT.check("context", context)
    out_dir = Path(out_dir)
    train, val = corpus_contexts(corpus, context)
    selecting = replace(options, epochs=min(options.epochs, options.select_epochs or options.epochs))

    def trained(hidden: int, opts: NNNOptions) -> Trainer:
        config = NNNConfig(context, len(corpus.vocab), hidden, opts.dropout)
        run = out_dir / "grid" / f"h{hidden}"
        device = resolve_device(opts.device)
        trainer = Trainer(WindowTask(train, val, config, opts), opts, run, KIND, run_config(config, corpus), device)
        if (run / LAST).exists():
            check_same_training(run, read_config(run)["training"], opts)
            clear_stale_files(run)
            trainer.restore_last()
        if not trainer.finished():
            trainer.fit(show_progress=show_progress, log=lambda line: log(f"{context}-NN hidden {hidden}: {line}"))
        return trainer

    def first_losses(trainer: Trainer) -> float:
        return min(r["val_loss"] for r in trainer.progress.history[:selecting.epochs])
    trainers = {hidden: trained(hidden, selecting) for hidden in grid}
    chosen = min(grid, key=lambda hidden: first_losses(trainers[hidden]))
    if selecting.epochs < options.epochs:
        trainers[chosen] = trained(chosen, options)
    records = [{"hidden_size": hidden, "best_val_loss": t.progress.best_val_loss,
                "best_epoch": min(t.progress.history, key=lambda r: r["val_loss"])["epoch"],
                "history": t.progress.history} for hidden, t in trainers.items()]
    shutil.copyfile(out_dir / "grid" / f"h{chosen}" / BEST, out_dir / f".{BEST}.tmp")
    os.replace(out_dir / f".{BEST}.tmp", out_dir / BEST)
    config = NNNConfig(context, len(corpus.vocab), chosen, options.dropout)
    # the chosen run's options are the spec's, with the precision auto resolved to
    write_config(out_dir, KIND, {**run_config(config, corpus), "training": asdict(trainers[chosen].options),
                                 "hidden_grid": grid,
                                 "grid": records, "best_val_loss": trainers[chosen].progress.best_val_loss})
    return load(out_dir, device=options.device)


RESUMABLE_CHANGES = {"epochs", "device", "save_every", "save_every_s"}  # what a continued run may change


def check_same_training(where: str | os.PathLike, recorded: dict, options: NNNOptions) -> None:
    """Refuse to reuse or continue the n-NN run in ``where``, trained with the ``recorded`` options, with
    others (but ``RESUMABLE_CHANGES``), e.g. a run of an older rnnlens whose defaults were others."""
    for name, value in asdict(options).items():
        if name not in RESUMABLE_CHANGES and not option_agrees(name, value, recorded.get(name)):
            raise RnnlensError(f"{where} was trained with {name} {recorded.get(name)!r}, not {value!r}; it is not "
                               "reused or continued with other options: remove it or choose another output directory")


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
