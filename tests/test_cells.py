"""Interpretable cells: text features by hand, scoring against planted cells, pictures, the command."""

import json
import time

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from rnnlens.analyses.interpretable_cells import find_interpretable_cells, pearson, representative_window, roc_auc
from rnnlens.render.cell_pictures import CellPicture, render_html, value_colors
from rnnlens.cli import main
from rnnlens.errors import RnnlensError
from rnnlens.data.features import FEATURES, compute_features, register_feature
from rnnlens.models.trace import Trace
from test_trace import run_dir  # noqa: F401  (the fixture: a run directory with a random 2-layer LSTM)


def feature(name, text):
    return compute_features(text, [name])[name].tolist()


@pytest.mark.parametrize("name, text, expected", [
    ("line_position", "ab\ncd\n\ne", [0, 1, 2, 0, 1, 2, 0, 0]),
    ("in_double_quotes", 'a"bc"d', [0, 1, 1, 1, 0, 0]),
    ("in_double_quotes", 'a "b\n\n"c" d', [0, 0, 1, 1, 1, 0, 1, 1, 0, 0, 0]),  # a blank line closes a quotation
    ("paren_depth", "(a(b))c)(", [1, 1, 2, 2, 1, 0, 0, 0, 1]),  # an unmatched ) stays at 0
    ("in_parentheses", "(a(b))c)(", [1, 1, 1, 1, 1, 0, 0, 0, 1]),
    ("bracket_depth", "x[[y]]", [0, 1, 2, 2, 1, 0]),
    ("brace_depth", "{a{}}", [1, 1, 2, 1, 0]),
    ("in_braces", "{a}b", [1, 1, 0, 0]),
    ("indentation", "x\n\t  y\n    z\n", [0, 0] + [10] * 5 + [4] * 6),
    ("in_c_comment", 'a/* "x" */b // c\nd', [0] + [1] * 9 + [0, 0] + [1] * 4 + [0, 0]),
    ("in_string_literal", 'a/* "x" */b // c\nd', [0] * 18),  # quotes inside a comment are no string
    ("in_string_literal", "s = \"a/*b\"; '\"' t", [0] * 4 + [1] * 6 + [0] * 7),  # '"' is a char literal
    ("in_c_comment", "s = \"a/*b\"; '\"' t", [0] * 17),  # /* inside a string opens no comment
    ("word_position", "ab c_1.", [1, 2, 0, 1, 2, 3, 0]),
    ("after_space", "a b\n", [0, 1, 0, 0]),
    ("after_newline", "a b\n", [0, 0, 0, 1]),
])
def test_features_on_hand_written_snippets(name, text, expected):
    assert feature(name, text) == expected


def test_every_feature_takes_seconds_on_300k_characters(war_and_peace):
    text = war_and_peace[:300_000]
    start = time.perf_counter()
    values = compute_features(text)
    assert time.perf_counter() - start < 5
    assert all(v.shape == (300_000,) for v in values.values())
    assert 0.2 < values["in_double_quotes"].mean() < 0.4  # a third of the novel is dialogue


def test_a_user_feature_is_registered_and_checked():
    @register_feature("test_after_period", "binary", "a full stop")
    def after_period(text):
        return np.array([c == "." for c in text])

    try:
        assert feature("test_after_period", "a.b.") == [0, 1, 0, 1]
        register_feature("test_bad", "numeric")(lambda text: np.zeros(3))
        with pytest.raises(RnnlensError, match="one value per character"):
            compute_features("abcd", ["test_bad"])
    finally:
        FEATURES.pop("test_after_period", None)
        FEATURES.pop("test_bad", None)


def test_auc_and_correlation_match_the_reference_implementations():
    rng = np.random.default_rng(0)
    values = np.round(rng.normal(size=(500, 4)), 1)  # rounding makes ties
    labels = rng.integers(0, 2, 500)
    values[:, 2] += 2 * labels
    expected = [roc_auc_score(labels, values[:, u]) for u in range(4)]
    assert np.allclose(roc_auc(values, labels), expected, atol=1e-12)
    numeric = rng.normal(size=500) + values[:, 1]
    assert np.allclose(pearson(values, numeric), [np.corrcoef(values[:, u], numeric)[0, 1] for u in range(4)])
    assert np.isnan(pearson(values, np.ones(500))).all()
    saturated = np.full((500, 1), 0.999999, np.float32)  # a unit stuck at one value
    assert np.isnan(pearson(saturated, numeric)).all() and (roc_auc(saturated, labels) == 0.5).all()
    assert np.isnan(roc_auc(values, np.zeros(500))).all()


def test_the_ranking_finds_planted_cells(war_and_peace):
    text = war_and_peace[20_000:40_000]
    positions = len(text) - 1
    features = compute_features(text)
    rng = np.random.default_rng(1)
    layers = {k: np.tanh(rng.normal(0, 0.5, (positions, 12))).astype(np.float32) for k in (1, 2)}
    layers[2][:, 7] = np.tanh(features["line_position"][:positions] / 30) + rng.normal(0, 0.1, positions)
    layers[1][:, 3] = -0.8 * features["in_double_quotes"][:positions] + rng.normal(0, 0.2, positions)
    trace = Trace({"layer1.hidden": layers[1], "layer2.hidden": layers[2]}, text,
                  {"model": {"model_type": "gru", "num_layers": 2, "hidden_size": 12}})

    result = find_interpretable_cells(trace, window=300)
    best = {m.feature: m for m in result.best}
    assert (best["line_position"].layer, best["line_position"].unit) == (2, 7)
    assert best["line_position"].score > 0.85 and best["line_position"].direction.startswith("rises")
    assert (best["in_double_quotes"].layer, best["in_double_quotes"].unit) == (1, 3)
    assert best["in_double_quotes"].score > 0.95 and best["in_double_quotes"].direction == "lower inside"
    assert best["after_space"].score < 0.6  # nothing was planted for it: chance level
    assert "brace_depth" not in best and "brace_depth" in result.summary()  # constant in prose: reported, not scored
    assert result.scores["line_position"].shape == (2, 12)
    quotes = result.pictures[list(best).index("in_double_quotes")]
    assert len(quotes.text) == 300 and '"' in quotes.text


def test_the_representative_window_is_where_the_feature_varies():
    values = np.zeros(1000)
    values[600:700:2] = 1
    assert representative_window(values, np.arange(0, 1000, 50), 100) == (600, 700)  # half of it is on
    assert representative_window(values, np.arange(0, 1000, 50), 5000) == (0, 1000)


def test_cell_pictures_are_escaped_coloured_html_with_visible_layout():
    assert np.allclose(value_colors(np.array([0.0]))[0], 1)  # white at 0
    red, blue = value_colors(np.array([-1.0, 1.0]))
    assert red[0] > red[2] and blue[2] > blue[0]  # red at -1, blue at +1
    assert np.allclose(value_colors(np.array([-5.0, 5.0])), [red, blue])  # clipped
    page = render_html([CellPicture("a<b&\n\tc d", np.array([-1, 0, 1, 0.5, 0, -0.5, 0, 1, 0.2]),
                                    "layer 2 unit 7 tanh_cell")], "model X")
    assert "a</span>" in page and "&lt;" in page and "&amp;" in page and "<b&" not in page
    assert "\u21b5</i></span>\n" in page and "\u2192" in page  # newline marked and broken, tab marked
    assert page.count('<span style="background:#ffffff"') == 3 + 1  # three zeros, plus 0.0 in the scale
    assert "layer 2 unit 7 tanh_cell" in page and "model X" in page


def test_cells_command_writes_tables_and_pictures_and_takes_user_features(run_dir, tmp_path, capsys):  # noqa: F811
    out, _ = run_dir
    plugin = tmp_path / "mine.py"
    plugin.write_text("import numpy as np\nfrom rnnlens.data.features import register_feature\n"
                      "@register_feature('test_capital', 'binary', 'an upper-case letter')\n"
                      "def capital(text):\n    return np.array([c.isupper() for c in text])\n")
    try:
        assert main(["cells", str(out), "--split", "train", "--feature-file", str(plugin), "--json",
                     "--trace", str(tmp_path / "tr"), "--out", str(tmp_path / "cells")]) == 0
    finally:
        FEATURES.pop("test_capital", None)
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["quantity"] == "tanh_cell"
    named = {m["feature"] for m in result["best"]}
    assert {"line_position", "in_double_quotes", "test_capital"} <= named
    assert all(0.5 <= m["score"] <= 1 if m["kind"] == "binary" else 0 <= m["score"] <= 1 for m in result["best"])
    for name in ("cells.json", "best_cells.csv", "scores.csv", "cells.html", "cells.png"):
        assert (tmp_path / "cells" / name).stat().st_size > 0
    assert len((tmp_path / "cells" / "scores.csv").read_text().splitlines()) == 1 + len(result["features"]) * 2 * 16
    assert "trace" in captured.err and "written" in captured.err

    assert main(["cells", str(tmp_path / "tr"), "--quantity", "hidden", "--out", str(tmp_path / "c2")]) == 0
    assert "line_position" in capsys.readouterr().out
    assert main(["saturation", str(out), "--split", "train", "--trace", str(tmp_path / "tr"),
                 "--out", str(tmp_path / "sat")]) == 0
    assert f"trace {tmp_path / 'tr'} reused" in capsys.readouterr().err  # the kept trace serves both analyses
    assert main(["cells", str(tmp_path / "tr"), "--quantity", "nonsense", "--out", str(tmp_path / "c3")]) == 1
    assert "no 'layer1.nonsense'" in capsys.readouterr().err


def test_a_model_trained_on_hard_wrapped_text_grows_a_line_position_cell(tmp_path, capsys):
    # the paper's line-length cell, end to end: train, trace, rank. Random words wrapped at 30
    # columns make the newline predictable only by counting; 30 epochs (13 s idle) gave |r| 0.781.
    rng = np.random.default_rng(1)
    words = ["".join(rng.choice(list("abcdefghij"), size=rng.integers(2, 8))) for _ in range(300)]
    lines, line, length = [], "", 0
    while length < 200_000:
        word = words[rng.integers(len(words))]
        if len(line) + 1 + len(word) > 30:
            lines.append(line)
            length += len(line) + 1
            line = word
        else:
            line = f"{line} {word}" if line else word
    text = tmp_path / "wrapped.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "--text", str(text), "--model", "lstm", "--layers", "1", "--hidden", "32",
                 "--epochs", "30", "--patience", "0", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["cells", str(run), "--split", "test", "--features", "line_position", "in_double_quotes",
                 "--json", "--out", str(tmp_path / "cells")]) == 0
    best = {m["feature"]: m for m in json.loads(capsys.readouterr().out)["best"]}
    assert best["line_position"]["score"] >= 0.6
    assert "in_double_quotes" not in best  # no quotes in this text: constant, not scored
