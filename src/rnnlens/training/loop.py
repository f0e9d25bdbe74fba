"""The paper's training protocol (section 3.3), with exact resume.

Uniform init in [-0.08, 0.08]; mini-batches of 100 streams unrolled 100
steps, the state carried from batch to batch (truncated BPTT); RMSProp with
learning rate 2e-3 and decay 0.95; gradients clipped element-wise at 5; 50
epochs, the learning rate multiplied by 0.95 after each epoch from epoch 10;
validation loss after every epoch, the best weights kept, early stopping
after ``patience`` epochs without improvement.

``last.safetensors`` holds everything a run needs to continue bit-identically
on the same device: weights, optimiser state, RNG state, carried state and
the position in the data. It is written atomically every ``save_every``
iterations and at each epoch's end.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from rnnlens.store import atomic
from rnnlens.data.batches import StreamBatches, validation_batches
from rnnlens.store.runs import load_tensors, read_config, save_tensors, split_prefix, write_config
from rnnlens.data.corpus import Corpus
from rnnlens.errors import RnnlensError
from rnnlens.models.rnn.network import CharRNN, ModelConfig, detach_state, resolve_device

LAST, BEST, METRICS = "last.safetensors", "best.safetensors", "metrics.jsonl"


@dataclass(frozen=True)
class TrainOptions:
    """Every knob of the protocol; the defaults are the paper's."""

    epochs: int = 50
    batch_size: int = 100
    seq_length: int = 100
    learning_rate: float = 2e-3
    rmsprop_decay: float = 0.95
    lr_decay: float = 0.95
    lr_decay_after: int = 10
    grad_clip: float = 5.0
    init_range: float = 0.08
    forget_bias: float = 0.0  # added to LSTM forget-gate biases at init (Gers et al. 2000); 0 is the paper's
    patience: int = 5  # epochs without a better validation loss before stopping; 0 never stops early
    seed: int = 0
    save_every: int = 1000  # iterations between 'last' checkpoints inside an epoch
    device: str = "cpu"

    @classmethod
    def from_dict(cls, values: dict) -> "TrainOptions":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass
class Progress:
    """Where a run stands; saved inside ``last.safetensors`` as metadata."""

    epoch: int = 0  # epochs completed
    batch: int = 0  # batches of the current epoch completed
    learning_rate: float = 0.0
    best_val_loss: float | None = None
    bad_epochs: int = 0
    elapsed_s: float = 0.0
    train_loss_sum: float = 0.0  # over the current epoch's completed batches
    history: list = field(default_factory=list)  # one record per finished epoch


def learning_rate_for(epoch: int, options: TrainOptions) -> float:
    """The learning rate of epoch ``epoch`` (0-based): decayed once per epoch after ``lr_decay_after``."""
    return options.learning_rate * options.lr_decay ** max(0, epoch - options.lr_decay_after + 1)


def epoch_line(record: dict, epochs: int) -> str:
    """One log line for a finished epoch."""
    eta = record["elapsed_s"] / record["epoch"] * (epochs - record["epoch"])
    return (
        f"epoch {record['epoch']}/{epochs}  train {record['train_loss']:.4f} nats/char  "
        f"val {record['val_loss']:.4f} nats/char ({record['val_bits']:.4f} bits/char)  "
        f"{record['chars_per_s']:,.0f} chars/s  elapsed {_clock(record['elapsed_s'])}  ETA {_clock(eta)}"
    )


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@torch.no_grad()
def stream_loss(model: CharRNN, batches: StreamBatches, device: torch.device) -> float:
    """Mean cross-entropy (nats/char) over stream batches, state carried, in eval mode."""
    was_training = model.training
    model.eval()
    state, total = None, 0.0
    for k in range(len(batches)):
        x, y = (t.to(device) for t in batches[k])
        logits, state = model(x, state)
        total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
    model.train(was_training)
    return total / (len(batches) * batches.chars_per_batch)


class Trainer:
    """Owns one run directory: builds or restores the model, trains, checkpoints."""

    def __init__(self, corpus: Corpus, model_config: ModelConfig, options: TrainOptions, out_dir: str | os.PathLike):
        self.corpus, self.options, self.out_dir = corpus, options, Path(out_dir)
        self.device = resolve_device(options.device)
        self.train_batches = StreamBatches(corpus.split_ids("train"), options.batch_size, options.seq_length, "training split")
        self.val_batches = validation_batches(corpus.split_ids("val"), options.batch_size, options.seq_length)
        torch.manual_seed(options.seed)
        self.model = CharRNN(model_config)
        self.model.init_uniform(options.init_range, options.forget_bias)
        self.model.to(self.device)
        self.optimizer = torch.optim.RMSprop(
            self.model.parameters(), lr=options.learning_rate, alpha=options.rmsprop_decay, eps=1e-8
        )
        self.state = None
        self.progress = Progress(learning_rate=learning_rate_for(0, options))

    # --- checkpoints -------------------------------------------------------
    def config(self) -> dict:
        return {
            "model": self.model.config.to_dict(),
            "parameters": self.model.config.parameter_count,
            "vocabulary": self.corpus.vocab.chars,
            "corpus": self.corpus.spec(),
            "training": asdict(self.options),
            "history": self.progress.history,
        }

    def save_last(self) -> None:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        optimizer = self.optimizer.state_dict()
        for index, values in optimizer["state"].items():
            tensors.update({f"optimizer.{index}.{k}": torch.as_tensor(v) for k, v in values.items()})
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        state = self.state if isinstance(self.state, tuple) else (self.state,) if self.state is not None else ()
        tensors.update({f"state.{i}": s for i, s in enumerate(state)})
        meta = {"progress": asdict(self.progress), "param_groups": optimizer["param_groups"]}
        save_tensors(self.out_dir / LAST, tensors, meta)

    def restore_last(self) -> None:
        tensors, meta = load_tensors(self.out_dir / LAST)
        self.model.load_state_dict(split_prefix(tensors, "model"))
        per_param: dict[int, dict] = {}
        for name, value in split_prefix(tensors, "optimizer").items():
            index, key = name.split(".", 1)
            per_param.setdefault(int(index), {})[key] = value.to(self.device) if key != "step" else value
        self.optimizer.load_state_dict({"state": per_param, "param_groups": meta["param_groups"]})
        torch.set_rng_state(tensors["rng.torch"])
        if "rng.cuda" in tensors and self.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        state = [v.to(self.device) for _, v in sorted(split_prefix(tensors, "state").items())]
        self.state = None if not state else tuple(state) if len(state) == 2 else state[0]
        self.progress = Progress(**meta["progress"])

    def write_run_files(self) -> None:
        write_config(self.out_dir, "rnn", self.config())
        atomic.write_text(self.out_dir / METRICS, "".join(_json_line(r) for r in self.progress.history))

    # --- training ----------------------------------------------------------
    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        logits, state = self.model(x, self.state)
        self.state = detach_state(state)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        value = loss.item()
        if not math.isfinite(value):
            raise RnnlensError(
                f"the training loss became {value} at epoch {self.progress.epoch + 1}, batch {self.progress.batch + 1}; "
                f"the last good checkpoint is kept in {self.out_dir}; lower --learning-rate or --grad-clip"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.options.grad_clip > 0:
            torch.nn.utils.clip_grad_value_(self.model.parameters(), self.options.grad_clip)
        self.optimizer.step()
        return value

    def run_epoch(self, on_iteration: Callable | None, show_progress: bool) -> float:
        """Train from the current position to the end of the epoch; return its seconds."""
        p, opts = self.progress, self.options
        for group in self.optimizer.param_groups:
            group["lr"] = p.learning_rate
        if p.batch == 0:
            self.state = None  # each epoch starts its streams from a zero state
        self.model.train()
        start = time.perf_counter()
        bar = tqdm(total=len(self.train_batches), initial=p.batch, desc=f"epoch {p.epoch + 1}/{opts.epochs}",
                   unit="batch", disable=not show_progress, leave=False, file=sys.stderr)
        for k in range(p.batch, len(self.train_batches)):
            x, y = (t.to(self.device) for t in self.train_batches[k])
            p.train_loss_sum += self.train_step(x, y)
            p.batch = k + 1
            bar.update(1)
            if on_iteration is not None:
                on_iteration(p)
            if opts.save_every and p.batch % opts.save_every == 0 and p.batch < len(self.train_batches):
                p.elapsed_s += time.perf_counter() - start
                start = time.perf_counter()
                self.save_last()
        bar.close()
        return time.perf_counter() - start

    def finish_epoch(self, seconds: float, log: Callable[[str], None]) -> bool:
        """Validate, record, checkpoint and decay; return whether to go on."""
        p, opts = self.progress, self.options
        p.elapsed_s += seconds
        val_loss = stream_loss(self.model, self.val_batches, self.device)
        record = {
            "epoch": p.epoch + 1, "train_loss": p.train_loss_sum / len(self.train_batches),
            "val_loss": val_loss, "val_bits": val_loss / math.log(2), "learning_rate": p.learning_rate,
            "chars_per_s": len(self.train_batches) * self.train_batches.chars_per_batch / max(seconds, 1e-9),
            "elapsed_s": p.elapsed_s,
        }
        p.history.append(record)
        improved = p.best_val_loss is None or val_loss < p.best_val_loss
        if improved:
            p.best_val_loss, p.bad_epochs = val_loss, 0
            tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
            save_tensors(self.out_dir / BEST, tensors, {"epoch": p.epoch + 1, "val_loss": val_loss})
        else:
            p.bad_epochs += 1
        p.epoch, p.batch, p.train_loss_sum = p.epoch + 1, 0, 0.0
        p.learning_rate = learning_rate_for(p.epoch, opts)
        self.save_last()
        self.write_run_files()
        log(epoch_line(record, opts.epochs))
        if opts.patience and p.bad_epochs >= opts.patience:
            log(f"stopping early: no better validation loss for {p.bad_epochs} epochs")
            return False
        return True

    def fit(self, on_iteration: Callable | None = None, show_progress: bool = True,
            log: Callable[[str], None] = print) -> Progress:
        """Train until the last epoch or early stopping; return the final progress."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if not (self.out_dir / LAST).exists():
            self.write_run_files()
            self.save_last()
        while self.progress.epoch < self.options.epochs:
            seconds = self.run_epoch(on_iteration, show_progress)
            if not self.finish_epoch(seconds, log):
                break
        return self.progress


def _json_line(record: dict) -> str:
    return json.dumps(record) + "\n"


def start_run(corpus: Corpus, model_config: ModelConfig, options: TrainOptions, out_dir: str | os.PathLike) -> Trainer:
    """A trainer for a new run; refuses a directory that already holds one."""
    if (Path(out_dir) / LAST).exists():
        raise RnnlensError(f"{out_dir} already holds a training run; pass --resume to continue it or choose another --out")
    return Trainer(corpus, model_config, options, out_dir)


def resume_run(corpus: Corpus, out_dir: str | os.PathLike, epochs: int | None = None) -> Trainer:
    """A trainer restored from ``out_dir/last.safetensors`` exactly where it stopped.

    ``epochs`` may extend (or shorten) the run; every other option is the saved one.
    """
    if not (Path(out_dir) / LAST).exists():
        raise RnnlensError(f"{out_dir}: nothing to resume (no {LAST}); start the run without --resume")
    for stale in Path(out_dir).glob(".*.tmp"):  # what a kill mid-write left behind
        stale.unlink()
    config = read_config(out_dir)
    if config["corpus"]["sha256"] != corpus.sha256:
        raise RnnlensError(f"{out_dir} was trained on another text (sha256 differs); resume it with the same corpus")
    options = TrainOptions.from_dict({**config["training"], **({"epochs": epochs} if epochs else {})})
    trainer = Trainer(corpus, ModelConfig(**config["model"]), options, out_dir)
    trainer.restore_last()
    return trainer
