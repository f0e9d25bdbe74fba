"""``rnnlens sae``: a sparse autoencoder on one trace key, trained on one text and evaluated on another.

It reports SAELens's metrics on the held-out text (L0, variance explained,
dead latents; loss recovered once the forward pass can take a replaced
quantity), each latent's top-activating contexts and best-matching text
features (latents.csv), and for each feature its best latent against the
key's best single unit: is the quote cell an SAE feature? The weights are
saved as sae.safetensors beside sae.json.
"""

from __future__ import annotations

import argparse

from rnnlens.analyses.sae import SAEOptions, fit_sae
from rnnlens.checks import COUNT, NONNEGATIVE_COUNT, POSITIVE
from rnnlens.commands.analysis import (add_feature_options, add_result_options, add_window_options, features_from_args,
                                       report, window_texts)
from rnnlens.commands.common import Stopwatch, add_model_and_text, check_out, log, show_progress
from rnnlens.errors import RnnlensError
from rnnlens.models.registry import load_predictor
from rnnlens.store.trace_windows import layer_keys, window_trace

TRAIN_LIMIT = 100_000  # characters to train on by default: 125 MB of a 312-unit key
EXPANSION = 4  # latents per unit by default
TOPK = 16


def register(subparsers) -> None:
    parser = subparsers.add_parser("sae", help="a sparse autoencoder on one trace key: L0, variance explained, "
                                   "dead latents, latents' contexts and feature matches", description=__doc__)
    add_model_and_text(parser, "a trained network's run directory")
    parser.add_argument("--key", required=True, metavar="KEY", help="the trace key to encode, such as layer2.cell")
    add_window_options(parser, train_limit=TRAIN_LIMIT)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--latents", type=COUNT.argparse_type(), metavar="M", help="latent directions")
    size.add_argument("--expansion", type=POSITIVE.argparse_type(), metavar="E",
                      help=f"latents per unit of the key (default: {EXPANSION})")
    sparsity = parser.add_mutually_exclusive_group()
    sparsity.add_argument("--topk", type=COUNT.argparse_type(), metavar="K",
                          help=f"TopK SAE: keep the K largest latents of each row (default: {TOPK})")
    sparsity.add_argument("--l1", type=POSITIVE.argparse_type(), metavar="X",
                          help="ReLU SAE with this L1 coefficient (on decoder-norm-weighted latents) instead")
    parser.add_argument("--steps", type=COUNT.argparse_type(), default=SAEOptions.steps,
                        help=f"Adam steps of {SAEOptions.batch} rows (default: {SAEOptions.steps})")
    parser.add_argument("--seed", type=NONNEGATIVE_COUNT.argparse_type(), default=0,
                        help="seed of the initial weights and the batches (default: 0)")
    add_feature_options(parser)
    add_result_options(parser, "sae.json, sae.safetensors, latents.csv, sae.png")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    check_out(args.out, "result")
    features = features_from_args(args)
    predictor = load_predictor(args.model_dir, weights=args.weights, device=args.device)
    keys = layer_keys(predictor, [args.key])
    if keys != [args.key]:
        raise RnnlensError(f"--key takes one trace key such as {keys[-1]}, not the quantity {args.key!r}")
    traces = {role: window_trace(predictor, text, keys, show_progress(args), log)
              for role, text in window_texts(args, predictor).items()}
    units = traces["fit"][args.key].shape[1]
    options = SAEOptions(latents=args.latents or round((args.expansion or EXPANSION) * units),
                         topk=None if args.l1 else args.topk or TOPK, l1=args.l1 or SAEOptions.l1,
                         steps=args.steps, seed=args.seed)
    log(f"training an SAE on {args.key} ({units} units): {options.describe()}")
    report(fit_sae(traces["fit"], traces["score"], args.key, options, features, predictor,
                   (lambda _: None) if args.quiet else log), args, clock)
    return 0
