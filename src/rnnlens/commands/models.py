"""Options and steps of the commands that compare several models over one text: ``DIR...``, ``--names``."""

from __future__ import annotations

import argparse
import os
from typing import NamedTuple

from rnnlens.analyses.model_set import check_same_corpus
from rnnlens.commands.common import add_model_options, add_text_source, text_from_args
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import Predictor
from rnnlens.models.registry import load_predictor
from rnnlens.store.predictions import Predictions, predictions_for


class Models(NamedTuple):
    """Loaded models by name (in the order given), the text they are scored on, and their predictions."""

    predictors: dict[str, Predictor]
    text: Text
    predictions: dict[str, Predictions]


def add_models_and_text(parser: argparse.ArgumentParser, what: str = "run directories of the models",
                        at_least: int = 1) -> None:
    """``DIR...`` (at least ``at_least``), ``--names``, the text (``--split``/``--text``), ``--weights``, ``--device``."""
    parser.add_argument("model_dirs", metavar="DIR", nargs="+", help=what)
    parser.add_argument("--names", nargs="+", metavar="NAME",
                        help="a name for each model, in order (default: each run directory's base name)")
    add_text_source(parser, default_split="test")
    add_model_options(parser)
    parser.set_defaults(models_at_least=at_least)


def model_names(model_dirs: list[str], names: list[str] | None) -> list[str]:
    """``names``, or each directory's base name; checked to be one per model and distinct."""
    if names is None:
        names = [os.path.basename(os.path.normpath(d)) for d in model_dirs]
    elif len(names) != len(model_dirs):
        raise RnnlensError(f"{len(names)} names for {len(model_dirs)} models", "give one name per model",
                           option="names")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise RnnlensError(f"two models are both named {repeated[0]!r}", "give distinct names", option="names")
    return names


def models_from_args(args: argparse.Namespace, distributions: bool = False) -> Models:
    """Load every ``DIR``, check they share a corpus, and get each one's (cached) predictions of the text."""
    if len(args.model_dirs) < args.models_at_least:
        raise RnnlensError(f"{len(args.model_dirs)} model{'' if len(args.model_dirs) == 1 else 's'} given: "
                           f"this command compares at least {args.models_at_least}")
    names = model_names(args.model_dirs, args.names)
    predictors = {name: load_predictor(d, weights=args.weights, device=args.device)
                  for name, d in zip(names, args.model_dirs)}
    check_same_corpus(predictors)
    text = text_from_args(args, next(iter(predictors.values())))
    predictions = {name: predictions_for(p, text, distributions=distributions) for name, p in predictors.items()}
    return Models(predictors, text, predictions)
