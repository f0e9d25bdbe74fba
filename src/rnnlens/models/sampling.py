"""Generate text from any predictor, one character at a time, as a stream.

A predictor with a ``stream(prime_ids)`` generator (an RNN, which carries its
state) is stepped directly; any other is asked for the next distribution of
its recent history, the last ``context_length`` characters where it says how
many it sees (an n-gram or n-NN model), else the whole text so far.
"""

from __future__ import annotations

from typing import Generator, Iterator

import numpy as np
import torch

from rnnlens.checks import COUNT, NONNEGATIVE_COUNT, Range
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import Predictor
from rnnlens.models.threads import single_stream_threads

OPEN_FRACTION_OR_ONE = Range(0, 1, open_low=True)  # top-p: 1 keeps every character
Stepper = Generator[np.ndarray, int, None]  # yields log p(next | text so far) (V,), is sent the chosen id


def next_log_distribution(predictor: Predictor, ids: list[int]) -> np.ndarray:
    """``(V,)`` log p(next character | ids) in nats, from the last ``context_length`` ids where the predictor says
    how many it sees, else from all of them (an RNN from a zero state)."""
    window = getattr(predictor, "context_length", None)
    context = ids[-window:] if window else ids
    # one more (dummy) id makes the last row the distribution after the whole context
    return predictor.predict_log_distributions(np.array(context + [0], dtype=np.int64))[-1]


def history_stepper(predictor: Predictor, prime_ids: np.ndarray) -> Stepper:
    """Next-character log distributions from the text so far, for predictors without a state."""
    ids = [int(i) for i in prime_ids]
    while True:
        choice = yield next_log_distribution(predictor, ids)
        ids.append(choice)


def filtered(log_dist: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None) -> torch.Tensor:
    """Sampling probabilities ``(V,)`` from log-probabilities ``(V,)``: divided by ``temperature``, then only
    the ``top_k`` likeliest characters, then only the fewest likeliest whose probability reaches ``top_p``
    (nucleus sampling), renormalised. Equal probabilities keep the lower id first, as ``argmax`` does, so
    ``top_k=1`` always gives the argmax."""
    probs = torch.softmax(log_dist / temperature, dim=-1)
    order = torch.sort(probs, descending=True, stable=True).indices
    keep = len(probs) if top_k is None else min(top_k, len(probs))
    if top_p is not None:
        before = torch.cumsum(probs[order], dim=0) - probs[order]  # probability of the likelier characters
        keep = min(keep, int((before < top_p).sum()))
    kept = torch.zeros_like(probs)
    kept[order[:keep]] = probs[order[:keep]]
    return kept / kept.sum()


@torch.no_grad()
def sample(predictor: Predictor, length: int, temperature: float = 1.0, prime: str = "",
           seed: int | None = None, argmax: bool = False, top_k: int | None = None,
           top_p: float | None = None) -> Iterator[str]:
    """Yield ``length`` characters, each drawn from the model's next-character distribution.

    ``prime`` is fed first (its characters must be in the vocabulary); without
    it, the first character is drawn uniformly from the vocabulary.
    ``temperature`` divides the log-probabilities; ``top_k`` and ``top_p`` keep only the likeliest
    characters (see ``filtered``); ``argmax`` always picks the likeliest.
    """
    check_decoding(length, temperature, argmax, top_k, top_p)
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed if seed is not None else torch.seed())
    vocab = predictor.vocab
    prime_ids = vocab.encode(prime) if prime else torch.randint(len(vocab), (1,), generator=generator).numpy()
    stepper = predictor.stream(prime_ids) if hasattr(predictor, "stream") else history_stepper(predictor, prime_ids)
    # one character at a time (models/threads.py); held while the caller takes each character, until the end
    with single_stream_threads():
        log_dist = next(stepper)
        for _ in range(length):
            last = torch.as_tensor(np.asarray(log_dist), dtype=torch.float32)
            if argmax:
                choice = int(last.argmax())
            else:
                probs = filtered(last, temperature, top_k, top_p)
                choice = int(torch.multinomial(probs, 1, generator=generator))
            yield vocab.chars[choice]
            log_dist = stepper.send(choice)


def check_decoding(length: int, temperature: float, argmax: bool, top_k: int | None, top_p: float | None) -> None:
    """Refuse options no sampler can follow, before anything is generated."""
    if temperature <= 0 and not argmax:
        raise RnnlensError(f"temperature {temperature} must be positive", advice="or always take the likeliest",
                           option="argmax")
    NONNEGATIVE_COUNT.check("length", length)
    if top_k is not None:
        COUNT.check("top_k", top_k)
    if top_p is not None:
        OPEN_FRACTION_OR_ONE.check("top_p", top_p)
