"""Training options that several commands share: one flag per loop option, and the n-NN's (``nnn``, ``baselines``)."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from rnnlens.checks import COUNT
from rnnlens.data.corpus import Corpus
from rnnlens.errors import RnnlensError, typed
from rnnlens.models.nnn import HIDDEN_GRID, NNNOptions
from rnnlens.store.runs import read_config
from rnnlens.training.loop import CHOICES, RANGES, option_agrees

HELP = {
    "epochs": "passes over the training split", "batch_size": "parallel streams per batch",
    "seq_length": "steps unrolled per batch", "learning_rate": "base learning rate",
    "rmsprop_decay": "RMSProp moving-average decay", "lr_decay": "learning-rate factor (see --lr-schedule)",
    "lr_decay_after": "epochs at the base learning rate", "grad_clip": "element-wise gradient clip, 0 for none",
    "init_range": "weights start uniform in [-x, x]",
    "forget_bias": "added to the LSTM forget-gate biases at the start (1 helps long-range memory)",
    "patience": "epochs without a better validation loss before stopping, 0 for never",
    "seed": "random seed (init, dropout, order)", "save_every": "batches between resumable checkpoints, 0 for by time only",
    "save_every_s": "seconds between resumable checkpoints", "device": "cpu, cuda or auto: a GPU where there is one",
    "batch": "positions per update",
    "dropout": "dropout on the n-NN's hidden layer while training, 0 for none (it regularises where the "
               "test text is unlike the training text, as the Linux kernel's later files)",
    "optimizer": "rmsprop (the paper's) or adam",
    "min_improvement": "nats/char by which a validation loss must beat the best to count as better for "
                       "--patience and the plateau",
    "select_epochs": "epochs every hidden size trains before the one with the best validation loss trains on "
                     "alone, 0 for every size to the end",
    "lr_schedule": "epoch (the paper's: --lr-decay every epoch after --lr-decay-after) or plateau (--lr-decay after "
                   "each epoch without a better validation loss)",
    "precision": "of the training forward pass: fp32, bf16 (autocast: bf16 products, fp32 weights and optimiser) "
                 "or auto (bf16 where the CPU or GPU multiplies bf16 natively and the model trains faster in it); "
                 "a run records what auto chose",
    "snapshot_every": "keep the weights every N batches, and the initial ones, in RUN/snapshots/ for rnnlens "
                      "dynamics; 0 for none",
}
def add_option_flags(parser, options: type, defaults, help: dict | None = None, skip: set[str] = frozenset(),
                     add=None) -> list[str]:
    """One flag per field of ``options`` (a ``LoopOptions`` dataclass) not in ``skip``, range-checked, added
    by ``add`` (default: ``parser.add_argument``; ``parser`` may be an argument group); defaults stay None so
    that only options given explicitly count (on resume they must agree with the record). ``help`` overrides
    ``HELP`` for some fields, and a field's own ``metadata["help"]`` serves where neither has it. Returns the
    names of the fields added."""
    texts = {**HELP, **(help or {})}
    add = add or parser.add_argument
    added = []
    for f in fields(options):
        if f.name in skip:
            continue
        default = getattr(defaults, f.name)
        kind = RANGES[f.name].argparse_type() if f.name in RANGES else type(default)
        text = texts.get(f.name) or f.metadata.get("help", f.name.replace("_", " "))
        add("--" + f.name.replace("_", "-"), type=kind, default=None, choices=CHOICES.get(f.name),
            help=f"{text} (default: {typed(default)})")
        added.append(f.name)
    return added


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """The n-NN's hidden-size grid and the shared loop's options (minibatch positions included)."""
    parser.add_argument("--hidden", type=COUNT.argparse_type(), nargs="+", default=list(HIDDEN_GRID),
                        help=f"hidden sizes to try; the best on the validation split is kept "
                             f"(default: {' '.join(map(str, HIDDEN_GRID))})")
    add_option_flags(parser, NNNOptions, NNNOptions(device="auto"),
                     help={"seed": "random seed (init, dropout masks, order of the positions)"})


def given_options(args: argparse.Namespace) -> dict:
    return {f.name: getattr(args, f.name) for f in fields(NNNOptions) if getattr(args, f.name) is not None}


def nnn_spec(args: argparse.Namespace) -> dict:
    """The n-NN options given on the command line (without the context)."""
    return {"device": "auto", **given_options(args), "hidden_sizes": args.hidden}


def recorded_run(out_dir: str | Path) -> dict | None:
    """The config of the n-NN run in ``out_dir``: its ``config.json`` once finished, else its first grid run's."""
    out = Path(out_dir)
    if (out / "config.json").is_file():
        return read_config(out)
    runs = sorted(out.glob("grid/h*/config.json"))
    return read_config(runs[0].parent) if runs else None


def check_record_agrees(config: dict, where: str, args: argparse.Namespace, corpus: Corpus, context: int,
                        changeable: set[str]) -> None:
    """Refuse to go on with the n-NN run recorded in ``config`` (at ``where``) on another corpus or split, with
    another context, or with an option given on the command line (other than ``changeable``) that contradicts
    its record; each error names both values."""
    recorded = config["corpus"]
    if recorded["sha256"] != corpus.sha256 or list(recorded["fractions"]) != list(corpus.fractions):
        trained = f"--dataset {recorded['dataset']}" if "dataset" in recorded else f"--text {recorded.get('path')}"
        raise RnnlensError(f"{where} holds an n-NN model trained on {trained} with split fractions "
                           f"{typed(recorded['fractions'])}, not on this corpus and split; choose another --out")
    if config["model"]["context"] != context:
        raise RnnlensError(f"--context {context} contradicts the recorded {config['model']['context']} of the "
                           f"n-NN model in {where}; choose another --out for another n")
    keeps = f"only {' and '.join(f'--{name}' for name in sorted(changeable))} may change" if changeable else \
        "remove it or choose another --out to change them"
    for name, value in given_options(args).items():
        if name not in changeable and not option_agrees(name, value, config["training"].get(name)):
            raise RnnlensError(f"--{name.replace('_', '-')} {typed(value)} contradicts the recorded "
                               f"{typed(config['training'].get(name))} of the n-NN model in {where}; it keeps its "
                               f"options ({keeps})")
