"""The registry of model kinds: the one place that knows which kinds exist.

A kind is a module with the same verbs:

- ``KIND`` (the name ``config.json`` records) and ``LABEL`` (how tables name it);
- ``fit(spec, corpus, out_dir, log, show_progress) -> Predictor``: fit a
  model from a spec (a dict of the kind's options) on a corpus into a run
  directory, continuing a resumable run that ``out_dir`` already holds, and
  return it (so that a kind whose loading is costly, the n-gram, is not
  loaded again);
- ``load(run_dir, weights, device) -> Predictor`` (``weights``: ``best``, ``last``, or a snapshot a
  trained run kept, ``snapshot-000500``: see ``snapshots``);
- for kinds with internals, ``trace_keys(predictor, full_distribution)``,
  ``trace_gates(predictor)`` and ``compute_trace(predictor, ids, allocate,
  keys, progress)`` (see ``rnnlens.store.traces``), and optionally ``trace_axes(predictor) -> {key:
  axis names}`` for keys whose axes are not ``models.trace.default_axes``'s;
- for kinds that ``rnnlens train --kind NAME`` trains: ``TRAIN_OPTIONS`` (a tuple of
  ``models.kind_options.KindOption``: the model's options, one flag each), ``LOOP_OPTIONS`` (its
  ``LoopOptions`` dataclass), ``TRAIN_HELP`` (a sentence for the help), ``new_trainer(spec, options,
  corpus, out_dir)`` and ``resumed_trainer(out_dir, epochs, corpus, data_dir)`` (each a
  ``training.loop.Trainer``, refusing what cannot train), ``describe_model(trainer)`` and
  ``validation_words(trainer)`` (how training reads the validation split);
- optionally, for a kind whose model is all in ``config.json``, ``fixed_by(config) -> dict``: the part of
  the config that fixes the model, which its identity's digest covers (see ``identity``).

Adding a kind means writing such a module and adding it to ``KINDS``
(or calling ``register_kind`` from a plug-in).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Callable

from rnnlens.data.corpus import Corpus
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import Predictor, model_identity
from rnnlens.store.runs import SNAPSHOT_NAME, SNAPSHOTS, read_config, read_metadata

KINDS: dict[str, str | ModuleType] = {
    "rnn": "rnnlens.models.rnn.kind",
    "ngram": "rnnlens.models.ngram.kind",
    "nnn": "rnnlens.models.nnn",
}
WEIGHTS = ("best", "last")  # and the snapshots a run kept, snapshot-000500 (see snapshots)


def register_kind(name: str, module: str | ModuleType) -> None:
    """Add a kind (a module, or its import path) under ``name``."""
    KINDS[name] = module


def kind(name: str) -> ModuleType:
    """The module of a registered kind."""
    if name not in KINDS:
        raise RnnlensError(f"unknown model kind {name!r}; this rnnlens knows {', '.join(KINDS)}")
    module = KINDS[name]
    return importlib.import_module(module) if isinstance(module, str) else module


def identity(run_dir: str | os.PathLike, kind_name: str, weights: str) -> dict:
    """The identity of a run's model (``predictor.model_identity``), its digest over what the kind says fixes it."""
    return model_identity(run_dir, kind_name, weights, getattr(kind(kind_name), "fixed_by", None))


def fit(kind_name: str, spec: dict, corpus: Corpus, out_dir: str | os.PathLike,
        log: Callable[[str], None] = print, show_progress: bool = False) -> Predictor:
    """Fit a model of ``kind_name`` into ``out_dir`` (continuing a run it holds); return it as a predictor."""
    predictor = kind(kind_name).fit(spec, corpus, out_dir, log=log, show_progress=show_progress)
    predictor.identity = identity(out_dir, kind_name, "best")
    return predictor


def load_predictor(run_dir: str | os.PathLike, weights: str = "best", device: str = "cpu") -> Predictor:
    """Load whatever predictor a run directory holds, with its identity (kind, directory, weights digest)."""
    if weights not in WEIGHTS and not SNAPSHOT_NAME.fullmatch(weights):
        raise RnnlensError(f"unknown weights {weights!r}; choose one of {', '.join(WEIGHTS)} or a snapshot "
                           "(snapshot-000500: the weights after 500 batches, where the run kept them)")
    name = read_config(run_dir).get("kind")
    predictor = kind(name).load(run_dir, weights=weights, device=device)
    predictor.identity = identity(run_dir, name, weights)
    return predictor


def snapshots(run_dir: str | os.PathLike) -> list[dict]:
    """The snapshots a run kept (``train --snapshot-every``), in training order, ``[]`` if none.

    Each is ``{"weights": "snapshot-000500", "batch": 500, "epoch": 1.92}``: the weights name to give
    ``load_predictor``, the training batches done, and the epochs they make (a fraction).
    """
    read_config(run_dir)  # a model directory, or a clear error
    found = []
    for path in (Path(run_dir) / SNAPSHOTS).glob("snapshot-*.safetensors"):
        if SNAPSHOT_NAME.fullmatch(path.stem):
            meta = read_metadata(path)
            found.append({"weights": path.stem, "batch": meta["batch"], "epoch": meta["epoch"]})
    return sorted(found, key=lambda s: s["batch"])


def trainable_kinds() -> list[str]:
    """The kinds ``rnnlens train --kind`` offers: those that declare ``TRAIN_OPTIONS``, in registry order."""
    return [name for name in KINDS if hasattr(kind(name), "TRAIN_OPTIONS")]


def can_trace(predictor: Predictor) -> bool:
    """Whether the predictor's kind has internals to trace."""
    return hasattr(kind(predictor.kind), "compute_trace")
