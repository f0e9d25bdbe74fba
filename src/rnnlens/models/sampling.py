"""Generate text from a CharRNN, one character at a time, as a stream."""

from __future__ import annotations

from typing import Iterator

import torch

from rnnlens.data.corpus import Vocabulary
from rnnlens.errors import RnnlensError
from rnnlens.models.rnn.network import CharRNN


@torch.no_grad()
def sample(model: CharRNN, vocab: Vocabulary, length: int, temperature: float = 1.0, prime: str = "",
           seed: int | None = None, argmax: bool = False) -> Iterator[str]:
    """Yield ``length`` characters, each drawn from the model's next-character distribution.

    ``prime`` is fed first (its characters must be in the vocabulary); without
    it, the first character is drawn uniformly from the vocabulary.
    ``temperature`` divides the logits; ``argmax`` always picks the likeliest.
    """
    if temperature <= 0 and not argmax:
        raise RnnlensError(f"temperature {temperature} must be positive (or use --argmax)")
    if length < 0:
        raise RnnlensError(f"length {length} must be zero or more")
    device = model.decoder.weight.device
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed if seed is not None else torch.seed())
    model.eval()
    prime_ids = vocab.encode(prime) if prime else torch.randint(len(vocab), (1,), generator=generator).numpy()
    logits, state = model(torch.as_tensor(prime_ids, device=device)[None], None)
    for _ in range(length):
        last = logits[0, -1].float().cpu()
        if argmax:
            choice = int(last.argmax())
        else:
            probs = torch.softmax(last / temperature, dim=-1)
            choice = int(torch.multinomial(probs, 1, generator=generator))
        yield vocab.chars[choice]
        logits, state = model(torch.tensor([[choice]], device=device), state)
