"""``rnnlens ablate``: replace chosen units (or the interpretable cells ``cells`` finds) at every position and
measure the loss, overall and where text features hold, against random units of the same layer."""

from __future__ import annotations

import argparse
import re

from rnnlens.analyses.ablation import Replacement, ablate, position_sets
from rnnlens.analyses.interpretable_cells import find_interpretable_cells, quantity_keys
from rnnlens.checks import COUNT, NONNEGATIVE_COUNT
from rnnlens.commands.analysis import CHARS, add_feature_options, add_result_options, features_from_args, report
from rnnlens.commands.common import Stopwatch, add_model_and_text, check_out, log, text_from_args
from rnnlens.data.texts import first_chars
from rnnlens.errors import RnnlensError
from rnnlens.models.registry import load_predictor
from rnnlens.models.trace import layer_key
from rnnlens.store.traces import available_keys, compute_trace

_UNIT = re.compile(r"(layer\d+\.\w+):(\d+)")


def register(subparsers) -> None:
    parser = subparsers.add_parser("ablate", help="loss with chosen units replaced, against random units",
                                   description=__doc__)
    add_model_and_text(parser, "a trained network's run directory")
    parser.add_argument("--units", nargs="+", required=True, metavar="KEY:UNIT",
                        help="units to replace, each alone (layer2.cell:151; units from 0), or auto: the units "
                             "that rnnlens cells finds tracking a feature on this text")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--value", type=float, help="clamp each unit to this value (default: set it to 0)")
    how.add_argument("--mean", action="store_true", help="set each unit to its mean over the text")
    add_feature_options(parser)
    parser.add_argument("--random", type=NONNEGATIVE_COUNT.argparse_type(), default=50, metavar="K",
                        help="random units of the same layer and quantity to compare with (default: 50)")
    parser.add_argument("--limit", type=CHARS.argparse_type(), metavar="CHARS",
                        help="use the first CHARS characters of the text (default: all)")
    parser.add_argument("--seed", type=NONNEGATIVE_COUNT.argparse_type(), default=0,
                        help="seed of the random units (default: 0)")
    add_result_options(parser, "ablation.json, ablation.csv, ablation.png")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    check_out(args.out, "result")
    predictor = load_predictor(args.model_dir, weights=args.weights, device=args.device)
    text = text_from_args(args, predictor)
    text = text if args.limit is None else first_chars(text, args.limit)
    given = features_from_args(args) if args.features or args.feature_file else {}
    features, sets_of = given, None
    if args.units == ["auto"]:
        units, tracked = discovered_cells(predictor, text)
        features = {**{name: feature for features_of in tracked.values() for name, feature in features_of.items()},
                    **given}
        sets_of = {unit: [*tracked[unit], *given] for unit in units}  # each cell on its own features
        described = [f"{key}:{unit} ({', '.join(tracked[(key, unit)])})" for key, unit in units]
        log(f"cells tracking a feature: {'; '.join(described)}")
    else:
        units = [parse_unit(spec) for spec in args.units]
    values = {name: feature(predictor.vocab.decode(text.ids)) for name, feature in features.items()}
    numeric = [name for name, feature in features.items() if feature.kind != "binary"]
    if numeric:
        raise RnnlensError(f"{', '.join(numeric)}: not binary; ablation measures the loss where a feature holds, "
                           "so give binary features (inside_quotes, after_newline, ...)")
    means = None
    if args.mean:
        keys = {key for key, _ in units}
        means = {key: array.mean(0) for key, array in compute_trace(predictor, text, keys=keys).items()}
    replacement = Replacement("mean") if args.mean else Replacement("value", args.value) \
        if args.value is not None else Replacement("zero")
    sets = position_sets(values, len(text.ids) - 1)
    if sets_of:
        sets_of = {unit: [n for n in sets if n.split(":")[0] in names] for unit, names in sets_of.items()}
    result = ablate(predictor, text, units, replacement, sets, args.random, args.seed, means, sets_of)
    report(result, args, clock)
    return 0


def parse_unit(spec: str) -> tuple[str, int]:
    """``layer2.cell:151`` as ``("layer2.cell", 151)``."""
    match = _UNIT.fullmatch(spec)
    if not match:
        raise RnnlensError(f"--units {spec!r}: expected KEY:UNIT such as layer2.cell:151 (units count from 0), "
                           "or auto")
    return match[1], int(match[2])


def discovered_cells(predictor, text) -> tuple[list[tuple[str, int]], dict]:
    """The units ``cells`` finds tracking a binary feature on ``text`` (as hook points), and for each unit the
    features it tracks by name."""
    keys, _ = available_keys(predictor)
    trace = compute_trace(predictor, text, keys={"prob"} | quantity_keys(keys, None))
    cells = find_interpretable_cells(trace)
    tracking = [m for m in cells.best if m.tracks and m.kind == "binary"]
    if not tracking:
        raise RnnlensError(f"no unit tracks a binary feature on {text.source} (rnnlens cells says which come "
                           "closest); name the units to ablate as KEY:UNIT")
    quantity = "cell" if cells.quantity == "tanh_cell" else cells.quantity
    tracked: dict[tuple[str, int], dict] = {}
    for m in tracking:
        tracked.setdefault((layer_key(m.layer, quantity), m.unit), {})[m.feature] = cells.features[m.feature]
    return list(tracked), tracked
