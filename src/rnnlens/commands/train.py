"""``rnnlens train``: train an RNN, LSTM or GRU with the paper's protocol."""

from __future__ import annotations

import argparse
import json
import warnings
from dataclasses import asdict, fields
from pathlib import Path

from rnnlens.checks import COUNT, DROPOUT, POSITIVE
from rnnlens.commands.common import (Stopwatch, add_corpus_options, add_observation_option, add_reporting,
                                     corpus_from_args, log, show_progress)
from rnnlens.commands.training_options import add_option_flags
from rnnlens.errors import RnnlensError, typed
from rnnlens.models.registry import snapshots
from rnnlens.models.rnn.fit import TrainOptions, recorded_options, resume_run, start_run
from rnnlens.models.rnn.kind import model_config
from rnnlens.models.rnn.network import MODEL_TYPES, count_parameters
from rnnlens.store.outputs import check_model_dir
from rnnlens.training.loop import LAST, Interrupted, option_agrees
from rnnlens.training.tensorboard import INSTALL, TensorBoardObserver, summary_writer_class

MODEL_FLAGS = {"model": "model_type", "layers": "num_layers", "hidden": "hidden_size", "dropout": "dropout"}


FEW_UPDATES = 500  # updates an epoch below which a new run is warned that it will learn little per epoch
QUICK_BATCH = (16, 50)  # the quick preset's streams x steps, suggested for small corpora
EPILOG = (f"Batches are the paper's 100 streams x 100 steps by default (--batch-size, --seq-length); "
          f"reproduce's quick preset trains with {QUICK_BATCH[0]} x {QUICK_BATCH[1]}. An epoch has one update per "
          f"batch: 1.3 MB of text (80% for training) gives 104 updates an epoch with the defaults and 1,300 with "
          f"{QUICK_BATCH[0]} x {QUICK_BATCH[1]}; a new run with fewer than {FEW_UPDATES} an epoch is warned.")


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a character-level RNN/LSTM/GRU", description=__doc__,
                                   epilog=EPILOG)
    add_corpus_options(parser, required=False)
    parser.add_argument("--model", choices=MODEL_TYPES, help="recurrent cell type")
    parser.add_argument("--layers", type=COUNT.argparse_type(), help="number of recurrent layers")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--hidden", type=COUNT.argparse_type(), help="hidden units per layer")
    size.add_argument("--params", type=POSITIVE.argparse_type(),
                      help="parameter budget: the hidden size is solved to come closest")
    parser.add_argument("--dropout", type=DROPOUT.argparse_type(), default=None,
                        help="dropout between layers and before the softmax (default: 0)")
    add_option_flags(parser, TrainOptions, TrainOptions(device="auto"))
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out exactly where it stopped (its recorded corpus and options "
                             "hold; only --epochs may change)")
    parser.add_argument("--out", required=True, help="run directory for checkpoints and metrics")
    add_observation_option(parser, "--tensorboard", metavar="DIR",
                           help="also write TensorBoard event files into DIR as training goes (loss, validation loss, "
                                f"learning rate, throughput, gradient norm; needs {INSTALL})")
    add_reporting(parser, "print a JSON summary of the run on stdout at the end")
    parser.set_defaults(run=run)


def given_options(args: argparse.Namespace) -> dict:
    return {f.name: getattr(args, f.name) for f in fields(TrainOptions) if getattr(args, f.name) is not None}


def check_resume_agrees(args: argparse.Namespace) -> dict:
    """An option given on --resume that contradicts the run's record is an error naming both values;
    returns the run's config."""
    if not (Path(args.out) / LAST).exists():
        raise RnnlensError(f"{args.out}: nothing to resume (no {LAST}); start the run without --resume")
    config, options = recorded_options(args.out)
    recorded = {**asdict(options), **config["model"]}
    given = {**given_options(args), **{MODEL_FLAGS[k]: getattr(args, k) for k in MODEL_FLAGS
                                       if getattr(args, k) is not None}}
    for name, value in given.items():
        if name != "epochs" and not option_agrees(name, value, recorded.get(name)):
            flag = "--" + next((k for k, v in MODEL_FLAGS.items() if v == name), name).replace("_", "-")
            raise RnnlensError(f"{flag} {typed(value)} contradicts the run's recorded {typed(recorded.get(name))}; "
                               "a resumed run keeps everything it recorded (only --epochs may change)")
    if args.params is not None:
        raise RnnlensError("--params applies to a new run; a resumed run keeps its recorded hidden size")
    fractions = config["corpus"]["fractions"]
    if args.fractions is not None and list(args.fractions) != list(fractions):
        raise RnnlensError(f"--split-fractions {typed(args.fractions)} contradicts the run's recorded "
                           f"{typed(fractions)}; a resumed run keeps its corpus and split")
    return config


def check_new_run(args: argparse.Namespace) -> None:
    """Before any corpus is read: a new run needs a corpus, a network and a new or empty --out."""
    if (Path(args.out) / LAST).exists():
        raise RnnlensError(f"{args.out} already holds a training run; pass --resume to continue it "
                           "or choose another --out")
    check_model_dir(args.out, "rnn", reuse=False)
    if args.dataset is None and args.text is None:
        raise RnnlensError("a new run needs a corpus: --dataset NAME or --text FILE")
    if args.model is None or args.layers is None or (args.hidden is None and args.params is None):
        raise RnnlensError("a new run needs --model, --layers and --hidden or --params")


def check_corpus_fits(args: argparse.Namespace, corpus) -> None:
    """Refuse, before training, a validation split too short to validate and a budget below hidden size 1."""
    seq_length = args.seq_length or TrainOptions.seq_length
    batch_size = args.batch_size or TrainOptions.batch_size
    val = len(corpus.split_ids("val"))
    fits = len(corpus.split_ids("train")) > batch_size * seq_length  # else the training split's own message
    if fits and val < seq_length + 1:
        given = "--split-fractions" if args.fractions else "the split fractions"
        raise RnnlensError(f"with {given} {typed(corpus.fractions)} the validation split has {val} characters, "
                           f"too few for one sequence of --seq-length {seq_length} (+1); training validates after "
                           "every epoch, so give the validation split a larger share")
    if args.params is not None:
        smallest = count_parameters(args.model, args.layers, len(corpus.vocab), 1)
        if args.params < smallest:
            raise RnnlensError(f"--params {typed(args.params)} is too small: a {args.layers}-layer "
                               f"{args.model.upper()} on this corpus's {len(corpus.vocab)} characters needs at "
                               f"least {smallest} parameters (hidden size 1)")


def new_trainer(args: argparse.Namespace):
    check_new_run(args)
    corpus = corpus_from_args(args)
    check_corpus_fits(args, corpus)
    spec = {"model_type": args.model, "num_layers": args.layers, "hidden_size": args.hidden, "params": args.params,
            "dropout": args.dropout or 0.0}
    options = TrainOptions(**{"device": "auto", **given_options(args)})
    trainer = start_run(corpus, model_config(spec, len(corpus.vocab)), options, args.out)
    log(f"read {corpus.name}: {len(corpus):,} characters, vocabulary {len(corpus.vocab)}, "
        f"train/val/test {[len(corpus.split_ids(s)) for s in ('train', 'val', 'test')]}")
    warn_few_updates(trainer.task.num_batches(), len(corpus.split_ids("train")), options)
    return trainer


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


def describe_model(trainer) -> str:
    c = trainer.model.config
    return f"{c.num_layers}-layer {c.model_type.upper()}, hidden {c.hidden_size}, {c.parameter_count:,} parameters"


def resumed_trainer(args: argparse.Namespace):
    """The run in --out, restored; None (after saying so) when it is already finished."""
    config = check_resume_agrees(args)
    if args.dataset or args.text:
        args.fractions = args.fractions or config["corpus"]["fractions"]  # the recorded split, unless given
        corpus = corpus_from_args(args)
        recorded = config["corpus"]
        if corpus.sha256 != recorded["sha256"]:
            given = f"--dataset {args.dataset}" if args.dataset else f"--text {args.text}"
            trained = f"--dataset {recorded['dataset']}" if "dataset" in recorded else f"--text {recorded.get('path')}"
            raise RnnlensError(f"{given} is not the text {args.out} was trained on ({trained}, sha256 "
                               f"{recorded['sha256'][:12]}...); a resumed run keeps its corpus: resume without "
                               "--text, or give that text")
    else:
        corpus = None
    trainer = resume_run(args.out, epochs=args.epochs, corpus=corpus, data_dir=args.data_dir)
    p = trainer.progress
    if trainer.finished():
        if p.stopped_early:
            how = (f"it stopped early after epoch {p.epoch}: {p.bad_epochs} epochs without a better validation "
                   f"loss (--patience {trainer.options.patience}), so more epochs would not be trained")
        else:
            how = (f"it has trained {p.epoch} epoch{'' if p.epoch == 1 else 's'} (--epochs {trainer.options.epochs}); "
                   f"give --epochs N above {p.epoch} to train on")
        best = min(p.history, key=lambda r: r["val_loss"]) if p.history else None
        holds = f"best validation loss {best['val_loss']:.4f} nats/char at epoch {best['epoch']}; " if best else ""
        log(f"{args.out} is finished: {how}. It holds a {describe_model(trainer)} ({holds}"
            f"{RUN_FILES}); nothing was changed")
        return None
    log(f"resuming {args.out} after epoch {p.epoch}, batch {p.batch}")
    return trainer


RUN_FILES = "best.safetensors, last.safetensors, config.json, metrics.jsonl"


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    if args.tensorboard:
        summary_writer_class()  # a missing TensorBoard is refused before anything is read or written
    trainer = resumed_trainer(args) if args.resume else new_trainer(args)
    if trainer is None:
        return 0
    log(f"model: {describe_model(trainer)}, on {trainer.device} in {trainer.options.precision}; "
        f"{trainer.task.num_batches()} batches per epoch; seed {trainer.options.seed}")
    observers = [TensorBoardObserver(args.tensorboard, steps_done=trainer.batches_done())] if args.tensorboard else []
    if observers:
        log(f"TensorBoard event files go to {args.tensorboard}: tensorboard --logdir {args.tensorboard}")
    try:
        progress = trainer.fit(show_progress=show_progress(args), log=log, observers=observers)
    except Interrupted as err:
        raise Interrupted(f"{err}; continue with: rnnlens train --resume --out {args.out}", err.signum) from None
    finally:
        for observer in observers:
            observer.close()
    log(f"best validation loss {progress.best_val_loss:.4f} nats/char (the mean over the validation split read as "
        f"{trainer.task.val_batches.inputs.shape[0]} parallel streams, as training reads it; rnnlens evaluate "
        "--split val reads it as one stream from the start and gives a slightly different number)")
    kept = snapshots(args.out)
    also = f" and {len(kept)} snapshots in {args.out}/snapshots/" if kept else ""
    log(f"wrote {args.out}/{RUN_FILES}{also}; took {clock}")
    if args.json:
        print(json.dumps({"run": args.out, "epochs": progress.epoch, "best_val_loss": progress.best_val_loss,
                          "stopped_early": progress.stopped_early, "history": progress.history}))
    return 0
