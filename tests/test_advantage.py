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
    assert rows["b"]["advantage"]["estimate"] == pytest.approx(0.6 - 0.7 / 3) and rows["b"]["advantage"]["count"] == 3
    # resampling b's three differences (+0.4, +0.6, +0.1) can never give a mean below the least or above the most
    assert 0.1 - 1e-12 <= rows["b"]["advantage"]["low"] < rows["b"]["advantage"]["high"] <= 0.6 + 1e-12
    assert rows["\n"]["advantage"]["low"] is None  # one occurrence: no interval (null in strict JSON)
    assert result["min_count"] == 30 and result["top"] == {"A": [], "B": []}  # none seen 30 times


def test_the_loss_difference_is_the_paired_mean_over_positions_with_its_interval():
    loss = hand_made().to_dict()["loss_difference"]
    a, b = np.log(PROBS["A"]), np.log(PROBS["B"])
    assert loss["estimate"] == pytest.approx(np.mean(b - a)) and loss["count"] == 6
    assert loss["estimate"] == pytest.approx(-0.5378, abs=1e-4)  # A predicts better: negative
    assert loss["method"].startswith("paired bootstrap over positions")


# each target seen 40 times (the newline 10): b leads by 0.4 on average but spread 0 or 0.8, c by exactly 0.3
BIG_VOCAB = Vocabulary("\nabc")
BIG_TARGETS = "b" * 40 + "c" * 40 + "a" * 40 + "\n" * 10
BIG_PROBS = {"A": [0.9 if k % 2 else 0.1 for k in range(40)] + [0.6] * 40 + [0.2] * 40 + [0.99] * 10,
             "B": [0.1] * 40 + [0.3] * 40 + [0.5] * 40 + [0.01] * 10}


def big(**kwargs):
    text = Text(BIG_VOCAB.encode("a" + BIG_TARGETS), "hand-made, 130 targets")
    predictions = {n: Predictions({}, text.identity(), np.log(np.array(p))) for n, p in BIG_PROBS.items()}
    return char_advantage(predictions, text, BIG_VOCAB, **kwargs)


def test_top_ranks_by_the_sure_lead_and_leaves_out_characters_seen_under_30_times():
    result = big()
    rows = {c["char"]: c for c in result.to_dict()["characters"]}
    assert rows["b"]["advantage"]["estimate"] == pytest.approx(0.4) and rows["c"]["advantage"]["low"] == pytest.approx(0.3)
    assert rows["b"]["advantage"]["low"] < 0.3  # the larger but spread lead is less sure
    assert result.to_dict()["top"] == {"A": ["c", "b"], "B": ["a"]}  # the newline (+0.98, 10 times) left out
    assert big(top=1).to_dict()["top"] == {"A": ["c"], "B": ["a"]}
    assert big(min_count=41).to_dict()["top"] == {"A": [], "B": []}
    assert big(min_count=5).to_dict()["min_count"] == 30  # never below 30
    assert "(none)" in big(min_count=41).summary()
    assert "  c                40     0.6000     0.3000  +0.3000  [+0.3000, +0.3000]" in result.summary()


def test_the_figure_has_a_panel_each_way_with_readable_labels():
    left, right = big().plot().get_axes()
    assert [t.get_text() for t in left.get_xticklabels()] == ["c\nn=40", "b\nn=40"]
    assert [t.get_text() for t in right.get_xticklabels()] == ["a\nn=40"]
    heights = [round(b.get_height(), 6) for b in left.patches]
    assert heights == [0.6, 0.5, 0.3, 0.1]  # A's bars, then B's
    assert left.get_title() == "where A beats B\n(top 2)" and right.get_title() == "where B beats A\n(top 1)"


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
        assert row["advantage"]["estimate"] == pytest.approx(probs["g3"][where].mean() - probs["g2"][where].mean())
    sure = {c["char"]: (c["advantage"]["low"], -c["advantage"]["high"]) for c in printed["characters"]
            if c["count"] >= 30}
    for k, name in enumerate(("g3", "g2")):
        ranked = sorted((c for c in sure if sure[c][k] > 0), key=lambda c: sure[c][k], reverse=True)[:3]
        assert printed["top"][name] == ranked
    assert printed["top"]["g3"]  # the 3-gram surely leads on some characters
    losses = -np.log(np.stack(list(probs.values())))
    assert printed["loss_difference"]["estimate"] == pytest.approx(np.mean(losses[0] - losses[1]))
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
