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

from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import Predictor
from rnnlens.models.threads import single_stream_threads

Stepper = Generator[np.ndarray, int, None]  # yields log p(next | text so far) (V,), is sent the chosen id


def history_stepper(predictor: Predictor, prime_ids: np.ndarray) -> Stepper:
    """Next-character log distributions from the text so far, for predictors without a state."""
    ids = [int(i) for i in prime_ids]
    window = getattr(predictor, "context_length", None)
    while True:
        context = ids[-window:] if window else ids
        # one more (dummy) id makes the last row the distribution after the whole context
        choice = yield predictor.predict_log_distributions(np.array(context + [0], dtype=np.int64))[-1]
        ids.append(choice)


@torch.no_grad()
def sample(predictor: Predictor, length: int, temperature: float = 1.0, prime: str = "",
           seed: int | None = None, argmax: bool = False) -> Iterator[str]:
    """Yield ``length`` characters, each drawn from the model's next-character distribution.

    ``prime`` is fed first (its characters must be in the vocabulary); without
    it, the first character is drawn uniformly from the vocabulary.
    ``temperature`` divides the log-probabilities; ``argmax`` always picks the likeliest.
    """
    if temperature <= 0 and not argmax:
        raise RnnlensError(f"temperature {temperature} must be positive", advice="or always take the likeliest",
                           option="argmax")
    if length < 0:
        raise RnnlensError(f"length {length} must be zero or more")
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
                choice = int(torch.multinomial(torch.softmax(last / temperature, dim=-1), 1, generator=generator))
            yield vocab.chars[choice]
            log_dist = stepper.send(choice)
