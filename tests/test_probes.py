"""Probes with control tasks: scores recomputed by hand on planted units, the control task's draw, the command."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from rnnlens.analyses.probes import Task, control_task, read_characters, run_probes
from rnnlens.data.features import CHAR_CLASSES, FEATURES, char_class, compute_features
from rnnlens.models.trace import Trace
from in_process import refused, rnnlens
from test_trace import run_dir  # noqa: F401  (the fixture: a run directory with a random 2-layer LSTM)

TEXT = ('He said "yes (and no)" then\nleft. "Why?" she asked; 12 men (3 [of them] {odd}) ran.\n' * 40)


def trace_of(text: str, arrays: dict[str, np.ndarray], source: str) -> Trace:
    """A trace of ``text`` holding ``arrays`` ``(len(text) - 1, units)``, as an analysis receives one."""
    return Trace(arrays, text, {"model_description": "planted units", "gates": [],
                                "text": {"source": source, "ids_sha256": "", "chars": len(text)}})


def planted(text: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``quotes``: unit 3 is in_double_quotes plus noise; ``lines``: line position times 0.1 plus noise in
    unit 0 and noise in 4 others; ``chars``: a one-hot of the character just read (nothing else)."""
    rows = len(text) - 1
    values = compute_features(text, ["in_double_quotes", "line_position"])
    quotes = rng.normal(size=(rows, 6))
    quotes[:, 3] += 3 * values["in_double_quotes"][:rows]
    lines = rng.normal(size=(rows, 5))
    lines[:, 0] = 0.1 * values["line_position"][:rows] + rng.normal(scale=0.5, size=rows)
    chars = sorted(set(text))
    one_hot = np.eye(len(chars))[[chars.index(c) for c in text[:rows]]]
    return {"quotes": quotes, "lines": lines, "chars": one_hot}


@pytest.fixture(scope="module")
def probed():
    rng = np.random.default_rng(0)
    train_text, test_text = TEXT[:1700], TEXT[1700:3300]
    train, test = trace_of(train_text, planted(train_text, rng), "a"), trace_of(test_text, planted(test_text, rng), "b")
    features = {n: FEATURES[n] for n in ("in_double_quotes", "line_position", "after_space")}
    result = run_probes(train, test, ["quotes", "lines", "chars"], features)
    return train, test, {(s.key, s.feature): s for s in result.scores}, result


def test_a_planted_quote_unit_is_found_and_its_auc_is_the_hand_counted_one(probed):
    train, test, scores, _ = probed
    s = scores["quotes", "in_double_quotes"]
    assert s.metric == "AUC" and s.best_unit["unit"] == 3
    labels = compute_features(test.text, ["in_double_quotes"])["in_double_quotes"][:test.positions]
    unit = test["quotes"][:, 3]
    inside, outside = unit[labels == 1], unit[labels == 0]
    pairs = (inside[:, None] > outside[None, :]).mean() + 0.5 * (inside[:, None] == outside[None, :]).mean()
    assert s.best_unit["score"] == pytest.approx(pairs, abs=1e-12)  # a 1-unit logistic probe ranks as the unit
    assert s.score >= s.best_unit["score"] - 0.01 and s.score > 0.9
    assert s.best_unit["share"] == pytest.approx((s.best_unit["score"] - 0.5) / (s.score - 0.5))


def test_a_ridge_probe_scores_the_r2_of_a_least_squares_fit(probed):
    train, test, scores, _ = probed
    s = scores["lines", "line_position"]
    y_train, y_test = (compute_features(t.text, ["line_position"])["line_position"][:t.positions] for t in (train, test))
    design = np.column_stack([np.ones(train.positions), train["lines"]])
    coef = np.linalg.lstsq(design, y_train, rcond=None)[0]
    residual = y_test - np.column_stack([np.ones(test.positions), test["lines"]]) @ coef
    r2 = 1 - (residual ** 2).sum() / ((y_test - y_test.mean()) ** 2).sum()
    assert s.metric == "R2" and s.score == pytest.approx(r2, abs=2e-3)  # ridge alpha 1 on 1,700 rows: a hair off
    assert s.score > 0.8 and s.best_unit["unit"] == 0


def test_a_state_that_holds_only_the_character_read_has_no_selectivity(probed):
    _, _, scores, result = probed
    space = scores["chars", "after_space"]  # a function of the character: the control is as easy as the task
    assert space.score == pytest.approx(1.0) and space.control == pytest.approx(1.0) and space.selectivity == 0
    quotes = scores["chars", "in_double_quotes"]
    assert quotes.selectivity < -0.2  # characters predict random per-character labels better than quotes
    for s in result.scores:
        assert s.selectivity == pytest.approx(s.score - s.control)


def test_char_class_is_read_with_the_accuracy_of_a_hand_count(probed):
    _, test, scores, _ = probed
    s = scores["chars", "char_class"]
    assert s.metric == "accuracy" and s.score == 1.0  # the one-hot of the character determines its class
    classes = char_class(test.text)[:test.positions]
    train_classes = char_class(TEXT[:1700])[:1699]
    majority = np.bincount(train_classes).argmax()
    assert s.chance == pytest.approx(np.mean(classes == majority))


def test_the_control_task_gives_each_character_type_one_label_drawn_from_the_features():
    text = TEXT[:2000]
    chars = read_characters(trace_of(text, {}, "t"))
    labels = compute_features(text, ["in_double_quotes"])["in_double_quotes"][:len(chars)]
    task = Task("in_double_quotes", "binary", labels, labels)
    shares = []
    for seed in range(300):
        control = control_task(task, chars, chars, np.random.default_rng(seed))
        for c in np.unique(chars):
            assert len(np.unique(control.train[chars == c])) == 1  # one label per type
        shares.append(control.train[chars == ord("e")][0])
    assert np.mean(shares) == pytest.approx(labels.mean(), abs=0.08)  # drawn with the feature's share of 1s


@pytest.mark.parametrize("text, expected", [
    ("(a[b{c}])x)", [1, 1, 2, 2, 3, 3, 2, 1, 0, 0, 0]),
])
def test_nesting_depth_counts_every_kind_of_bracket(text, expected):
    assert compute_features(text, ["nesting_depth"])["nesting_depth"].tolist() == expected


def test_char_class_by_hand():
    assert [CHAR_CLASSES[c] for c in char_class("aZ7 \n,\x01")] == [
        "lowercase", "uppercase", "digit", "space", "newline", "punctuation", "other"]


def test_probe_command_prints_the_contract_and_saves_the_same(run_dir, tmp_path):  # noqa: F811
    run, _ = run_dir
    out = tmp_path / "probes"
    ran = rnnlens("probe", run, "--train-split", "train", "--split", "val", "--train-limit", 3000, "--keys", "hidden",
                  "--features", "in_double_quotes", "word_position", "char_class", "--json", "--out", out)
    assert ran.code == 0, ran.err
    printed = json.loads(ran.out)
    assert printed == json.loads((out / "probes.json").read_text())
    assert {(p["key"], p["feature"]) for p in printed["probes"]} == {
        (f"layer{k}.hidden", f) for k in (1, 2) for f in ("in_double_quotes", "word_position", "char_class")}
    for p in printed["probes"]:
        assert {"feature", "key", "metric", "score", "control", "selectivity", "best_unit"} <= set(p)
        assert p["selectivity"] == pytest.approx(p["score"] - p["control"])
        assert {"unit", "score"} <= set(p["best_unit"]) and 0 <= p["best_unit"]["unit"] < 16
    assert (out / "probes.png").stat().st_size > 0 and (out / "probes.csv").is_file()


@pytest.mark.parametrize("args, pattern", [
    (["--keys", "layer9.cell"], "no layer9.cell"),
    (["--features", "no_such_feature"], "unknown feature.*no_such_feature"),
])
def test_probe_refuses_what_it_cannot_probe_and_writes_nothing(run_dir, tmp_path, args, pattern):  # noqa: F811
    run, _ = run_dir
    refused(rnnlens("probe", run, *args, "--out", tmp_path / "out"), "probe", pattern)
    assert not (tmp_path / "out").exists()
