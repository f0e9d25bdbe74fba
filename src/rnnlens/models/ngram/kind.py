"""The ``ngram`` kind: estimate a Kneser-Ney model on a corpus's train split, load it by re-estimating.

A spec holds ``order`` (N: the model sees N-1 characters). Run directories
hold ``config.json`` (kind ``ngram``: order, vocabulary, corpus with its
sha256, per-order counts and discounts) and no arrays: loading re-estimates
from the corpus's train split (seconds; an order-21 model on War and Peace
would be about 1 GB of arrays, 400 times the text) and checks that the
n-gram counts are the stored ones.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from rnnlens.data.corpus import Corpus, load_corpus_spec
from rnnlens.errors import RnnlensError
from rnnlens.models.ngram.kneser_ney import BackoffPredictor, estimate
from rnnlens.store.runs import CONFIG_FILE, read_config, write_config

KIND = "ngram"
LABEL = "n-gram"


def estimate_corpus(corpus: Corpus, order: int, show_progress: bool = False) -> tuple[BackoffPredictor, dict]:
    """Estimate an order-``order`` model on the corpus's train split; return it and its config."""
    start = time.perf_counter()
    tables, stats = estimate(corpus.split_ids("train"), order, len(corpus.vocab), show_progress)
    config = {"order": order, "vocabulary": corpus.vocab.chars, "corpus": corpus.spec(),
              "estimator": "interpolated modified Kneser-Ney (KenLM's formulas)", "orders": stats,
              "estimate_s": round(time.perf_counter() - start, 3)}
    if corpus.data_dir is not None:
        config["data_dir"] = str(Path(corpus.data_dir).resolve())  # to find a named corpus again
    predictor = BackoffPredictor(tables, corpus.vocab, corpus.spec(), info=config)
    predictor.facts = {"type": LABEL, "label": f"{order}-gram", "order": order}  # see predictor.model_facts
    return predictor, config


def fixed_by(config: dict) -> dict:
    """What of an n-gram's ``config.json`` fixes the model (see ``registry.identity``): all but the time
    estimating took and where the corpus was read; the corpus is its sha256 and split fractions."""
    corpus = {"sha256": config["corpus"]["sha256"], "fractions": config["corpus"]["fractions"]}
    return {**{k: v for k, v in config.items() if k not in ("estimate_s", "data_dir")}, "corpus": corpus}


def fit(spec: dict, corpus: Corpus, out_dir: str | os.PathLike, log: Callable[[str], None] = print,
        show_progress: bool = False) -> BackoffPredictor:
    """Estimate the model of ``spec["order"]`` and write its ``config.json`` into ``out_dir``."""
    out = Path(out_dir)
    if out.exists() and any(p.name != CONFIG_FILE for p in out.iterdir()):
        raise RnnlensError(f"{out_dir} holds other files; an n-gram model needs a new or empty directory")
    if (out / CONFIG_FILE).is_file() and read_config(out).get("kind") != KIND:
        raise RnnlensError(f"{out_dir} holds a {read_config(out).get('kind')} model; choose another directory")
    predictor, config = estimate_corpus(corpus, spec["order"], show_progress)
    write_config(out_dir, KIND, config)
    return predictor


def load(run_dir: str | os.PathLike, weights: str = "best", device: str = "cpu") -> BackoffPredictor:
    """Re-estimate a saved n-gram model from its corpus and check it is the same model.

    The corpus is looked for where it was when the model was estimated, then in ``$RNNLENS_DATA``.
    """
    if weights != "best":
        raise RnnlensError(f"{run_dir}: an n-gram model has one set of counts, not {weights!r} weights")
    if device not in ("cpu", "auto"):
        raise RnnlensError(f"{run_dir}: an n-gram model runs on the CPU, not on {device!r}")
    config = read_config(run_dir)
    if config.get("kind") != KIND:
        raise RnnlensError(f"{run_dir}: holds a {config.get('kind')} model, not an n-gram model")
    corpus = load_corpus_spec(config["corpus"], config.get("data_dir"), fallback_to_environment=True)
    predictor, fresh = estimate_corpus(corpus, config["order"])
    if [s["ngrams"] for s in fresh["orders"]] != [s["ngrams"] for s in config["orders"]]:
        raise RnnlensError(f"{run_dir}: re-estimating gave other n-gram counts than the saved ones; "
                           "the model was made by another rnnlens version; estimate it again")
    return predictor
