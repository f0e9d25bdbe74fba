"""The reading of Figure 4 (right), the characters one model surely leads on: on a hand-made result, and on
synthetic predictions with no effect and with a clear one, through the analysis itself."""

from __future__ import annotations

import numpy as np

from rnnlens.analyses.char_advantage import char_advantage
from rnnlens.analyses.intervals import Interval
from rnnlens.data.corpus import Vocabulary
from rnnlens.data.texts import Text
from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import Context, read_advantage
from rnnlens.store.predictions import Predictions
from verdict_rates import SEEDS, holds_in


def context() -> Context:
    return Context("war-and-peace", paper_numbers(), {})


def character(char: str, label: str, count: int, a: float, b: float, low: float, high: float) -> dict:
    interval = Interval(a - b, low, high, count, "bootstrap over occurrences, 1000 resamples")
    return {"char": char, "label": label, "count": count, "mean_prob": {"lstm": a, "20-gram": b},
            "advantage": interval.to_dict()}


def hand_made(top_lstm: list[str], top_ngram: list[str]) -> dict:
    chars = [character("\n", "<nl>", 5000, .9, .7, .19, .21), character('"', '"', 400, .6, .5, .05, .15),
             character("T", "T", 63, .5, .2, .2, .4), character("e", "e", 9000, .3, .4, -.11, -.09),
             character(" ", "<sp>", 15000, .5, .6, -.12, -.08)]
    return {"models": ["lstm", "20-gram"], "top_rule": "characters seen at least 30 times whose ...",
            "characters": chars, "top": {"lstm": top_lstm, "20-gram": top_ngram}}


def test_the_reading_names_each_top_character_with_its_count_and_interval():
    reading = read_advantage([hand_made(["\n", "T", '"'], ["e"])], context())
    first, second = reading.tables
    assert first.header == ["char", "count", "lstm", "20-gram", "lstm - 20-gram"]
    assert first.rows[0] == ["<nl>", "5,000", "0.900", "0.700", "+0.200, 95% CI [+0.190, +0.210], 5,000 occurrences"]
    assert second.rows == [["e", "9,000", "0.400", "0.300", "+0.100, 95% CI [+0.090, +0.110], 9,000 occurrences"]]
    (finding,) = reading.findings
    assert finding.verdict == "holds" and finding.ours.startswith("2 of lstm's top 3: <nl> +0.200, 95% CI")
    assert set(finding.numbers) == {"lstm: <nl>", 'lstm: "'} and finding.numbers["lstm: <nl>"]["low"] == .19
    assert "holds when at least 2 of lstm's top need long context" in finding.test


def test_long_context_characters_on_the_other_side_differ_and_one_alone_cannot_say():
    (differs,) = read_advantage([hand_made(["T"], ["e", " ", "\n"])], context()).findings
    assert differs.verdict == "differs" and "20-gram surely leads on them" in differs.why
    assert "2 of 20-gram's top 3: <sp> +0.100, 95% CI [+0.080, +0.120]" in differs.ours
    (alone,) = read_advantage([hand_made(["T", "\n"], ["e"])], context()).findings
    assert alone.verdict == "cannot say" and "only 1 of lstm's and 0 of 20-gram's" in alone.why


VOCAB = Vocabulary('\n "()abcdefg')
LONG = np.array([VOCAB.chars.index(c) for c in '\n "()'])


def synthetic(seed: int, effect: float) -> dict:
    """3,000 positions of random characters (about 250 each); both models' probabilities uniform, A's raised by
    ``effect`` on the characters that need long context."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, len(VOCAB), 3001)
    text = Text(ids, f"synthetic {seed}")
    a, b = rng.uniform(0.05, 0.9, (2, 3000))
    a[np.isin(ids[1:], LONG)] += effect
    predictions = {name: Predictions({}, text.identity(), np.log(p)) for name, p in (("lstm", a), ("20-gram", b))}
    return char_advantage(predictions, text, VOCAB, resamples=300).to_dict()


def test_with_no_effect_the_long_context_finding_rarely_holds():
    assert holds_in(read_advantage, lambda seed: synthetic(seed, 0.0), context()) <= 0.05 * SEEDS


def test_with_a_clear_effect_the_long_context_finding_holds():
    assert holds_in(read_advantage, lambda seed: synthetic(seed, 0.1), context()) >= 0.95 * SEEDS
