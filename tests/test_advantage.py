"""Per-character advantage: means on a hand-computed text, the top lists, the figure, the command end to end."""

import json
from collections import Counter

import numpy as np
import pytest

from rnnlens.analyses.char_advantage import char_advantage
from rnnlens.cli import main
from rnnlens.data.corpus import Vocabulary, load_text_corpus
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError
from rnnlens.models.registry import load_predictor
from rnnlens.store.predictions import Predictions
from test_overlap import ngram_runs  # noqa: F401  (the fixture: n-gram runs of orders 1, 2, 3 on a small text)

VOCAB = Vocabulary("\nabc")  # "c" never occurs: it must not be reported
TEXT = Text(VOCAB.encode("abba\nab"), "hand-made")  # targets: b b a \n a b
PROBS = {"A": [0.5, 0.7, 0.2, 0.9, 0.4, 0.6], "B": [0.1, 0.1, 0.8, 0.3, 0.5, 0.5]}


def hand_made(**kwargs):
    predictions = {n: Predictions({}, TEXT.identity(), np.log(np.array(p))) for n, p in PROBS.items()}
    return char_advantage(predictions, TEXT, VOCAB, **kwargs)


def test_means_per_target_character_are_the_hand_computed_ones():
    result = hand_made().to_dict()
    assert result["models"] == ["A", "B"]
    rows = {c["char"]: c for c in result["characters"]}
    assert list(rows) == ["\n", "a", "b"]  # vocabulary order, only characters that occur as targets
    assert {c: r["count"] for c, r in rows.items()} == {"\n": 1, "a": 2, "b": 3}
    assert rows["b"]["mean_prob"] == pytest.approx({"A": 0.6, "B": 0.7 / 3})
    assert rows["a"]["mean_prob"] == pytest.approx({"A": 0.3, "B": 0.65})
    assert rows["\n"]["mean_prob"] == pytest.approx({"A": 0.9, "B": 0.3})
    assert rows["\n"]["label"] == "<nl>"
    assert result["top"] == {"A": ["\n", "b"], "B": ["a"]}  # largest lead first, only where it leads


def test_top_keeps_the_largest_leads_of_characters_seen_often_enough():
    assert hand_made(top=1).to_dict()["top"] == {"A": ["\n"], "B": ["a"]}
    assert hand_made(min_count=2).to_dict()["top"] == {"A": ["b"], "B": ["a"]}
    assert hand_made(min_count=3).to_dict()["top"] == {"A": ["b"], "B": []}
    assert "(none)" in hand_made(min_count=3).summary()


def test_the_figure_has_a_panel_each_way_with_readable_labels():
    left, right = hand_made().plot().get_axes()
    assert [t.get_text() for t in left.get_xticklabels()] == ["<nl>\nn=1", "b\nn=3"]
    assert [t.get_text() for t in right.get_xticklabels()] == ["a\nn=2"]
    heights = [round(b.get_height(), 6) for b in left.patches]
    assert heights == [0.9, 0.6, 0.3, round(0.7 / 3, 6)]  # A's bars, then B's


def test_other_than_two_models_and_predictions_of_another_text_are_refused():
    one = {"A": Predictions({}, TEXT.identity(), np.log(np.array(PROBS["A"])))}
    with pytest.raises(RnnlensError, match="exactly two"):
        char_advantage(one, TEXT, VOCAB)
    predictions = {n: Predictions({}, TEXT.identity(), np.log(np.array(p))) for n, p in PROBS.items()}
    other = Text(VOCAB.encode("abbaab\n"), "another")
    with pytest.raises(RnnlensError, match="not of another"):
        char_advantage(predictions, other, VOCAB)


def test_advantage_command_means_are_those_of_the_models(ngram_runs, tmp_path, capsys):  # noqa: F811
    text, runs = ngram_runs
    out = tmp_path / "adv"
    assert main(["advantage", str(runs[2]), str(runs[1]), "--out", str(out), "--json", "--top", "3"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((out / "advantage.json").read_text())
    assert {p.name for p in out.iterdir()} >= {"advantage.json", "advantage.csv", "advantage.png", "advantage.svg"}
    corpus = load_text_corpus(text)
    targets = corpus.split_text("test")[1:]
    ids = corpus.split_ids("test")
    probs = {name: np.exp(load_predictor(r).predict_log_probs(ids)) for name, r in zip(("g3", "g2"), runs[:0:-1])}
    assert printed["models"] == ["g3", "g2"]
    assert {c["char"]: c["count"] for c in printed["characters"]} == Counter(targets)
    for row in printed["characters"]:
        where = np.array([t == row["char"] for t in targets])
        assert row["mean_prob"] == pytest.approx({n: p[where].mean() for n, p in probs.items()})
    leads = {c["char"]: c["mean_prob"]["g3"] - c["mean_prob"]["g2"] for c in printed["characters"]}
    assert printed["top"]["g2"] == [c for c in sorted(leads, key=leads.get) if leads[c] < 0][:3]
    assert printed["top"]["g3"] == [c for c in sorted(leads, key=leads.get, reverse=True) if leads[c] > 0][:3]
    assert len((out / "advantage.csv").read_text().splitlines()) == len(printed["characters"]) + 1

    assert main(["advantage", str(runs[1]), str(runs[2]), "--names", "bi", "tri", "--out", str(out)]) == 0
    assert "bi over tri: top 10" in capsys.readouterr().out


def test_advantage_command_refuses_three_models_and_a_bad_top(ngram_runs, tmp_path, capsys):  # noqa: F811
    _, runs = ngram_runs
    out = tmp_path / "adv"
    assert main(["advantage", *map(str, runs), "--out", str(out)]) == 1
    assert "exactly two" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["advantage", *map(str, runs[:2]), "--top", "0", "--out", str(out)])
    assert exit_info.value.code == 2
    assert not out.exists()
