"""Mean cross-entropy of any predictor on a text, with a bootstrap standard deviation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rnnlens.analyses.bootstrap import bootstrap_std
from rnnlens.analyses.result import Result
from rnnlens.models.predictor import Predictor


@dataclass(frozen=True)
class Evaluation(Result):
    """Loss of a predictor on a text: mean and bootstrap std in nats/char, and bits/char.

    ``model`` and ``text`` say who was scored on what (identities, as ``Predictions`` hold them).
    """

    nats: float
    std: float
    chars: int
    model: dict = field(default_factory=dict)
    text: dict = field(default_factory=dict)

    name = "evaluation"

    @property
    def bits(self) -> float:
        return self.nats / math.log(2)

    @property
    def bits_std(self) -> float:
        return self.std / math.log(2)

    @classmethod
    def from_log_probs(cls, log_probs: np.ndarray, model: dict | None = None, text: dict | None = None) -> "Evaluation":
        losses = -np.asarray(log_probs, dtype=np.float64)
        return cls(nats=float(losses.mean()), std=bootstrap_std(losses), chars=len(losses), model=model or {},
                   text=text or {})

    def to_dict(self) -> dict:
        return {"nats": self.nats, "std": self.std, "bits": self.bits, "bits_std": self.bits_std,
                "chars": self.chars, "model": self.model, "text": self.text}

    def summary(self) -> str:
        return (f"{self.nats:.4f} ± {self.std:.4f} nats/char ({self.bits:.4f} ± {self.bits_std:.4f} bits/char) "
                f"over {self.chars:,} characters")


def evaluate(predictor: Predictor, ids: np.ndarray) -> Evaluation:
    """Score every next character of ``ids`` (``N`` ids give ``N-1`` predictions)."""
    return Evaluation.from_log_probs(predictor.predict_log_probs(ids))
