"""Beam search over any predictor: the B likeliest continuations of a prime, each of the same length.

Each step extends every kept continuation by every character and keeps the
B with the highest total log-probability. A continuation's next
distribution is the predictor's after the prime and the continuation, read
afresh (``sampling.next_log_distribution``): an RNN is run over the whole
text again rather than forked, since a predictor offers no way to copy its
state. That costs ``B x (prime + t)`` characters at step ``t`` (exact, and
fine for lengths in the hundreds); an n-gram or n-NN model reads only its
last ``context_length`` characters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnlens.checks import COUNT, NONNEGATIVE_COUNT
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import Predictor
from rnnlens.models.sampling import next_log_distribution
from rnnlens.models.threads import single_stream_threads


@dataclass(frozen=True)
class Beam:
    """One continuation: its ``text`` (without the prime) and its total ``log_prob`` in nats."""

    text: str
    log_prob: float


@torch.no_grad()
def beam_search(predictor: Predictor, prime: str, length: int, beams: int) -> list[Beam]:
    """The ``beams`` likeliest continuations of ``prime`` (at least one character, all in the vocabulary) of
    ``length`` characters, best first; equal totals keep the earlier beam and the lower character id first."""
    COUNT.check("beams", beams)
    if not prime:
        raise RnnlensError("beam search starts from a prime: an empty one gives no first distribution",
                           advice="give at least one character", option="prime")
    NONNEGATIVE_COUNT.check("length", length)
    prime_ids = [int(i) for i in predictor.vocab.encode(prime)]
    kept: list[tuple[float, list[int]]] = [(0.0, [])]
    with single_stream_threads():
        for _ in range(length):
            totals = np.stack([total + next_log_distribution(predictor, prime_ids + ids).astype(np.float64)
                               for total, ids in kept])  # (kept, V)
            best = np.argsort(-totals, axis=None, kind="stable")[:beams]
            rows, chars = np.unravel_index(best, totals.shape)
            kept = [(float(totals[r, c]), kept[r][1] + [int(c)]) for r, c in zip(rows, chars)]
    return [Beam(predictor.vocab.decode(ids), total) for total, ids in kept]
