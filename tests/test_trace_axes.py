"""Trace keys declare their axes: a kind with an attention-like key of axes (position, key_position) is stored,
reopened and read without being taken for (position, unit).

The kind is the toy unigram of ``toy_unigram.py`` given the trace verbs in the test, with one unit key
(``layer1.hidden``) and one pattern key (``layer1.head1.pattern``: row t spreads its weight evenly over the
last ``WINDOW`` characters up to t).
"""

from __future__ import annotations

import json
import types

import numpy as np
import pytest

import toy_unigram
from rnnlens.data.corpus import load_corpus
from rnnlens.data.texts import text_for
from rnnlens.errors import RnnlensError
from rnnlens.models import registry
from rnnlens.models.trace import PER_UNIT
from rnnlens.store.trace_windows import layer_keys
from rnnlens.store.traces import MANIFEST, compute_trace, open_trace, write_trace

WINDOW = 4
PATTERN = "layer1.head1.pattern"


def pattern_rows(positions: int) -> np.ndarray:
    """``(positions, WINDOW)``: row t puts 1/k on each of the last k = min(t+1, WINDOW) key positions."""
    rows = np.zeros((positions, WINDOW), np.float32)
    for t in range(positions):
        k = min(t + 1, WINDOW)
        rows[t, WINDOW - k:] = 1.0 / k
    return rows


def traced_toy() -> types.ModuleType:
    kind = types.ModuleType("toy_traced")
    for name in ("KIND", "LABEL", "fit", "load"):
        setattr(kind, name, getattr(toy_unigram, name))
    kind.trace_keys = lambda predictor, full_distribution=False: ["prob", "layer1.hidden", PATTERN]
    kind.trace_gates = lambda predictor: []
    kind.trace_axes = lambda predictor: {PATTERN: ("position", "key_position")}

    def compute(predictor, ids, allocate=None, keys=(), progress=False, **options):
        allocate = allocate or (lambda key, shape, dtype: np.empty(shape, dtype))
        n = len(ids) - 1
        full = {"prob": np.exp(predictor.predict_log_probs(ids)).astype(np.float32),
                "layer1.hidden": np.stack([np.arange(n), -np.arange(n)], axis=1).astype(np.float32),
                PATTERN: pattern_rows(n)}
        arrays = {}
        for key in keys:
            arrays[key] = allocate(key, full[key].shape, np.dtype(np.float32))
            arrays[key][:] = full[key]
        return arrays

    kind.compute_trace = compute
    return kind


@pytest.fixture
def predictor(tmp_path, war_and_peace):
    path = tmp_path / "wp.txt"
    path.write_text(war_and_peace[:5_000], encoding="utf-8")
    corpus = load_corpus(text=path)
    registry.register_kind(toy_unigram.KIND, traced_toy())
    yield toy_unigram.fit({}, corpus, tmp_path / "run", log=lambda _: None)
    registry.KINDS.pop(toy_unigram.KIND, None)


def test_a_stored_trace_keeps_each_key_s_declared_axes(predictor, tmp_path):
    text = text_for(predictor.vocab, predictor.corpus_spec, split="test")
    trace = write_trace(tmp_path / "trace", predictor, text)
    assert trace.axes(PATTERN) == ("position", "key_position")
    assert trace.axes("layer1.hidden") == PER_UNIT and trace.axes("prob") == ("position",)
    assert trace.unit_keys() == ["layer1.hidden"]
    np.testing.assert_array_equal(trace[PATTERN][:5], pattern_rows(5))
    np.testing.assert_allclose(trace[PATTERN].sum(axis=1), 1.0, rtol=1e-6)
    with pytest.raises(RnnlensError, match=r"layer1.head1.pattern has axes \(position, key_position\), not"):
        trace.layer(1, "head1.pattern")
    assert trace.layer(1, "hidden")[3].tolist() == [3.0, -3.0]


def test_a_trace_stored_before_axes_were_declared_reads_as_position_by_unit(predictor, tmp_path):
    text = text_for(predictor.vocab, predictor.corpus_spec, split="test")
    write_trace(tmp_path / "trace", predictor, text, keys={"prob", "layer1.hidden"})
    manifest = json.loads((tmp_path / "trace" / MANIFEST).read_text())
    del manifest["axes"]
    (tmp_path / "trace" / MANIFEST).write_text(json.dumps(manifest))
    old = open_trace(tmp_path / "trace")
    assert old.axes("layer1.hidden") == PER_UNIT and old.unit_keys() == ["layer1.hidden"]


def test_analyses_that_read_units_are_offered_only_unit_keys(predictor):
    assert layer_keys(predictor) == ["layer1.hidden"]
    assert layer_keys(predictor, ["hidden"]) == ["layer1.hidden"]
    with pytest.raises(RnnlensError, match=r"layer1.head1.pattern has axes \(position, key_position\), not "
                                           r"\(position, unit\); choose among layer1.hidden"):
        layer_keys(predictor, [PATTERN])
    text = text_for(predictor.vocab, predictor.corpus_spec, split="test")
    in_memory = compute_trace(predictor, text)
    assert in_memory.info["axes"][PATTERN] == ["position", "key_position"]
