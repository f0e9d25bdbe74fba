"""Predictions as a value: what model M gave each next character of text T, computed once and cached.

A ``Predictions`` holds who predicted (``model``: kind, run directory,
weights and their sha256), on what (``text``: source, sha256 of the ids,
length), ``log_probs`` ``(N-1,)`` float64 nats of each actual next character,
and optionally ``distributions`` ``(N-1, V)`` float32 probabilities of every
character. ``predictions_for`` keeps them in the model's run directory under
``predictions/WEIGHTS-TEXTSHA/`` (``predictions.json``, ``log_probs.npy``,
``distributions.npy``) and reuses them while the weights are the same, so
every analysis of a run asks for them and they are computed at most once.
A trace's ``prob`` is ``exp(log_probs)`` in float32 (the same forward pass).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError
from rnnlens.models import registry
from rnnlens.models.interventions import described_digest
from rnnlens.models.predictor import Predictor
from rnnlens.store import atomic
from rnnlens.store.outputs import replace_directory

CACHE = "predictions"
INFO = "predictions.json"


@dataclass
class Predictions:
    """One model's predictions over one text (see the module docstring)."""

    model: dict
    text: dict
    log_probs: np.ndarray
    distributions: np.ndarray | None = None

    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write the arrays (``.npy``, no pickle) and ``predictions.json`` into ``out_dir``, whole."""
        with replace_directory(out_dir, "predictions") as tmp:
            np.save(tmp / "log_probs.npy", np.asarray(self.log_probs, np.float64))
            if self.distributions is not None:
                np.save(tmp / "distributions.npy", np.asarray(self.distributions, np.float32))
            atomic.write_json(tmp / INFO, {"model": self.model, "text": self.text,
                                           "distributions": self.distributions is not None})
        return Path(out_dir)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "Predictions":
        """Read what ``save`` wrote; the distributions are memory-mapped."""
        directory = Path(directory)
        info = atomic.read_json(directory / INFO, RnnlensError, "remove the directory to compute it again")
        try:
            log_probs = np.load(directory / "log_probs.npy", allow_pickle=False)
            distributions = (np.load(directory / "distributions.npy", mmap_mode="r", allow_pickle=False)
                             if info["distributions"] else None)
        except (OSError, ValueError) as err:
            raise RnnlensError(f"{directory}: damaged predictions ({err}); remove the directory") from None
        if len(log_probs) != max(info["text"]["chars"] - 1, 0):
            raise RnnlensError(f"{directory}: {len(log_probs)} predictions for a text of {info['text']['chars']} "
                               "characters; remove the directory")
        return cls(info["model"], info["text"], log_probs, distributions)


def predict(predictor: Predictor, text: Text, distributions: bool = False) -> Predictions:
    """Compute ``predictor``'s predictions over ``text`` (no cache)."""
    log_probs = predictor.predict_log_probs(text.ids)
    dist = np.exp(predictor.predict_log_distributions(text.ids)) if distributions else None
    return Predictions(predictor.identity, text.identity(), log_probs, dist)


def cache_directory(predictor: Predictor, text: Text) -> Path | None:
    """Where ``predictions_for`` keeps ``predictor``'s predictions of ``text`` (None without a run directory)."""
    run_dir = predictor.identity.get("run_dir")
    if not run_dir:
        return None
    name = f"{predictor.identity['weights']}-{text.sha256[:16]}"
    if predictor.identity.get("interventions"):  # an intervened model's predictions never mix with the clean ones
        name += f"-intervened-{described_digest(predictor.identity['interventions'])}"
    return Path(run_dir) / CACHE / name


def predictions_for(predictor: Predictor, text: Text, distributions: bool = False, keep: bool = True) -> Predictions:
    """``predictor``'s predictions over ``text``: from its run directory's cache, else computed and, with
    ``keep``, cached (without it, for predictions read once: a training snapshot's distributions over a
    text take ``4 x characters x vocabulary`` bytes, 33 MB for 100K characters of War and Peace, each).

    A cached entry counts only if it is of the same weights (sha256) and
    text (sha256 of the ids) and holds the distributions when asked for.
    """
    where = cache_directory(predictor, text)
    if where is not None and (where / INFO).is_file():
        try:
            cached = Predictions.load(where)
        except RnnlensError:
            cached = None
        if cached is not None and cached.model == predictor.identity and cached.text == text.identity() \
                and (cached.distributions is not None or not distributions):
            return cached
    fresh = predict(predictor, text, distributions)
    if where is not None and keep:
        try:
            fresh.save(where)
        except OSError:
            pass  # a read-only run directory: the predictions are still right, only not kept
    return fresh


def snapshot_predictions(run_dir: str | os.PathLike, kept: list[dict], text: Text, device: str = "cpu",
                         log: Callable[[str], None] = lambda _: None) -> Iterator[tuple[dict, Predictions]]:
    """Each snapshot of ``kept`` (``registry.snapshots(run_dir)``) with its predictions of ``text``, loaded
    one at a time and not cached (each is read once); a ``log`` line per snapshot."""
    for i, snapshot in enumerate(kept, 1):
        predictor = registry.load_predictor(run_dir, weights=snapshot["weights"], device=device)
        yield snapshot, predictions_for(predictor, text, distributions=True, keep=False)  # each is read once
        log(f"snapshot {i}/{len(kept)}: batch {snapshot['batch']}, epoch {snapshot['epoch']:.2f}")
