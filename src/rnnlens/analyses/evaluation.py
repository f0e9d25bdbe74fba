"""Mean cross-entropy of any predictor on a text, with a bootstrap standard deviation."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from rnnlens.models.predictor import Predictor
from rnnlens.analyses.bootstrap import bootstrap_std


@dataclass(frozen=True)
class Evaluation:
    """Loss of a predictor on a text: mean and bootstrap std in nats/char, and bits/char."""

    nats: float
    std: float
    chars: int

    @property
    def bits(self) -> float:
        return self.nats / math.log(2)

    @property
    def bits_std(self) -> float:
        return self.std / math.log(2)

    @classmethod
    def from_log_probs(cls, log_probs: np.ndarray) -> "Evaluation":
        losses = -np.asarray(log_probs, dtype=np.float64)
        return cls(nats=float(losses.mean()), std=bootstrap_std(losses), chars=len(losses))

    def to_dict(self) -> dict:
        return {**asdict(self), "bits": self.bits, "bits_std": self.bits_std}

    def line(self) -> str:
        return (f"{self.nats:.4f} ± {self.std:.4f} nats/char ({self.bits:.4f} ± {self.bits_std:.4f} bits/char) "
                f"over {self.chars:,} characters")


def evaluate(predictor: Predictor, ids: np.ndarray) -> Evaluation:
    """Score every next character of ``ids`` (``N`` ids give ``N-1`` predictions)."""
    return Evaluation.from_log_probs(predictor.predict_log_probs(ids))
