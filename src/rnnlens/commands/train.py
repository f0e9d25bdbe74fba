"""``rnnlens train``: train an RNN, LSTM or GRU with the paper's protocol."""

from __future__ import annotations

import argparse
from dataclasses import fields

from rnnlens.errors import RnnlensError
from rnnlens.models.rnn.network import MODEL_TYPES, ModelConfig, solve_hidden_size
from rnnlens.training.loop import TrainOptions, resume_run, start_run
from rnnlens.commands.common import Stopwatch, add_corpus_options, corpus_from_args, log

HELP = {
    "epochs": "passes over the training split", "batch_size": "parallel streams per batch",
    "seq_length": "steps unrolled per batch", "learning_rate": "RMSProp base learning rate",
    "rmsprop_decay": "RMSProp moving-average decay", "lr_decay": "learning-rate factor per epoch after --lr-decay-after",
    "lr_decay_after": "epochs at the base learning rate", "grad_clip": "element-wise gradient clip (0: none)",
    "init_range": "weights start uniform in [-x, x]",
    "forget_bias": "added to the LSTM forget-gate biases at the start (1 helps long-range memory)",
    "patience": "epochs without a better validation loss before stopping (0: never)",
    "seed": "random seed (init, dropout)", "save_every": "iterations between resumable checkpoints inside an epoch",
    "device": "cpu, cuda or auto",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a character-level RNN/LSTM/GRU", description=__doc__)
    add_corpus_options(parser)
    parser.add_argument("--model", choices=MODEL_TYPES, help="recurrent cell type")
    parser.add_argument("--layers", type=int, help="number of recurrent layers")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--hidden", type=int, help="hidden units per layer")
    size.add_argument("--params", type=float, help="parameter budget: the hidden size is solved to come closest")
    parser.add_argument("--dropout", type=float, default=0.0, help="dropout between layers and before the softmax")
    for f in fields(TrainOptions):
        flag = "--" + f.name.replace("_", "-")
        # on --resume only options given explicitly change the run, so defaults stay None here
        parser.add_argument(flag, type=type(f.default), default=None, help=f"{HELP[f.name]} (default: {f.default})")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out exactly where it stopped (its saved options hold; only --epochs may change)")
    parser.add_argument("--out", required=True, help="run directory for checkpoints and metrics")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def _options(args: argparse.Namespace) -> TrainOptions:
    given = {f.name: getattr(args, f.name) for f in fields(TrainOptions) if getattr(args, f.name) is not None}
    return TrainOptions(**given)


def _model_config(args: argparse.Namespace, vocab_size: int) -> ModelConfig:
    if args.model is None or args.layers is None or (args.hidden is None and args.params is None):
        raise RnnlensError("a new run needs --model, --layers and --hidden or --params")
    hidden = args.hidden or solve_hidden_size(args.model, args.layers, vocab_size, int(args.params))
    return ModelConfig(args.model, vocab_size, hidden, args.layers, args.dropout)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    corpus = corpus_from_args(args)
    log(f"read {corpus.name}: {len(corpus):,} characters, vocabulary {len(corpus.vocab)}, "
        f"train/val/test {[len(corpus.split_ids(s)) for s in ('train', 'val', 'test')]}")
    if args.resume:
        trainer = resume_run(corpus, args.out, epochs=args.epochs)
        log(f"resuming {args.out} after epoch {trainer.progress.epoch}, batch {trainer.progress.batch}")
    else:
        trainer = start_run(corpus, _model_config(args, len(corpus.vocab)), _options(args), args.out)
    c = trainer.model.config
    log(f"model: {c.num_layers}-layer {c.model_type.upper()}, hidden {c.hidden_size}, "
        f"{c.parameter_count:,} parameters, "
        f"on {trainer.device}; {len(trainer.train_batches)} batches per epoch")
    progress = trainer.fit(show_progress=not args.quiet, log=log)
    log(f"best validation loss {progress.best_val_loss:.4f} nats/char; wrote {args.out}/best.safetensors, "
        f"last.safetensors, config.json, metrics.jsonl; took {clock}")
    return 0
