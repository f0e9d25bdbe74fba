"""The ``rnn`` kind (vanilla RNN, LSTM, GRU): fit with the paper's protocol, load, trace.

A spec holds ``model_type``, ``num_layers``, ``hidden_size`` (or
``params``, a parameter budget the hidden size is solved for), ``dropout``
and any option of ``TrainOptions``.
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from typing import Callable

import numpy as np

from rnnlens.data.corpus import Corpus
from rnnlens.models.rnn import trace as rnn_trace
from rnnlens.models.rnn.fit import TrainOptions
from rnnlens.models.rnn.predictor import RNNPredictor, load
from rnnlens.models.rnn.trainable import (LOOP_OPTIONS, TRAIN_HELP, TRAIN_OPTIONS, describe_model, model_config,
                                          new_trainer, resumed_trainer, validation_words)
from rnnlens.training.loop import LAST

KIND = "rnn"
LABEL = "RNN"

__all__ = ["KIND", "LABEL", "fit", "load", "model_config", "trace_keys", "trace_gates", "compute_trace",
           "TRAIN_OPTIONS", "LOOP_OPTIONS", "TRAIN_HELP", "new_trainer", "resumed_trainer", "describe_model",
           "validation_words"]


def training_options(spec: dict) -> TrainOptions:
    names = {f.name for f in fields(TrainOptions)}
    return TrainOptions(**{k: v for k, v in spec.items() if k in names})


def fit(spec: dict, corpus: Corpus, out_dir: str | os.PathLike, log: Callable[[str], None] = print,
        show_progress: bool = False) -> RNNPredictor:
    """Train (or continue training) an RNN into ``out_dir`` until its last epoch or early stopping; return it."""
    if (Path(out_dir) / LAST).exists():
        trainer = resumed_trainer(out_dir, epochs=spec.get("epochs"), corpus=corpus)
    else:
        trainer = new_trainer(spec, training_options(spec), corpus, out_dir)
    trainer.fit(show_progress=show_progress, log=log)
    return load(out_dir, device=trainer.options.device)


def trace_keys(predictor: RNNPredictor, full_distribution: bool = False) -> list[str]:
    config = predictor.model.config
    return rnn_trace.trace_keys(config.model_type, config.num_layers, full_distribution)


def trace_gates(predictor: RNNPredictor) -> list[str]:
    return list(rnn_trace.GATES[predictor.model.config.model_type])


def compute_trace(predictor: RNNPredictor, ids: np.ndarray, **options) -> dict[str, np.ndarray]:
    """The arrays of ``rnn_trace.compute_trace`` (``allocate``, ``keys``, ``progress``, ...), with the
    predictor's interventions if it has any."""
    if predictor.hooks:
        options.update(hooked=predictor.hooked, hooks=predictor.hooks)
    return rnn_trace.compute_trace(predictor.model, ids, **options)
