"""Torch intra-op threads for single-stream (batch 1) recurrences: one thread, the previous count restored after."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

# Intra-op threads for one stream stepping through time (evaluate, sample,
# trace). Each time step is a few small matrix-vector products that must end
# before the next step starts, so a second thread splits little work and
# meets the other at a barrier per op; when other processes hold the cores
# it waits there for a descheduled partner, step after step.
# benchmarks/busy_machine.py, 2-layer LSTM, 82 characters, 2-core VM, torch
# 2.13 (default 2 threads), medians of two runs, 1 thread against 2:
#   two busy processes, hidden 128: evaluating 60K characters 0.85-0.90 s
#     against 1.8-2.7 s (single runs up to 22 s; issue 9: 3.7 vs 8.8 s);
#     sampling 500 characters 0.16 s against 0.39-0.42 s (issue 9: 1.7 vs 26 s);
#   idle, hidden 128: 0.58-0.62 s against 0.51-0.57 s; 0.11-0.12 s against
#     0.10-0.12 s.
# The model size changes the stakes, not the winner: one thread also wins
# under contention at hidden 256 (2.2-2.8x) and 512 (1.3-2.9x); two win when
# idle at every size, by more as the model grows (at most 1.15x at hidden
# 128, 1.4-1.6x at 256, 1.6-1.8x at 512). One thread's loss is bounded by the
# cores it leaves (under 2x here) while the loss of two under contention is
# not, and nobody knows the load in advance, so the count is one at every size.
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
