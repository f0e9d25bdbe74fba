"""The reading of Figure 1: on hand-made results, and on synthetic per-position data with and without an effect."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlens.analyses.intervals import Interval, mean_interval
from rnnlens.analyses.model_comparison import APART_RATIO, Comparison, apart, compare_models, loss_differences
from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import Context, read_compare
from rnnlens.store.predictions import Predictions

SEEDS = 200
POSITIONS, RUN, CHARS = 6000, 20, 4  # runs of RUN positions share their noise: positions are correlated


def context(results: dict | None = None) -> Context:
    return Context("war-and-peace", paper_numbers(), results or {})


def interval(estimate: float, half: float, count: int = 5000) -> dict:
    return Interval(estimate, estimate - half, estimate + half, count, "paired bootstrap over positions").to_dict()


def model(kind: str, layers: int, nats: float, column: str = "50K") -> dict:
    return {"name": f"{kind.lower()}{layers}", "type": kind, "layers": layers, "params": 50000, "column": column,
            "nats": nats, "std": 0.01, "interval": interval(nats, 0.02)}


def difference(a: str, b: str, estimate: float, half: float = 0.01) -> dict:
    return {"models": [a, b], "loss_difference": interval(estimate, half)}


def test_compare_reading_decides_depth_families_and_apart_from_intervals():
    models = [model("LSTM", 1, 1.50), model("LSTM", 2, 1.40), model("GRU", 1, 1.52), model("GRU", 2, 1.53),
              model("RNN", 1, 1.80), model("RNN", 2, 1.70)]
    differences = [difference("lstm1", "lstm2", 0.10), difference("gru1", "gru2", -0.01, 0.02),
                   difference("rnn1", "rnn2", 0.10), difference("lstm1", "gru1", -0.02),
                   difference("lstm1", "rnn1", -0.30), difference("gru1", "rnn1", -0.28),
                   difference("lstm2", "gru2", -0.13), difference("rnn2", "lstm2", 0.30),
                   difference("rnn2", "gru2", 0.17)]
    result = {"models": models, "differences": differences, "text": {"source": "t", "chars": 5000},
              "apart": {"gated": ["lstm1", "lstm2", "gru1", "gru2"], "rnns": ["rnn1", "rnn2"], "ratio": 1.5,
                        "within": 0.90, "across": 0.80, "excess": interval(0.05, 0.01)}}
    reading = read_compare([result], context())
    depth, family, apart_ = reading.findings
    assert depth.verdict == "partly" and depth.ours.startswith("deeper is better in 2 of 3")
    assert "GRU 50K: 1.520 (1 layer) -> 1.530 (2 layers), gain -0.010 [-0.030, +0.010]" in depth.ours
    assert "gru1 -> gru2: the interval covers both directions" in depth.why
    assert depth.numbers["lstm1 - lstm2"]["low"] == pytest.approx(0.09)
    # 1 layer: leads +0.30 and +0.28, LSTM - GRU -0.02 [-0.03, -0.01] within the smaller lead's low end 0.27;
    # 2 layers: leads +0.30 and +0.17, LSTM - GRU -0.13 [-0.14, -0.12] within 0.16
    assert family.ours.startswith("holds in 2 of 2 depths and budgets: 1 layer 50K: LSTM 1.500, GRU 1.520, RNN "
                                  "1.800; lead over the RNN LSTM +0.300 [+0.290, +0.310], GRU +0.280")
    assert family.verdict == "holds"
    assert apart_.verdict == "holds"
    assert "among LSTMs and GRUs 0.900, between them and the RNNs 0.800: distance (1 - agreement) 0.200 against " \
           "0.100, 2.00 times" in apart_.ours
    assert reading.tables[0].rows[1] == ["LSTM 2", "1.400 [1.380, 1.420]"]

    result["differences"][-2] = difference("rnn2", "lstm2", 0.08)  # the LSTM - GRU gap (0.12 at least) beyond 0.09
    family = read_compare([result], context()).findings[1]
    assert family.verdict == "partly" and "2 layers 50K: LSTM and GRU lie further apart" in family.why


def test_the_rnns_a_tenth_further_away_do_not_lie_apart():
    """The issue's numbers: 0.759 among the gated models, 0.738 to the RNNs: 1.09 times as far, not apart."""
    excess = (1 - 0.738) - APART_RATIO * (1 - 0.759)
    result = {"models": [], "differences": [], "text": {}, "apart": {
        "gated": ["l", "g"], "rnns": ["r"], "ratio": APART_RATIO, "within": 0.759, "across": 0.738,
        "excess": interval(excess, 0.004, 319_621)}}
    (finding,) = [f for f in read_compare([result], context()).findings if "apart" in f.claim]
    assert finding.verdict == "differs" and "1.09 times" in finding.ours
    assert finding.why.startswith("the RNNs lie 1.09 times as far from the LSTMs and GRUs as these from each other, "
                                  "under the 1.5 the test asks; smaller models")


# --- with and without an effect, on synthetic per-position data ---------------------------------------------------

def correlated_losses(rng, shifts: list[float]) -> np.ndarray:
    """``(M, POSITIONS)`` losses sharing a difficulty, each model with noise held over runs of ``RUN`` positions."""
    difficulty = rng.gamma(2.0, 0.7, POSITIONS)
    runs = rng.normal(0, 0.3, (len(shifts), POSITIONS // RUN)).repeat(RUN, axis=1)
    return difficulty + np.array(shifts)[:, None] + runs + rng.normal(0, 0.3, (len(shifts), POSITIONS))


def correlated_choices(rng, copy: list[float]) -> np.ndarray:
    """``(M, POSITIONS)`` choices: each model copies a common character with its probability ``copy``, decided
    per run of ``RUN`` positions, else picks one at random."""
    common = rng.integers(0, CHARS, POSITIONS)
    copies = (rng.random((len(copy), POSITIONS // RUN)) < np.array(copy)[:, None]).repeat(RUN, axis=1)
    return np.where(copies, common, rng.integers(0, CHARS, (len(copy), POSITIONS)))


def synthetic_result(kinds: list[tuple[str, int]], losses: np.ndarray, choices: np.ndarray) -> dict:
    """The comparison's JSON from per-position losses and choices, through the analysis's own functions."""
    names = [f"{kind.lower()}{layers}" for kind, layers in kinds]
    models = [{"name": n, "type": kind, "layers": layers, "params": 50000, "budget": 50000, "label": f"{kind} {layers}",
               "column": "50K", "nats": float(loss.mean()), "std": 0.0, "interval": mean_interval(loss).to_dict()}
              for n, (kind, layers), loss in zip(names, kinds, losses)]
    differences = loss_differences(names, ["50K"] * len(names), losses)
    return Comparison("toy", {"source": "synthetic", "chars": POSITIONS + 1}, models, np.eye(len(names)), None, 0,
                      differences, apart(names, [k for k, _ in kinds], choices)).to_dict()


def holds(claim: str, kinds, shifts, copy) -> int:
    count = 0
    for seed in range(SEEDS):
        rng = np.random.default_rng(seed)
        result = synthetic_result(kinds, correlated_losses(rng, shifts), correlated_choices(rng, copy))
        count += next(f for f in read_compare([result], context()).findings if f.claim.startswith(claim)).verdict \
            == "holds"
    return count


def boundary_copy(gated: float) -> float:
    """The RNN's copy probability that puts it exactly ``APART_RATIO`` times as far as the gated models lie from
    each other: agreement is ``p_i p_j + (1 - p_i p_j) / CHARS``."""
    return (1 - APART_RATIO * (1 - gated ** 2)) / gated


DEPTH = [("LSTM", 1), ("LSTM", 2)]
FAMILIES = [("LSTM", 1), ("GRU", 1), ("RNN", 1)]


def test_depth_holds_rarely_when_deeper_is_no_better_and_nearly_always_when_it_is():
    assert holds("a depth", DEPTH, [0.0, 0.0], [0.9, 0.9]) <= SEEDS * 0.05
    assert holds("a depth", DEPTH, [0.0, -0.2], [0.9, 0.9]) >= SEEDS * 0.95


def test_families_hold_rarely_when_the_rnn_is_no_worse_and_nearly_always_when_it_is_far_behind():
    assert holds("LSTM and GRU", FAMILIES, [0.0, 0.0, 0.0], [0.9, 0.9, 0.9]) <= SEEDS * 0.05
    assert holds("LSTM and GRU", FAMILIES, [0.0, 0.0, 0.6], [0.9, 0.9, 0.9]) >= SEEDS * 0.95


def test_apart_holds_rarely_at_exactly_the_ratio_and_nearly_always_far_beyond_it():
    edge = boundary_copy(0.9)
    assert holds("the RNNs'", FAMILIES, [0.0, 0.0, 0.0], [0.9, 0.9, edge]) <= SEEDS * 0.05
    assert holds("the RNNs'", FAMILIES, [0.0, 0.0, 0.0], [0.9, 0.9, 0.9]) == 0  # no effect at all
    assert holds("the RNNs'", FAMILIES, [0.0, 0.0, 0.0], [0.9, 0.9, 0.5]) >= SEEDS * 0.95


def test_the_analysis_saves_the_same_differences_and_apart_as_its_functions():
    rng = np.random.default_rng(0)
    losses, choices = correlated_losses(rng, [0.0, 0.1, 0.3]), correlated_choices(rng, [0.9, 0.9, 0.5])
    distributions = [np.eye(CHARS, dtype=np.float32)[c] * 0.9 + 0.1 / CHARS for c in choices]
    text = {"source": "synthetic", "ids_sha256": "same", "chars": POSITIONS + 1}
    predictions = {f"m{k}": Predictions({"kind": "toy"}, text, -loss, d)
                   for k, (loss, d) in enumerate(zip(losses, distributions))}
    facts = {f"m{k}": {"type": kind, "layers": 1, "params": 100, "label": kind} for k, (kind, _) in enumerate(FAMILIES)}
    saved = compare_models(predictions, facts, "toy").to_dict()
    assert saved["differences"] == loss_differences(list(facts), ["100"] * 3, losses)
    assert saved["apart"] == apart(list(facts), ["LSTM", "GRU", "RNN"], choices)
    assert saved["models"][0]["interval"] == mean_interval(losses[0]).to_dict()
