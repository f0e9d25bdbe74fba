"""The registry of model kinds: the one place that knows which kinds exist.

A kind is a module with the same verbs:

- ``KIND`` (the name ``config.json`` records) and ``LABEL`` (how tables name it);
- ``fit(spec, corpus, out_dir, log, show_progress) -> Predictor``: fit a
  model from a spec (a dict of the kind's options) on a corpus into a run
  directory, continuing a resumable run that ``out_dir`` already holds, and
  return it (so that a kind whose loading is costly, the n-gram, is not
  loaded again);
- ``load(run_dir, weights, device) -> Predictor``;
- for kinds with internals, ``trace_keys(predictor, full_distribution)``,
  ``trace_gates(predictor)`` and ``compute_trace(predictor, ids, allocate,
  keys, progress)`` (see ``rnnlens.store.traces``).

Adding a kind means writing such a module and adding it to ``KINDS``
(or calling ``register_kind`` from a plug-in).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Callable

from rnnlens.data.corpus import Corpus
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import Predictor, model_identity
from rnnlens.store.runs import read_config

KINDS: dict[str, str | ModuleType] = {
    "rnn": "rnnlens.models.rnn.kind",
    "ngram": "rnnlens.models.ngram.kind",
    "nnn": "rnnlens.models.nnn",
}
WEIGHTS = ("best", "last")


def register_kind(name: str, module: str | ModuleType) -> None:
    """Add a kind (a module, or its import path) under ``name``."""
    KINDS[name] = module


def kind(name: str) -> ModuleType:
    """The module of a registered kind."""
    if name not in KINDS:
        raise RnnlensError(f"unknown model kind {name!r}; this rnnlens knows {', '.join(KINDS)}")
    module = KINDS[name]
    return importlib.import_module(module) if isinstance(module, str) else module


def fit(kind_name: str, spec: dict, corpus: Corpus, out_dir: str | os.PathLike,
        log: Callable[[str], None] = print, show_progress: bool = False) -> Predictor:
    """Fit a model of ``kind_name`` into ``out_dir`` (continuing a run it holds); return it as a predictor."""
    predictor = kind(kind_name).fit(spec, corpus, out_dir, log=log, show_progress=show_progress)
    predictor.identity = model_identity(out_dir, kind_name, "best")
    return predictor


def load_predictor(run_dir: str | os.PathLike, weights: str = "best", device: str = "cpu") -> Predictor:
    """Load whatever predictor a run directory holds, with its identity (kind, directory, weights digest)."""
    if weights not in WEIGHTS:
        raise RnnlensError(f"unknown weights {weights!r}; choose one of {', '.join(WEIGHTS)}")
    name = read_config(run_dir).get("kind")
    predictor = kind(name).load(run_dir, weights=weights, device=device)
    predictor.identity = model_identity(run_dir, name, weights)
    return predictor


def can_trace(predictor: Predictor) -> bool:
    """Whether the predictor's kind has internals to trace."""
    return hasattr(kind(predictor.kind), "compute_trace")
