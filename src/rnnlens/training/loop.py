"""The paper's training protocol (section 3.3) for every trained model kind, with exact resume.

A kind supplies a ``Task``: its model, how many batches an epoch has, the
loss of batch ``k``, and the validation loss ("batches in, loss out"). The
loop does the rest, the same for every kind: uniform init in
[-``init_range``, ``init_range``]; RMSProp with learning rate 2e-3 and decay
0.95; gradients clipped element-wise at 5; 50 epochs, the learning rate
multiplied by 0.95 after each epoch from epoch 10; the validation loss after
every epoch, the best weights kept (``best.safetensors``), early stopping
after ``patience`` epochs without improvement. Two options leave the paper:
``optimizer="adam"`` (Adam, betas 0.9 and 0.999) and ``lr_schedule="plateau"``
(the learning rate multiplied by ``lr_decay`` after each epoch that did not
improve the validation loss, instead of after every epoch from
``lr_decay_after``); ``min_improvement`` makes patience and the plateau count
an epoch as an improvement only when it lowers the best validation loss by
that much (the best weights are still kept on any lower loss).

``last.safetensors`` holds everything a run needs to continue bit-identically
on the same device: weights, optimiser state, RNG state, what the task
carries between batches (an RNN's state) and the position in the data. It is
written atomically every ``save_every`` batches, every ``save_every_s``
seconds, at each epoch's end, and when SIGINT or SIGTERM asks the run to stop.

With ``snapshot_every`` N > 0 the run also keeps the model's weights after
every N batches (counted over the whole run) and before the first
(``snapshots/snapshot-000000.safetensors``, the initial weights), each with
its batch count and epoch, for the study of training dynamics. A snapshot
is written before the checkpoint of the same batch, so a killed run that
resumes writes again, identically, the snapshots it may have lost.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Callable, Iterator, Protocol

import torch
from torch import nn
from tqdm import tqdm

from rnnlens.checks import COUNT, DROPOUT, NONNEGATIVE, NONNEGATIVE_COUNT, OPEN_FRACTION, POSITIVE, Range
from rnnlens.errors import RnnlensError
from rnnlens.store import atomic
from rnnlens.store.runs import (SNAPSHOTS, load_tensors, save_tensors, snapshot_name, split_prefix, weights_path,
                                write_config)
from rnnlens.training.precision import PRECISIONS, autocast, resolve_precision

LAST, BEST, METRICS = "last.safetensors", "best.safetensors", "metrics.jsonl"


@dataclass(frozen=True)
class LoopOptions:
    """The knobs every trained kind shares; the defaults are the paper's."""

    epochs: int = 50
    learning_rate: float = 2e-3
    rmsprop_decay: float = 0.95
    lr_decay: float = 0.95
    lr_decay_after: int = 10
    grad_clip: float = 5.0
    init_range: float = 0.08
    patience: int = 5  # epochs without a better validation loss before stopping; 0 never stops early
    seed: int = 0
    save_every: int = 1000  # batches between 'last' checkpoints inside an epoch (0: by time only)
    save_every_s: float = 300.0  # seconds between 'last' checkpoints, so a kill loses at most this much
    device: str = "cpu"
    optimizer: str = "rmsprop"  # "rmsprop" (the paper's) or "adam"
    lr_schedule: str = "epoch"  # "epoch" (the paper's: decay every epoch from lr_decay_after) or "plateau"
    min_improvement: float = 0.0  # nats/char a validation loss must gain to reset patience (and the plateau)
    precision: str = "auto"  # of the training forward pass: fp32, bf16 (autocast) or auto (training/precision.py)

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name in RANGES:
                RANGES[f.name].check(f.name, getattr(self, f.name))
            if f.name in CHOICES and getattr(self, f.name) not in CHOICES[f.name]:
                raise RnnlensError(f"{f.name} is {getattr(self, f.name)!r}; it must be one of "
                                   f"{', '.join(CHOICES[f.name])}")

    @classmethod
    def from_dict(cls, values: dict):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


# what each option of the loop (and of the kinds' options built on it) may be
RANGES: dict[str, Range] = {
    "epochs": COUNT, "learning_rate": POSITIVE, "rmsprop_decay": OPEN_FRACTION, "lr_decay": Range(0, 1, open_low=True),
    "lr_decay_after": NONNEGATIVE_COUNT, "grad_clip": NONNEGATIVE, "init_range": POSITIVE,
    "patience": NONNEGATIVE_COUNT, "seed": NONNEGATIVE_COUNT, "save_every": NONNEGATIVE_COUNT,
    "save_every_s": POSITIVE, "batch_size": COUNT, "seq_length": COUNT, "batch": COUNT,
    "forget_bias": Range(), "dropout": DROPOUT, "snapshot_every": NONNEGATIVE_COUNT,
    "select_epochs": NONNEGATIVE_COUNT, "min_improvement": NONNEGATIVE,
}
CHOICES: dict[str, tuple[str, ...]] = {"optimizer": ("rmsprop", "adam"), "lr_schedule": ("epoch", "plateau"),
                                       "precision": PRECISIONS}


def option_agrees(name: str, given, recorded) -> bool:
    """Whether an option given to continue or reuse a run agrees with the run's record: equal, or a precision
    of ``auto`` (a run records what auto resolved to; a run recorded before precisions existed was fp32)."""
    if name == "precision":
        return given == "auto" or given == (recorded or "fp32")
    return given == recorded


class Task(Protocol):
    """The part of training that differs between kinds: batches in, loss out.

    ``make_model()`` builds the network (the loop seeds torch first and then
    applies the uniform init); ``start_epoch`` prepares epoch ``epoch``'s
    batches; ``batch_loss(k)`` is the mean loss of batch ``k`` as a tensor
    with a graph; ``carried()``/``restore_carried()`` save and restore what
    a batch hands to the next (an RNN's state). ``bf16_on_cpu`` says whether the kind trains faster under
    bf16 autocast on a CPU that multiplies bf16 natively (what ``precision="auto"`` follows there; a task
    without it is taken to gain nothing).
    """

    chars_per_batch: int
    bf16_on_cpu: bool

    def make_model(self) -> nn.Module: ...
    def init_weights(self, model: nn.Module, scale: float) -> None: ...
    def num_batches(self) -> int: ...
    def start_epoch(self, model: nn.Module, epoch: int, fresh: bool) -> None: ...
    def batch_loss(self, model: nn.Module, k: int) -> torch.Tensor: ...
    def validation_loss(self, model: nn.Module) -> float: ...
    def carried(self) -> dict[str, torch.Tensor]: ...
    def restore_carried(self, tensors: dict[str, torch.Tensor]) -> None: ...


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
    stopped_early: bool = False
    history: list = field(default_factory=list)  # one record per finished epoch


@dataclass(frozen=True)
class BatchEvent:
    """One training update as an ``Observer`` sees it: ``step`` batches done over the whole run (this one
    included), in ``epoch`` (from 1); its ``loss`` in nats/char and ``learning_rate``; ``grad_norm`` the L2 norm
    of every gradient before clipping (None unless an observer wants it); ``chars_per_s`` since the last update."""

    step: int
    epoch: int
    loss: float
    learning_rate: float
    grad_norm: float | None
    chars_per_s: float


class Observer(Protocol):
    """What watches a training from outside the loop (``train --tensorboard``): told of every update and of
    every finished epoch (its ``metrics.jsonl`` record and the step it ends at). ``wants_grad_norm`` asks the
    loop to measure the gradient norm, which costs a pass over the gradients each update."""

    wants_grad_norm: bool

    def on_batch(self, event: BatchEvent) -> None: ...
    def on_epoch(self, record: dict, step: int) -> None: ...


class Interrupted(RnnlensError):
    """SIGINT or SIGTERM (``signum``) stopped training after a resumable checkpoint was saved."""

    def __init__(self, message: str, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.signum = signum


def learning_rate_for(epoch: int, options: LoopOptions) -> float:
    """The learning rate of epoch ``epoch`` (0-based): decayed once per epoch after ``lr_decay_after``."""
    return options.learning_rate * options.lr_decay ** max(0, epoch - options.lr_decay_after + 1)


def next_learning_rate(progress: "Progress", options: LoopOptions, improved: bool) -> float:
    """The learning rate after the epoch that ``progress`` has just counted (``improved``: it lowered the
    best validation loss): the paper's per-epoch decay, or a decay on each epoch without improvement."""
    if options.lr_schedule == "plateau":
        return progress.learning_rate * (1.0 if improved else options.lr_decay)
    return learning_rate_for(progress.epoch, options)


def make_optimizer(parameters, options: LoopOptions) -> torch.optim.Optimizer:
    """The paper's RMSProp (``rmsprop_decay`` is its moving-average decay) or Adam."""
    if options.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=options.learning_rate)
    return torch.optim.RMSprop(parameters, lr=options.learning_rate, alpha=options.rmsprop_decay, eps=1e-8)


def clock(seconds: float) -> str:
    """``H:MM:SS``."""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def epoch_line(record: dict, epochs: int) -> str:
    """One log line for a finished epoch."""
    eta = record["elapsed_s"] / record["epoch"] * (epochs - record["epoch"])
    return (
        f"epoch {record['epoch']}/{epochs}  train {record['train_loss']:.4f} nats/char  "
        f"val {record['val_loss']:.4f} nats/char ({record['val_bits']:.4f} bits/char)  "
        f"{record['chars_per_s']:,.0f} chars/s  elapsed {clock(record['elapsed_s'])}  ETA {clock(eta)}"
    )


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while the block runs (handlers only in the main thread); its
    ``signum`` says which came."""
    requested = threading.Event()
    requested.signum = signal.SIGINT

    def handler(signum, frame):
        requested.signum = signum
        requested.set()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class Trainer:
    """Owns one run directory: builds or restores the task's model, trains, checkpoints.

    ``config`` is what ``config.json`` records beside the options and the
    history (kind, model, vocabulary, corpus...); ``snapshot_every`` N > 0 keeps the weights every N
    batches (see the module docstring). ``options.precision`` ``auto`` is resolved here, and the options
    (hence ``config.json``) hold what it resolved to, so a resumed run keeps its precision.
    """

    def __init__(self, task: Task, options: LoopOptions, out_dir: str | os.PathLike, kind: str, config: dict,
                 device: torch.device, snapshot_every: int = 0) -> None:
        options = replace(options, precision=resolve_precision(options.precision, device,
                                                                   getattr(task, "bf16_on_cpu", False)))
        self.task, self.options, self.out_dir, self.kind = task, options, Path(out_dir), kind
        self.snapshot_every = snapshot_every
        self.device = device
        self.run_config = config
        torch.manual_seed(options.seed)
        self.model = task.make_model()
        task.init_weights(self.model, options.init_range)
        self.model.to(self.device)
        self.optimizer = make_optimizer(self.model.parameters(), options)
        first = options.learning_rate if options.lr_schedule == "plateau" else learning_rate_for(0, options)
        self.progress = Progress(learning_rate=first)
        self.observers: list[Observer] = []  # given to fit

    # --- checkpoints -------------------------------------------------------
    def config(self) -> dict:
        return {**self.run_config, "training": asdict(self.options), "history": self.progress.history}

    def save_last(self) -> None:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        optimizer = self.optimizer.state_dict()
        for index, values in optimizer["state"].items():
            tensors.update({f"optimizer.{index}.{k}": torch.as_tensor(v) for k, v in values.items()})
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        tensors.update({f"state.{k}": v for k, v in self.task.carried().items()})
        meta = {"progress": asdict(self.progress), "param_groups": optimizer["param_groups"]}
        save_tensors(self.out_dir / LAST, tensors, meta)

    def batches_done(self) -> int:
        """Training batches completed over the whole run."""
        return self.progress.epoch * self.task.num_batches() + self.progress.batch

    def snapshot_due(self) -> bool:
        return bool(self.snapshot_every) and self.batches_done() % self.snapshot_every == 0

    def save_snapshot(self) -> None:
        """Keep the model's weights with the batch count and the epochs (a fraction) they were trained for."""
        batch, per_epoch = self.batches_done(), self.task.num_batches()
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        save_tensors(weights_path(self.out_dir, snapshot_name(batch)), tensors,
                     {"batch": batch, "epoch": batch / per_epoch, "batches_per_epoch": per_epoch})

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
        self.task.restore_carried({k: v.to(self.device) for k, v in split_prefix(tensors, "state").items()})
        self.progress = Progress(**meta["progress"])

    def write_run_files(self) -> None:
        write_config(self.out_dir, self.kind, self.config())
        atomic.write_text(self.out_dir / METRICS, "".join(json.dumps(r) + "\n" for r in self.progress.history))

    # --- training ----------------------------------------------------------
    def train_step(self, k: int) -> tuple[float, float | None]:
        """One update on batch ``k``: its loss, and the gradients' L2 norm before clipping where an observer
        wants it (else None)."""
        with autocast(self.options.precision, self.device):
            loss = self.task.batch_loss(self.model, k)
        value = loss.item()
        if not math.isfinite(value):
            raise RnnlensError(
                f"the training loss became {value} at epoch {self.progress.epoch + 1}, batch {self.progress.batch + 1}; "
                f"the last good checkpoint is kept in {self.out_dir}; lower the learning rate or the gradient clip"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = None
        if any(observer.wants_grad_norm for observer in self.observers):
            grads = [p.grad for p in self.model.parameters() if p.grad is not None]
            norm = torch.nn.utils.get_total_norm(grads).item()
        if self.options.grad_clip > 0:
            torch.nn.utils.clip_grad_value_(self.model.parameters(), self.options.grad_clip)
        self.optimizer.step()
        return value, norm

    def tell_batch(self, loss: float, grad_norm: float | None, seconds: float) -> None:
        """Give each observer the update just made (``seconds`` it took)."""
        event = BatchEvent(self.batches_done(), self.progress.epoch + 1, loss, self.progress.learning_rate,
                           grad_norm, self.task.chars_per_batch / max(seconds, 1e-9))
        for observer in self.observers:
            observer.on_batch(event)

    def run_epoch(self, on_iteration: Callable | None, show_progress: bool,
                  stop: threading.Event | None = None) -> tuple[float, float]:
        """Train from the current position to the end of the epoch; return the seconds since the last
        checkpoint (those already counted in ``elapsed_s``) and the training speed in characters per second.

        Checkpoints fall due by batch count and by time; when ``stop`` is set
        the run saves and raises ``Interrupted``.
        """
        p, opts = self.progress, self.options
        for group in self.optimizer.param_groups:
            group["lr"] = p.learning_rate
        self.task.start_epoch(self.model, p.epoch, fresh=p.batch == 0)
        self.model.train()
        batches = self.task.num_batches()
        start = last_save = began = last_batch = time.perf_counter()
        first = p.batch
        bar = tqdm(total=batches, initial=p.batch, desc=f"epoch {p.epoch + 1}/{opts.epochs}",
                   unit="batch", disable=not show_progress, leave=False, file=sys.stderr)
        for k in range(p.batch, batches):
            loss, grad_norm = self.train_step(k)
            p.train_loss_sum += loss
            p.batch = k + 1
            if self.snapshot_due():
                self.save_snapshot()
            bar.update(1)
            bar.set_postfix_str(f"loss {loss:.3f}", refresh=False)
            if on_iteration is not None:
                on_iteration(p)
            now = time.perf_counter()
            self.tell_batch(loss, grad_norm, now - last_batch)
            last_batch = now
            due = (opts.save_every and p.batch % opts.save_every == 0) or now - last_save >= opts.save_every_s
            stopping = stop is not None and stop.is_set()
            if (due or stopping) and p.batch < batches:
                p.elapsed_s += now - start
                start = last_save = now
                self.save_last()
            if stopping and p.batch < batches:
                bar.close()
                raise Interrupted(f"stopped in epoch {p.epoch + 1} after batch {p.batch} of {batches}; "
                                  f"{self.out_dir / LAST} holds everything to resume exactly there", stop.signum)
        bar.close()
        now = time.perf_counter()
        return now - start, (batches - first) * self.task.chars_per_batch / max(now - began, 1e-9)

    def finish_epoch(self, seconds: float, chars_per_s: float, log: Callable[[str], None]) -> bool:
        """Validate, record, checkpoint and decay; return whether to go on."""
        p, opts = self.progress, self.options
        p.elapsed_s += seconds
        val_loss = self.task.validation_loss(self.model)
        batches = self.task.num_batches()
        record = {
            "epoch": p.epoch + 1, "train_loss": p.train_loss_sum / batches,
            "val_loss": val_loss, "val_bits": val_loss / math.log(2), "learning_rate": p.learning_rate,
            "chars_per_s": chars_per_s,
            "elapsed_s": p.elapsed_s,
        }
        p.history.append(record)
        # the best weights are kept on any lower loss; patience and the plateau count only gains of min_improvement
        improved = p.best_val_loss is None or val_loss < p.best_val_loss - opts.min_improvement
        if p.best_val_loss is None or val_loss < p.best_val_loss:
            p.best_val_loss = val_loss
            tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
            save_tensors(self.out_dir / BEST, tensors, {"epoch": p.epoch + 1, "val_loss": val_loss})
        p.bad_epochs = 0 if improved else p.bad_epochs + 1
        p.epoch, p.batch, p.train_loss_sum = p.epoch + 1, 0, 0.0
        p.learning_rate = next_learning_rate(p, opts, improved)
        p.stopped_early = bool(opts.patience and p.bad_epochs >= opts.patience)
        # the record before the checkpoint: a kill between them resumes from the previous checkpoint and writes
        # both again, where the other order left a finished run whose config.json lacked its last epoch
        self.write_run_files()
        self.save_last()
        log(epoch_line(record, opts.epochs))
        for observer in self.observers:
            observer.on_epoch(record, self.batches_done())
        if p.stopped_early:
            by = f" by {opts.min_improvement:g} nats/char" if opts.min_improvement else ""
            log(f"stopping early: no validation loss better{by} for {p.bad_epochs} epochs")
        return not p.stopped_early

    def finished(self) -> bool:
        return self.progress.stopped_early or self.progress.epoch >= self.options.epochs

    def fit(self, on_iteration: Callable | None = None, show_progress: bool = True,
            log: Callable[[str], None] = print, observers: list[Observer] = ()) -> Progress:
        """Train until the last epoch or early stopping; return the final progress. ``observers`` are told
        of every update and every epoch (see ``Observer``).

        SIGINT/SIGTERM (in the main thread) save a resumable checkpoint and raise ``Interrupted``.
        """
        self.observers = list(observers)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # the handlers are in place before the first checkpoint exists: a signal that comes once it does is
        # always answered with a resumable save, never with the default KeyboardInterrupt
        with stop_on_signals() as stop:
            if not (self.out_dir / LAST).exists():
                self.write_run_files()
                if self.snapshot_due():  # batch 0: the initial weights
                    self.save_snapshot()
                self.save_last()
            while not self.finished():
                seconds, chars_per_s = self.run_epoch(on_iteration, show_progress, stop)
                if not self.finish_epoch(seconds, chars_per_s, log) or stop.is_set():
                    break
        if stop.is_set() and not self.finished():
            raise Interrupted(f"stopped after epoch {self.progress.epoch}; {self.out_dir / LAST} holds "
                              "everything to resume from there", stop.signum)
        return self.progress


def clear_stale_files(out_dir: str | os.PathLike) -> None:
    """Remove what a kill mid-write left behind (``atomic`` temporary files)."""
    for folder in (Path(out_dir), Path(out_dir) / SNAPSHOTS):
        for stale in folder.glob(".*.tmp"):
            stale.unlink()
