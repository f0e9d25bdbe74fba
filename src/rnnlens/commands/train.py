"""``rnnlens train``: train a model of any trainable kind (an RNN, LSTM or GRU unless --kind says another).

Each kind declares its own options (``TRAIN_OPTIONS`` and ``LOOP_OPTIONS`` in
its registry module); they are listed under ``--kind NAME`` in the help, and a
run refuses another kind's options.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, fields
from functools import partial
from pathlib import Path
from types import ModuleType

from rnnlens.commands.common import (Stopwatch, add_corpus_options, add_reporting, add_unsigned_option,
                                     corpus_from_args, log, show_progress)
from rnnlens.commands.training_options import add_option_flags
from rnnlens.errors import RnnlensError, typed
from rnnlens.models import registry
from rnnlens.models.kind_options import missing_options
from rnnlens.store.outputs import check_model_dir
from rnnlens.store.runs import read_config
from rnnlens.training.loop import LAST, Interrupted, option_agrees
from rnnlens.training.tensorboard import INSTALL, TensorBoardObserver, summary_writer_class

DEFAULT_KIND = "rnn"  # what a run without --kind trains, as before kinds were chosen


def register(subparsers) -> None:
    kinds = registry.trainable_kinds()
    parser = subparsers.add_parser("train", help="train a character-level model: RNN/LSTM/GRU, or --kind ...",
                                   description=__doc__,
                                   epilog=" ".join(registry.kind(name).TRAIN_HELP for name in kinds))
    add_corpus_options(parser, required=False)
    add_unsigned_option(parser, "--kind", choices=kinds,
                        help=f"the kind of model to train (without it: {DEFAULT_KIND}); its options are listed "
                             "under its name below")
    add_kind_flags(parser, kinds)
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out exactly where it stopped (its recorded corpus and options "
                             "hold; only --epochs may change)")
    parser.add_argument("--out", required=True, help="run directory for checkpoints and metrics")
    add_unsigned_option(parser, "--tensorboard", metavar="DIR",
                        help="also write TensorBoard event files into DIR as training goes (loss, validation loss, "
                             f"learning rate, throughput, gradient norm; needs {INSTALL})")
    add_reporting(parser, "print a JSON summary of the run on stdout at the end")
    parser.set_defaults(run=run)


def add_kind_flags(parser: argparse.ArgumentParser, kinds: list[str]) -> None:
    """Each kind's options as flags, in a group per kind; a flag that an earlier kind already has is shared.
    Only the default kind's flags enter the command's signature: the others cannot change a run without
    --kind, which refuses them."""
    seen: set[str] = set()
    for name in kinds:
        module = registry.kind(name)
        group = parser.add_argument_group(f"--kind {name}")
        signed = name == DEFAULT_KIND
        alternatives: dict[str, argparse._MutuallyExclusiveGroup] = {}
        for option in module.TRAIN_OPTIONS:
            if option.dest in seen:
                continue
            if option.one_of and option.one_of not in alternatives:
                alternatives[option.one_of] = group.add_mutually_exclusive_group()
            target = alternatives[option.one_of] if option.one_of else group
            add = target.add_argument if signed else partial(add_unsigned_option, target)
            add(option.flag, type=option.type, choices=option.choices, default=None, help=option.help)
            seen.add(option.dest)
        add = None if signed else partial(add_unsigned_option, group)
        defaults = module.LOOP_OPTIONS(device="auto")
        seen.update(add_option_flags(group, module.LOOP_OPTIONS, defaults, skip=seen, add=add))


def kind_flags(module: ModuleType) -> set[str]:
    """The parsed attributes a kind takes: its model options' and its loop options'."""
    return {o.dest for o in module.TRAIN_OPTIONS} | {f.name for f in fields(module.LOOP_OPTIONS)}


def refuse_other_kinds_options(args: argparse.Namespace, name: str) -> None:
    """An option given that only other kinds take is an error naming the kinds that take it."""
    mine = kind_flags(registry.kind(name))
    for other in registry.trainable_kinds():
        for dest in sorted(kind_flags(registry.kind(other)) - mine):
            if getattr(args, dest, None) is not None:
                raise RnnlensError(f"--{dest.replace('_', '-')} is an option of --kind {other}, not of --kind "
                                   f"{name}; leave it out")


def given_options(args: argparse.Namespace, module: ModuleType) -> dict:
    """The kind's loop options given on the command line."""
    return {f.name: getattr(args, f.name) for f in fields(module.LOOP_OPTIONS) if getattr(args, f.name) is not None}


def given_spec(args: argparse.Namespace, module: ModuleType) -> dict:
    """The kind's model options given on the command line, by spec key."""
    return {o.key: getattr(args, o.dest) for o in module.TRAIN_OPTIONS if getattr(args, o.dest) is not None}


def check_resume_agrees(args: argparse.Namespace, module: ModuleType, config: dict) -> None:
    """An option given on --resume that contradicts the run's record is an error naming both values."""
    recorded = {**asdict(module.LOOP_OPTIONS.from_dict(config["training"])), **config["model"]}
    flags = {o.key: o.flag for o in module.TRAIN_OPTIONS}
    for option in module.TRAIN_OPTIONS:
        if option.new_runs_only and getattr(args, option.dest) is not None:
            raise RnnlensError(f"{option.flag} applies to a new run; a resumed run keeps what it recorded")
    for name, value in {**given_options(args, module), **given_spec(args, module)}.items():
        if name != "epochs" and not option_agrees(name, value, recorded.get(name)):
            flag = flags.get(name, "--" + name.replace("_", "-"))
            raise RnnlensError(f"{flag} {typed(value)} contradicts the run's recorded {typed(recorded.get(name))}; "
                               "a resumed run keeps everything it recorded (only --epochs may change)")
    fractions = config["corpus"]["fractions"]
    if args.fractions is not None and list(args.fractions) != list(fractions):
        raise RnnlensError(f"--split-fractions {typed(args.fractions)} contradicts the run's recorded "
                           f"{typed(fractions)}; a resumed run keeps its corpus and split")


def new_trainer(args: argparse.Namespace):
    """Before any corpus is read: a new run needs a corpus, the kind's options and a new or empty --out."""
    name = args.kind or DEFAULT_KIND
    module = registry.kind(name)
    refuse_other_kinds_options(args, name)
    if (Path(args.out) / LAST).exists():
        raise RnnlensError(f"{args.out} already holds a training run; pass --resume to continue it "
                           "or choose another --out")
    check_model_dir(args.out, name, reuse=False)
    if args.dataset is None and args.text is None:
        raise RnnlensError("a new run needs a corpus: --dataset NAME or --text FILE")
    spec = given_spec(args, module)
    missing = missing_options(module.TRAIN_OPTIONS, spec)
    if missing:
        raise RnnlensError(f"a new run of --kind {name} needs {', '.join(missing)}")
    corpus = corpus_from_args(args)
    options = module.LOOP_OPTIONS(**{"device": "auto", **given_options(args, module)})
    trainer = module.new_trainer(spec, options, corpus, args.out)
    log(f"read {corpus.name}: {len(corpus):,} characters, vocabulary {len(corpus.vocab)}, "
        f"train/val/test {[len(corpus.split_ids(s)) for s in ('train', 'val', 'test')]}")
    return trainer, module


def resumed_trainer(args: argparse.Namespace):
    """The run in --out restored, with its kind's module; (None, module) after saying so when it is finished."""
    if not (Path(args.out) / LAST).exists():
        raise RnnlensError(f"{args.out}: nothing to resume (no {LAST}); start the run without --resume")
    config = read_config(args.out)
    name = config.get("kind")
    if name not in registry.trainable_kinds() or (args.kind and args.kind != name):
        raise RnnlensError(f"{args.out} holds a {name} training run; resume it without --kind"
                           if args.kind else f"{args.out} holds a {name} model, which rnnlens train does not train")
    module = registry.kind(name)
    refuse_other_kinds_options(args, name)
    check_resume_agrees(args, module, config)
    corpus = None
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
    trainer = module.resumed_trainer(args.out, epochs=args.epochs, corpus=corpus, data_dir=args.data_dir)
    if trainer.finished():
        log(f"{args.out} is finished: {why_finished(trainer)}. It holds a {module.describe_model(trainer)} "
            f"({best_words(trainer)}{RUN_FILES}); nothing was changed")
        return None, module
    log(f"resuming {args.out} after epoch {trainer.progress.epoch}, batch {trainer.progress.batch}")
    return trainer, module


def why_finished(trainer) -> str:
    p = trainer.progress
    if p.stopped_early:
        return (f"it stopped early after epoch {p.epoch}: {p.bad_epochs} epochs without a better validation "
                f"loss (--patience {trainer.options.patience}), so more epochs would not be trained")
    return (f"it has trained {p.epoch} epoch{'' if p.epoch == 1 else 's'} (--epochs {trainer.options.epochs}); "
            f"give --epochs N above {p.epoch} to train on")


def best_words(trainer) -> str:
    best = min(trainer.progress.history, key=lambda r: r["val_loss"]) if trainer.progress.history else None
    return f"best validation loss {best['val_loss']:.4f} nats/char at epoch {best['epoch']}; " if best else ""


RUN_FILES = "best.safetensors, last.safetensors, config.json, metrics.jsonl"


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    if args.tensorboard:
        summary_writer_class()  # a missing TensorBoard is refused before anything is read or written
    trainer, module = resumed_trainer(args) if args.resume else new_trainer(args)
    if trainer is None:
        return 0
    log(f"model: {module.describe_model(trainer)}, on {trainer.device} in {trainer.options.precision}; "
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
    log(f"best validation loss {progress.best_val_loss:.4f} nats/char ({module.validation_words(trainer)})")
    kept = registry.snapshots(args.out)
    also = f" and {len(kept)} snapshots in {args.out}/snapshots/" if kept else ""
    log(f"wrote {args.out}/{RUN_FILES}{also}; took {clock}")
    if args.json:
        print(json.dumps({"run": args.out, "epochs": progress.epoch, "best_val_loss": progress.best_val_loss,
                          "stopped_early": progress.stopped_early, "history": progress.history}))
    return 0
