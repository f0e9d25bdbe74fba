"""Dynamic evaluation (Krause et al. 2018): an RNN that keeps learning from the text it is scored on.

The text is read in segments of ``SEGMENT`` characters, the state carried
across them as in ``evaluate``. Each segment is scored first, with the
weights as they are, and only then does the model take one gradient step on
that segment's mean loss, so every character's prediction comes from
weights that have seen only the characters before its segment and the loss
stays an honest test loss. The step is plain SGD pulled back towards the
trained weights ``w0`` (Krause et al.'s decay, which keeps the adapted model
near what it learnt on the training set)::

    w <- w - lr * grad + decay * (w0 - w)

Each pass over a text starts again from the trained weights, on a copy:
the loaded model, and the run's files, never change.
"""

from __future__ import annotations

import copy
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from rnnlens.checks import COUNT, POSITIVE, Range
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import NeuralPredictor, Predictor
from rnnlens.models.rnn.network import CharRNN, detach_state

SEGMENT = 50  # characters per gradient step (Krause et al. used 20 to 50 at the character level)
LR = 0.1  # chosen on 50,000 validation characters of each corpus: see benchmarks/RESULTS.md, "Dynamic evaluation"
DECAY = 0.001  # likewise
DECAY_RANGE = Range(0, 1)  # the fraction of the way back to the trained weights at each step


class DynamicEvaluation(NeuralPredictor):
    """An RNN predictor's predictions with its weights adapted to the text as it is read (see the module).

    ``identity`` is the RNN's plus ``{"dynamic": {"lr", "decay"}}``, so that adapted predictions are never
    taken for the run's own. Its ``kind`` is no registered kind: an adapting model has no trace to offer.
    """

    kind = "dynamic"

    def __init__(self, predictor: Predictor, lr: float = LR, decay: float = DECAY, segment: int = SEGMENT) -> None:
        model = getattr(predictor, "model", None)
        if not isinstance(model, CharRNN):
            raise RnnlensError(f"dynamic evaluation adapts a recurrent network's weights, and a {predictor.kind} "
                               "model has none: give an RNN's run directory")
        POSITIVE.check("lr", lr)
        DECAY_RANGE.check("decay", decay)
        COUNT.check("segment", segment)
        super().__init__(model, predictor.vocab, predictor.corpus_spec)
        self.threads = predictor.threads
        self.description = f"{predictor.description}, dynamic evaluation (lr {lr:g}, decay {decay:g})"
        self.facts = getattr(predictor, "facts", None)
        self.lr, self.decay, self.segment = lr, decay, segment
        self.identity = {**predictor.identity, "dynamic": {"lr": lr, "decay": decay}}

    def log_softmax_chunks(self, ids: np.ndarray) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(log_probs (n, V), targets (n,))`` segment by segment, each scored before the step it makes."""
        model = copy.deepcopy(self.model)
        trained = [p.detach().clone() for p in model.parameters()]
        tokens = torch.as_tensor(np.asarray(ids, dtype=np.int64), device=trained[0].device)
        state = None
        # cuDNN's RNN backward wants training mode, which would switch dropout on: off for the adapting pass
        with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
            for start in range(0, len(tokens) - 1, self.segment):
                window = tokens[start:start + self.segment + 1]
                logits, state = model(window[None, :-1], state)
                log_probs = torch.log_softmax(logits[0].float(), dim=-1)
                model.zero_grad(set_to_none=True)
                F.nll_loss(log_probs, window[1:]).backward()
                self._step(model, trained)
                state = detach_state(state)
                yield log_probs.detach(), window[1:]

    @torch.no_grad()
    def _step(self, model: CharRNN, trained: list[torch.Tensor]) -> None:
        for weight, start in zip(model.parameters(), trained):
            if self.decay:
                weight.add_(start - weight, alpha=self.decay)  # from the weights before this step's gradient
            weight.add_(weight.grad, alpha=-self.lr)
