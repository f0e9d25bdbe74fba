"""``rnnlens train``: train an RNN, LSTM or GRU with the paper's protocol."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, fields
from pathlib import Path

from rnnlens.checks import COUNT, DROPOUT, POSITIVE
from rnnlens.commands.common import Stopwatch, add_corpus_options, add_reporting, corpus_from_args, log, show_progress
from rnnlens.errors import RnnlensError
from rnnlens.models.rnn.fit import TrainOptions, recorded_options, resume_run, start_run
from rnnlens.models.rnn.kind import model_config
from rnnlens.models.rnn.network import MODEL_TYPES
from rnnlens.training.loop import LAST, RANGES

HELP = {
    "epochs": "passes over the training split", "batch_size": "parallel streams per batch",
    "seq_length": "steps unrolled per batch", "learning_rate": "RMSProp base learning rate",
    "rmsprop_decay": "RMSProp moving-average decay", "lr_decay": "learning-rate factor per epoch after --lr-decay-after",
    "lr_decay_after": "epochs at the base learning rate", "grad_clip": "element-wise gradient clip (0: none)",
    "init_range": "weights start uniform in [-x, x]",
    "forget_bias": "added to the LSTM forget-gate biases at the start (1 helps long-range memory)",
    "patience": "epochs without a better validation loss before stopping (0: never)",
    "seed": "random seed (init, dropout, order)", "save_every": "batches between resumable checkpoints (0: by time only)",
    "save_every_s": "seconds between resumable checkpoints", "device": "cpu, cuda or auto: a GPU where there is one",
    "batch": "positions per update",
}
MODEL_FLAGS = {"model": "model_type", "layers": "num_layers", "hidden": "hidden_size", "dropout": "dropout"}


def add_option_flags(parser: argparse.ArgumentParser, options: type, defaults) -> None:
    """One flag per field of ``options`` (a ``LoopOptions`` dataclass), range-checked; defaults stay None
    so that only options given explicitly count (on resume they must agree with the record)."""
    for f in fields(options):
        default = getattr(defaults, f.name)
        kind = RANGES[f.name].argparse_type() if f.name in RANGES else type(default)
        parser.add_argument("--" + f.name.replace("_", "-"), type=kind, default=None,
                            help=f"{HELP[f.name]} (default: {default})")


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a character-level RNN/LSTM/GRU", description=__doc__)
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
    add_reporting(parser, "print a JSON summary of the run on stdout at the end")
    parser.set_defaults(run=run)


def given_options(args: argparse.Namespace) -> dict:
    return {f.name: getattr(args, f.name) for f in fields(TrainOptions) if getattr(args, f.name) is not None}


def check_resume_agrees(args: argparse.Namespace) -> None:
    """An option given on --resume that contradicts the run's record is an error naming both values."""
    config, options = recorded_options(args.out)
    recorded = {**asdict(options), **config["model"]}
    given = {**given_options(args), **{MODEL_FLAGS[k]: getattr(args, k) for k in MODEL_FLAGS
                                       if getattr(args, k) is not None}}
    for name, value in given.items():
        if name != "epochs" and recorded.get(name) != value:
            flag = "--" + next((k for k, v in MODEL_FLAGS.items() if v == name), name).replace("_", "-")
            raise RnnlensError(f"{flag} {value} contradicts the run's recorded {recorded.get(name)}; a resumed "
                               "run keeps everything it recorded (only --epochs may change)")
    if args.params is not None:
        raise RnnlensError("--params applies to a new run; a resumed run keeps its recorded hidden size")


def new_trainer(args: argparse.Namespace):
    if args.dataset is None and args.text is None:
        raise RnnlensError("a new run needs a corpus: --dataset NAME or --text FILE")
    if args.model is None or args.layers is None or (args.hidden is None and args.params is None):
        raise RnnlensError("a new run needs --model, --layers and --hidden or --params")
    corpus = corpus_from_args(args)
    spec = {"model_type": args.model, "num_layers": args.layers, "hidden_size": args.hidden, "params": args.params,
            "dropout": args.dropout or 0.0}
    options = TrainOptions(**{"device": "auto", **given_options(args)})
    trainer = start_run(corpus, model_config(spec, len(corpus.vocab)), options, args.out)
    log(f"read {corpus.name}: {len(corpus):,} characters, vocabulary {len(corpus.vocab)}, "
        f"train/val/test {[len(corpus.split_ids(s)) for s in ('train', 'val', 'test')]}")
    return trainer


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    if args.resume:
        check_resume_agrees(args)
        corpus = corpus_from_args(args) if args.dataset or args.text else None
        trainer = resume_run(args.out, epochs=args.epochs, corpus=corpus, data_dir=args.data_dir)
        p = trainer.progress
        if trainer.finished():
            why = "stopped early" if p.stopped_early else f"reached its {trainer.options.epochs} epochs"
            log(f"{args.out} is finished: it {why} after epoch {p.epoch}, best validation loss "
                f"{p.best_val_loss:.4f} nats/char; give --epochs N above {p.epoch} to train on")
            return 0
        log(f"resuming {args.out} after epoch {p.epoch}, batch {p.batch}")
    else:
        if (Path(args.out) / LAST).exists():
            raise RnnlensError(f"{args.out} already holds a training run; pass --resume to continue it "
                               "or choose another --out")
        trainer = new_trainer(args)
    c = trainer.model.config
    log(f"model: {c.num_layers}-layer {c.model_type.upper()}, hidden {c.hidden_size}, {c.parameter_count:,} parameters, "
        f"on {trainer.device}; {trainer.task.num_batches()} batches per epoch; seed {trainer.options.seed}")
    progress = trainer.fit(show_progress=show_progress(args), log=log)
    log(f"best validation loss {progress.best_val_loss:.4f} nats/char (the mean over the validation split read as "
        f"{trainer.task.val_batches.inputs.shape[0]} parallel streams, as training reads it; rnnlens evaluate "
        "--split val reads it as one stream from the start and gives a slightly different number)")
    log(f"wrote {args.out}/best.safetensors, last.safetensors, config.json, metrics.jsonl; took {clock}")
    if args.json:
        print(json.dumps({"run": args.out, "epochs": progress.epoch, "best_val_loss": progress.best_val_loss,
                          "stopped_early": progress.stopped_early, "history": progress.history}))
    return 0
