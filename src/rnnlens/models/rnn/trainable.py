"""What ``rnnlens train --kind rnn`` offers: the network's options, and new or resumed trainers.

The kind's registry module exports these (see ``rnnlens.models.kind_options``);
the command line and the pipeline reach them only through the registry.
"""

from __future__ import annotations

import os
import warnings

from rnnlens.checks import COUNT, DROPOUT, POSITIVE
from rnnlens.data.corpus import Corpus
from rnnlens.errors import RnnlensError, typed
from rnnlens.models.kind_options import KindOption
from rnnlens.models.rnn.fit import TrainOptions, resume_run, start_run
from rnnlens.models.rnn.network import MODEL_TYPES, ModelConfig, count_parameters, solve_hidden_size
from rnnlens.training.loop import Trainer

TRAIN_OPTIONS = (
    KindOption("model_type", "--model", "recurrent cell type", choices=MODEL_TYPES, required=True),
    KindOption("num_layers", "--layers", "number of recurrent layers", COUNT.argparse_type(), required=True),
    KindOption("hidden_size", "--hidden", "hidden units per layer", COUNT.argparse_type(), one_of="size"),
    KindOption("params", "--params", "parameter budget: the hidden size is solved to come closest",
               POSITIVE.argparse_type(), one_of="size", new_runs_only=True),
    KindOption("dropout", "--dropout", "dropout between layers and before the softmax (default: 0)",
               DROPOUT.argparse_type()),
    KindOption("embedding_size", "--embedding-size", "learn an input embedding of this width instead of "
               "the paper's one-hot input (default: none, one-hot)", COUNT.argparse_type(), new_runs_only=True),
)
LOOP_OPTIONS = TrainOptions

FEW_UPDATES = 500  # updates an epoch below which a new run is warned that it will learn little per epoch
QUICK_BATCH = (16, 50)  # the quick preset's streams x steps, suggested for small corpora
TRAIN_HELP = (f"Batches are the paper's 100 streams x 100 steps by default (--batch-size, --seq-length); "
              f"reproduce's quick preset trains with {QUICK_BATCH[0]} x {QUICK_BATCH[1]}. An epoch has one update "
              f"per batch: 1.3 MB of text (80% for training) gives 104 updates an epoch with the defaults and 1,300 "
              f"with {QUICK_BATCH[0]} x {QUICK_BATCH[1]}; a new run with fewer than {FEW_UPDATES} an epoch is "
              "warned.")


def model_config(spec: dict, vocab_size: int) -> ModelConfig:
    """The network a spec asks for; ``params`` solves for the hidden size closest to the budget."""
    budget = None if spec.get("hidden_size") else int(spec["params"])
    embedding = spec.get("embedding_size")
    hidden = spec.get("hidden_size") or solve_hidden_size(spec["model_type"], spec["num_layers"], vocab_size, budget,
                                                          embedding)
    return ModelConfig(spec["model_type"], vocab_size, hidden, spec["num_layers"], spec.get("dropout") or 0.0, budget,
                       embedding)


def check_corpus_fits(spec: dict, options: TrainOptions, corpus: Corpus) -> None:
    """Refuse, before training, a validation split too short to validate and a budget below hidden size 1."""
    val = len(corpus.split_ids("val"))
    fits = len(corpus.split_ids("train")) > options.batch_size * options.seq_length  # else the split's own message
    if fits and val < options.seq_length + 1:
        raise RnnlensError(f"with --split-fractions {typed(corpus.fractions)} the validation split has {val} "
                           f"characters, too few for one sequence of --seq-length {options.seq_length} (+1); "
                           "training validates after every epoch, so give the validation split a larger share")
    if spec.get("params") is not None and not spec.get("hidden_size"):
        smallest = count_parameters(spec["model_type"], spec["num_layers"], len(corpus.vocab), 1,
                                    spec.get("embedding_size"))
        if spec["params"] < smallest:
            raise RnnlensError(f"--params {typed(spec['params'])} is too small: a {spec['num_layers']}-layer "
                               f"{spec['model_type'].upper()} on this corpus's {len(corpus.vocab)} characters "
                               f"needs at least {smallest} parameters (hidden size 1)")


def new_trainer(spec: dict, options: TrainOptions, corpus: Corpus, out_dir: str | os.PathLike) -> Trainer:
    """A trainer for a new run of the network ``spec`` asks for (keys of ``TRAIN_OPTIONS``) in ``out_dir``."""
    check_corpus_fits(spec, options, corpus)
    trainer = start_run(corpus, model_config(spec, len(corpus.vocab)), options, out_dir)
    warn_few_updates(trainer.task.num_batches(), len(corpus.split_ids("train")), options)
    return trainer


def resumed_trainer(out_dir: str | os.PathLike, epochs: int | None = None, corpus: Corpus | None = None,
                    data_dir: str | os.PathLike | None = None) -> Trainer:
    """The run in ``out_dir`` restored exactly where it stopped (``fit.resume_run``)."""
    return resume_run(out_dir, epochs=epochs, corpus=corpus, data_dir=data_dir)


def describe_model(trainer: Trainer) -> str:
    """``2-layer LSTM, hidden 128, 208,386 parameters``."""
    c = trainer.model.config
    return f"{c.num_layers}-layer {c.model_type.upper()}, hidden {c.hidden_size}, {c.parameter_count:,} parameters"


def validation_words(trainer: Trainer) -> str:
    """How training reads the validation split, beside its best loss."""
    return (f"the mean over the validation split read as {trainer.task.val_batches.inputs.shape[0]} parallel "
            "streams, as training reads it; rnnlens evaluate --split val reads it as one stream from the start and "
            "gives a slightly different number")


def warn_few_updates(updates: int, train_chars: int, options: TrainOptions) -> None:
    """One warning line when an epoch has fewer than ``FEW_UPDATES`` updates, with what the quick preset's
    batches would give (the same count as the training's: (characters - 1) // (streams x steps))."""
    if updates >= FEW_UPDATES:
        return
    streams, steps = QUICK_BATCH
    quick = (train_chars - 1) // (streams * steps)
    also = (f"; --batch-size {streams} --seq-length {steps} (the quick preset's) give {quick:,}"
            if quick > updates else "")
    warnings.warn(f"an epoch has only {updates:,} updates ({train_chars:,} training characters in batches of "
                  f"{options.batch_size} streams x {options.seq_length} steps), fewer than about {FEW_UPDATES}: "
                  f"the model learns little per epoch{also}", stacklevel=2)


__all__ = ["TRAIN_OPTIONS", "LOOP_OPTIONS", "TRAIN_HELP", "new_trainer", "resumed_trainer", "describe_model",
           "validation_words", "model_config"]
