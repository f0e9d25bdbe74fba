"""Torch intra-op threads for single-stream (batch 1) recurrences: one thread, the previous count restored after."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

# Intra-op threads for one stream stepping through time (evaluate, sample,
# trace). Each time step is a few small matrix-vector products that must
# finish before the next step starts, so a second thread splits little work
# and waits at a barrier per op; when other processes hold the cores it waits
# for a descheduled partner. Measured with benchmarks/busy_machine.py (2-layer
# LSTM, 82 characters, 2-core VM, torch 2.13, default 2 threads; medians):
#   two busy competitors, hidden 128: 60K-char evaluation 1 thread FILL s vs
#     2 threads FILL s; 500-char sample FILL s vs FILL s;
#   idle, hidden 128: evaluation FILL s vs FILL s; sample FILL s vs FILL s.
# Across hidden 64-512 one thread was faster at every size under contention
# (1.4-3.2x) and two threads at every size when idle (1.0-1.7x on evaluation,
# the gain growing with the size), so the choice depends on the load, which
# nobody knows in advance, not on the model; one thread bounds the loss.
SINGLE_STREAM_THREADS = 1


@contextmanager
def single_stream_threads() -> Iterator[int]:
    """Run the body on ``SINGLE_STREAM_THREADS`` torch intra-op threads; yield that count.

    The previous count (``torch.get_num_threads()``) is restored on exit,
    also on an exception. The setting is process-wide: do not enter this
    while another thread runs batched torch work that wants more threads.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(SINGLE_STREAM_THREADS)
    try:
        yield SINGLE_STREAM_THREADS
    finally:
        torch.set_num_threads(previous)
