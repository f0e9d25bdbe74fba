"""One conformance suite for every registered model kind: what any predictor must do, checked on a real model.

The kinds are those of ``registry.KINDS`` when the tests are collected, plus
the toy ``unigram`` kind of ``toy_unigram.py`` (registered for this module
only), so a kind added to the registry is covered without editing this file;
it needs a tiny spec, in ``SPECS`` or as its module's ``TEST_SPEC``.

Each kind is fitted once (a module-scoped fixture) on the first 50,000
characters of War and Peace and checked on the first 2,000 characters of
the test split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import toy_unigram
from rnnlens.data.corpus import Corpus, load_corpus
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError
from rnnlens.models import registry
from rnnlens.models.predictor import Predictor
from rnnlens.models.sampling import sample
from rnnlens.store.predictions import CACHE, INFO, cache_directory, predictions_for

CORPUS_CHARS = 50_000
HELD_OUT = 2_000  # characters of the test split the checks run on
SPECS = {  # a tiny, fast model of each kind
    "rnn": {"model_type": "lstm", "num_layers": 1, "hidden_size": 16, "epochs": 1, "batch_size": 8, "seq_length": 50},
    "ngram": {"order": 4},
    "nnn": {"context": 3, "hidden_sizes": [16], "epochs": 1},
}
TOY = "unigram"
KIND_NAMES = list(registry.KINDS) + ([TOY] if TOY not in registry.KINDS else [])

LOG_PROB_TOLERANCE = 1e-5  # log-probs against the log distributions at the true characters
SUM_TOLERANCE = 1e-6  # |sum_c exp(log p(c)) - 1|, summed in float64 (holds for every kind here; see below)
SPLIT_TOLERANCE = 1e-5  # whole text against the text in two chunks (float32 networks step by step)


@pytest.fixture(scope="module")
def toy_kind():
    """The toy kind in the registry for this module only (restored afterwards)."""
    before = registry.KINDS.get(TOY)
    registry.register_kind(TOY, toy_unigram)
    yield
    if before is None:
        registry.KINDS.pop(TOY, None)
    else:
        registry.KINDS[TOY] = before


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, war_and_peace) -> Corpus:
    path = tmp_path_factory.mktemp("corpus") / "wp50k.txt"
    path.write_text(war_and_peace[:CORPUS_CHARS], encoding="utf-8")
    return load_corpus(text=path)


@dataclass
class Fitted:
    name: str
    run_dir: Path
    predictor: Predictor
    ids: np.ndarray  # the held-out stretch


def spec_for(name: str) -> dict:
    spec = SPECS.get(name, getattr(registry.kind(name), "TEST_SPEC", None))
    if spec is None:
        pytest.fail(f"kind {name!r} has no spec to test it with: add one to SPECS or give its module TEST_SPEC")
    return spec


@pytest.fixture(scope="module", params=KIND_NAMES)
def fitted(request, toy_kind, corpus, tmp_path_factory) -> Fitted:
    name = request.param
    run_dir = tmp_path_factory.mktemp(f"run-{name}") / name
    registry.fit(name, spec_for(name), corpus, run_dir, log=lambda line: None)
    ids = corpus.split_ids("test")[:HELD_OUT]
    assert len(ids) == HELD_OUT
    return Fitted(name, run_dir, registry.load_predictor(run_dir), ids)


def test_every_registered_kind_is_covered(toy_kind):
    assert set(registry.KINDS) <= set(KIND_NAMES)
    assert TOY in KIND_NAMES


def test_predictor_protocol_shapes_and_dtypes(fitted, corpus):
    p = fitted.predictor
    assert isinstance(p, Predictor)
    assert p.kind == fitted.name
    assert p.vocab.chars == corpus.vocab.chars
    assert p.corpus_spec["sha256"] == corpus.sha256
    assert isinstance(p.description, str) and p.description
    n, v = len(fitted.ids), len(p.vocab)
    log_probs, dists = p.predict_log_probs(fitted.ids), p.predict_log_distributions(fitted.ids)
    assert log_probs.shape == (n - 1,) and log_probs.dtype == np.float64
    assert dists.shape == (n - 1, v) and dists.dtype == np.float32
    assert np.isfinite(log_probs).all() and (log_probs < 0).all()
    # one character: no prediction
    assert p.predict_log_probs(fitted.ids[:1]).shape == (0,)
    assert p.predict_log_distributions(fitted.ids[:1]).shape == (0, v)


def test_log_probs_are_the_distributions_at_the_true_characters(fitted):
    p, ids = fitted.predictor, fitted.ids
    log_probs, dists = p.predict_log_probs(ids), p.predict_log_distributions(ids)
    at_truth = dists[np.arange(len(ids) - 1), ids[1:]].astype(np.float64)
    np.testing.assert_allclose(log_probs, at_truth, rtol=0, atol=LOG_PROB_TOLERANCE)


def test_distributions_sum_to_one(fitted):
    # exp of float32 log-probabilities, summed in float64. Rounding each log p to float32 moves p by a
    # relative p*|log p|*2**-24, so a row sum moves by at most about entropy * 6e-8 (~2e-7 here): 1e-6 holds.
    dists = fitted.predictor.predict_log_distributions(fitted.ids)
    sums = np.exp(dists.astype(np.float64)).sum(axis=1)
    assert np.abs(sums - 1).max() < SUM_TOLERANCE


def test_a_prediction_depends_only_on_the_text_before_it(fitted):
    p, ids = fitted.predictor, fitted.ids
    whole = p.predict_log_probs(ids)
    for m in (1, 17, 1000):
        np.testing.assert_allclose(p.predict_log_probs(ids[:m + 1]), whole[:m], rtol=0, atol=SPLIT_TOLERANCE)


def test_predictions_of_a_text_split_in_two_chunks(fitted):
    """State carried across chunks (stream), or a bounded context: the text with its start cut off agrees."""
    p, ids = fitted.predictor, fitted.ids
    whole = p.predict_log_distributions(ids)
    whole_lp = p.predict_log_probs(ids)
    if hasattr(p, "stream"):
        # chunk 1: the prime ids[:k] in one call; chunk 2: the rest id by id, the state carried
        k = 731
        stepper = p.stream(ids[:k])
        rows = [next(stepper)] + [stepper.send(int(i)) for i in ids[k:-1]]
        streamed = np.stack(rows)  # rows for positions k-1 .. N-2
        np.testing.assert_allclose(streamed, whole[k - 1:], rtol=0, atol=SPLIT_TOLERANCE)
        streamed_lp = streamed[np.arange(len(streamed)), ids[k:]].astype(np.float64)
        np.testing.assert_allclose(np.concatenate([p.predict_log_probs(ids[:k]), streamed_lp]), whole_lp,
                                   rtol=0, atol=SPLIT_TOLERANCE)
    elif getattr(p, "context_length", None) is not None:
        # position j of ids[s:] is about ids[s+j+1] given ids[s..s+j]: the same as the whole text's
        # position s+j once those j+1 characters hold the whole context
        k, s = p.context_length, 137
        cut, cut_lp = p.predict_log_distributions(ids[s:]), p.predict_log_probs(ids[s:])
        first = max(k - 1, 0)
        assert first < len(cut)
        np.testing.assert_allclose(cut[first:], whole[s + first:], rtol=0, atol=SPLIT_TOLERANCE)
        np.testing.assert_allclose(cut_lp[first:], whole_lp[s + first:], rtol=0, atol=SPLIT_TOLERANCE)
    else:
        pytest.fail(f"a {fitted.name} predictor has neither a stream (state) nor a context_length: "
                    "say which it is so that chunked predictions can be checked")


def test_save_load_round_trip(fitted):
    first, second = registry.load_predictor(fitted.run_dir), registry.load_predictor(fitted.run_dir)
    a, b = first.predict_log_probs(fitted.ids), second.predict_log_probs(fitted.ids)
    assert np.array_equal(a, b)
    assert np.array_equal(a, fitted.predictor.predict_log_probs(fitted.ids))
    assert np.array_equal(first.predict_log_distributions(fitted.ids), second.predict_log_distributions(fitted.ids))
    identity = first.identity
    assert identity == second.identity
    assert identity["kind"] == fitted.name
    assert identity["run_dir"] == str(fitted.run_dir.resolve())
    assert identity["weights"] == "best"
    assert re.fullmatch(r"[0-9a-f]{64}", identity["sha256"])


def test_unknown_characters_are_refused(fitted):
    for text in ("☃", "War☃"):
        with pytest.raises(RnnlensError) as refusal:
            fitted.predictor.vocab.encode(text)
        assert "☃" in str(refusal.value)


def test_predictions_are_computed_once_then_read_from_the_cache(fitted, monkeypatch):
    predictor = registry.load_predictor(fitted.run_dir)
    text = Text(fitted.ids, "conformance held-out stretch")
    where = cache_directory(predictor, text)
    assert where.parent == Path(predictor.identity["run_dir"]) / CACHE
    assert not where.exists()
    first = predictions_for(predictor, text, distributions=True)
    assert (where / INFO).is_file()

    def computing(*args, **kwargs):
        raise AssertionError("predictions computed again instead of read from the cache")

    monkeypatch.setattr(predictor, "predict_log_probs", computing)
    monkeypatch.setattr(predictor, "predict_log_distributions", computing)
    for distributions in (True, False):
        again = predictions_for(predictor, text, distributions=distributions)
        assert np.array_equal(again.log_probs, first.log_probs)
        assert again.model == first.model == predictor.identity
    assert np.array_equal(np.asarray(again.distributions), first.distributions)
    assert np.array_equal(first.log_probs, fitted.predictor.predict_log_probs(fitted.ids))


def test_every_predictor_can_be_sampled(fitted):
    p = fitted.predictor
    text = "".join(sample(p, 50, seed=1))
    assert len(text) == 50
    assert set(text) <= set(p.vocab.chars)
    assert "".join(sample(p, 50, seed=1)) == text
