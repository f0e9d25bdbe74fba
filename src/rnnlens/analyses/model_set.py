"""Several models' predictions over one text, by name: the input of every analysis that compares models, checked
to line up, and their probabilities of the true characters."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import Predictor
from rnnlens.store.predictions import Predictions


def common_text(predictions: Mapping[str, Predictions], at_least: int = 1) -> dict:
    """The text identity all ``predictions`` share (source, sha256 of the ids, length), checked.

    Raises ``RnnlensError`` when fewer than ``at_least`` models are given or
    when two were scored on different texts (the positions would not line up).
    """
    if len(predictions) < at_least:
        raise RnnlensError(f"{len(predictions)} model{'' if len(predictions) == 1 else 's'} given, this analysis "
                           f"needs at least {at_least}")
    (first_name, first), *rest = predictions.items()
    for name, other in rest:
        if other.text["ids_sha256"] != first.text["ids_sha256"]:
            raise RnnlensError(f"{name} was scored on {other.text['source']} and {first_name} on "
                               f"{first.text['source']}: give predictions of one text")
    return first.text


def true_probabilities(predictions: Mapping[str, Predictions], at_least: int = 1) -> tuple[dict, np.ndarray]:
    """The text all ``predictions`` share (checked) and ``(M, N-1)`` float64 probabilities of each true next char.

    Row ``i`` is the ``i``-th model of ``predictions`` (in its order).
    """
    text = common_text(predictions, at_least)
    return text, np.exp(np.stack([np.asarray(p.log_probs, np.float64) for p in predictions.values()]))


def check_same_corpus(predictors: dict[str, Predictor]) -> None:
    """Refuse models of different corpora or vocabularies: their predictions of one text would not compare."""
    (first_name, first), *rest = predictors.items()
    for name, other in rest:
        if other.vocab.chars != first.vocab.chars:
            raise RnnlensError(f"{name} knows {len(other.vocab)} characters and {first_name} {len(first.vocab)}: "
                               "compare models trained on one corpus (the same vocabulary)")
        if other.corpus_spec.get("sha256") != first.corpus_spec.get("sha256") \
                or other.corpus_spec.get("fractions") != first.corpus_spec.get("fractions"):
            raise RnnlensError(f"{name} was trained on {other.corpus_spec.get('name')} and {first_name} on "
                               f"{first.corpus_spec.get('name')} (another text or split): compare models of one "
                               "corpus and split")
