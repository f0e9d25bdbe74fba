"""Training watched in TensorBoard (``train --tensorboard DIR``): an ``Observer`` of the loop that writes event
files with torch's ``SummaryWriter``, from the optional ``tensorboard`` extra.

Scalars, by the step (training batches done over the whole run):
``train/loss`` (nats/char, each update), ``train/learning_rate``,
``train/chars_per_s`` (throughput of each update), ``train/grad_norm``
(L2 norm of every gradient before clipping), and after each epoch
``epoch/train_loss``, ``epoch/val_loss`` (nats/char) and ``epoch/val_bits``.
A resumed run purges from the directory what a killed one wrote after its
last checkpoint, so each step is shown once.
"""

from __future__ import annotations

import os

from rnnlens.errors import RnnlensError
from rnnlens.training.loop import BatchEvent

INSTALL = "pip install 'rnnlens[tensorboard]'"


def summary_writer_class():
    """torch's ``SummaryWriter``, or a one-line error saying how to install TensorBoard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise RnnlensError(f"TensorBoard event files need the tensorboard package, which is not installed: "
                           f"{INSTALL}") from None
    return SummaryWriter


class TensorBoardObserver:
    """Writes a run's scalars into ``log_dir`` (see the module docstring); ``steps_done``: the batches a
    resumed run has done, after which TensorBoard forgets what the directory holds. Close it when training ends."""

    wants_grad_norm = True

    def __init__(self, log_dir: str | os.PathLike, steps_done: int = 0) -> None:
        self.writer = summary_writer_class()(str(log_dir), purge_step=steps_done + 1 if steps_done else None)

    def on_batch(self, event: BatchEvent) -> None:
        scalars = {"train/loss": event.loss, "train/learning_rate": event.learning_rate,
                   "train/chars_per_s": event.chars_per_s, "train/grad_norm": event.grad_norm}
        for tag, value in scalars.items():
            if value is not None:
                self.writer.add_scalar(tag, value, event.step)

    def on_epoch(self, record: dict, step: int) -> None:
        for key in ("train_loss", "val_loss", "val_bits"):
            self.writer.add_scalar(f"epoch/{key}", record[key], step)
        self.writer.flush()  # an epoch's numbers are on disk as soon as it ends

    def close(self) -> None:
        self.writer.close()
