"""Truncated-BPTT batches: a text cut into parallel streams, read left to right.

The ids are cut into ``batch_size`` contiguous streams; batch ``k`` holds
columns ``[k*S, (k+1)*S)`` of every stream as inputs and the same columns
shifted by one as targets, so a state carried from batch ``k`` to ``k+1``
continues each stream exactly where it stopped.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnlens.errors import RnnlensError


class StreamBatches:
    """Batches of ``(inputs, targets)``, each ``(batch_size, seq_length)`` int64."""

    def __init__(self, ids: np.ndarray, batch_size: int, seq_length: int, what: str = "text") -> None:
        per_batch = batch_size * seq_length
        self.num_batches = max(len(ids) - 1, 0) // per_batch
        if self.num_batches == 0:
            raise RnnlensError(f"the {what} has {len(ids)} characters, too short for one batch of "
                               f"{batch_size} x {seq_length} (+1)",
                               advice="use a longer text, or fewer streams per batch", option="batch_size")
        usable = self.num_batches * per_batch
        ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
        self.inputs = ids[:usable].reshape(batch_size, -1)
        self.targets = ids[1:usable + 1].reshape(batch_size, -1)
        self.seq_length = seq_length

    def __len__(self) -> int:
        return self.num_batches

    @property
    def chars_per_batch(self) -> int:
        return self.inputs.shape[0] * self.seq_length

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= k < self.num_batches:
            raise IndexError(k)
        cols = slice(k * self.seq_length, (k + 1) * self.seq_length)
        return self.inputs[:, cols], self.targets[:, cols]


def validation_batches(ids: np.ndarray, batch_size: int, seq_length: int) -> StreamBatches:
    """Stream batches for a validation split, with fewer streams if the split is short."""
    streams = max(1, min(batch_size, (len(ids) - 1) // seq_length))
    return StreamBatches(ids, streams, seq_length, what="validation split")
