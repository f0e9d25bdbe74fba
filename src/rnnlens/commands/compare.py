"""``rnnlens compare``: loss table, agreement heat map and t-SNE map of several models (the paper's Figure 1)."""

from __future__ import annotations

import argparse

from rnnlens.analyses.model_comparison import BUDGET_FACTOR, compare_models
from rnnlens.commands.analysis import add_result_options, report
from rnnlens.commands.common import Stopwatch, check_out, log
from rnnlens.commands.models import add_models_and_text, models_from_args
from rnnlens.models.predictor import model_facts
from rnnlens.models.registry import kind


def register(subparsers) -> None:
    parser = subparsers.add_parser("compare", help="loss table, agreement and t-SNE of several models (Figure 1)",
                                   description=__doc__ + f" Columns group parameter budgets within {BUDGET_FACTOR}x.")
    add_models_and_text(parser, "run directories of the models (one corpus)", at_least=2)
    parser.add_argument("--seed", type=int, default=0, help="random seed of the t-SNE map (default: 0)")
    add_result_options(parser, "compare.json, compare.csv, agreement.csv, losses.png, agreement.png and tsne.png")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    check_out(args.out, "result")
    models = models_from_args(args, distributions=True)
    facts = {name: model_facts(p, kind(p.kind).LABEL) for name, p in models.predictors.items()}
    dataset = next(iter(models.predictors.values())).corpus_spec.get("name", "?")
    result = compare_models(models.predictions, facts, dataset, seed=args.seed)
    if result.tsne_note:
        log(result.tsne_note)
    report(result, args, clock)
    return 0
