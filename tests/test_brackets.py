"""Closing-bracket distance: matching on hand-made texts, buckets, means against a direct count, the command."""

import json
import re

import numpy as np
import pytest

from rnnlens.analyses.bracket_distance import (bracket_distance, bucket_bounds, bucket_index, check_buckets,
                                               match_pairs, model_reach, reach_from_name)
from rnnlens.cli import main
from rnnlens.errors import RnnlensError
from rnnlens.models.registry import load_predictor
from rnnlens.store.predictions import Predictions


def pairs(matches) -> list[tuple[int, int]]:
    return sorted(zip(matches.openers.tolist(), matches.closers.tolist()))


def test_nested_braces_match_innermost_first_and_count_what_is_left():
    #       0123456789012
    text = "a{b{c}d}e}{x{"
    m = match_pairs(text)
    assert pairs(m) == [(1, 7), (3, 5)]
    assert sorted(m.distances.tolist()) == [2, 6]
    assert (m.unmatched_closers, m.unclosed_openers, m.unmatched) == (1, 2, 3)


def test_each_pair_matches_only_its_own_characters():
    text = "f(a[0], {b(1)}) ]"
    assert pairs(match_pairs(text, "()")) == [(1, 14), (10, 12)]
    bracket = match_pairs(text, "[]")
    assert pairs(bracket) == [(3, 5)] and bracket.unmatched_closers == 1
    assert pairs(match_pairs(text, "{}")) == [(8, 13)]
    with pytest.raises(RnnlensError, match="unknown pair"):
        match_pairs(text, "<>")


def test_straight_quotes_alternate_and_a_blank_line_ends_an_open_one():
    #       0123456789
    text = 'x"ab"c"d"e"'
    m = match_pairs(text, '"')
    assert pairs(m) == [(1, 4), (6, 8)] and (m.unmatched_closers, m.unclosed_openers) == (0, 1)
    # a quotation running into a blank line is left open there; the next paragraph's quotes pair up
    text = '"Go on\n\n"Yes," he said.'
    m = match_pairs(text, '"')
    assert pairs(m) == [(8, 13)] and m.unclosed_openers == 1


C_TEXT = ('int f(void) {\n'
          '\t/* } a brace in a comment { */\n'
          '\ts = "}"; c = \'{\'; // {\n'
          '\tg("src/*.py");\n'
          '}\n')


def test_code_literals_hide_their_brackets_only_with_the_option():
    opening, closing = C_TEXT.index("{"), C_TEXT.rindex("}")
    plain = match_pairs(C_TEXT)
    # without the option the comment's "}" closes the function's "{", the string's "}" the comment's "{", and the
    # function's "}" the "{" of the // comment, leaving the character literal's "{" open
    assert pairs(plain) == [(opening, C_TEXT.index("}")), (C_TEXT.index("{ */"), C_TEXT.index('}"')),
                            (C_TEXT.index("{\n\tg"), closing)]
    assert (plain.unmatched_closers, plain.unclosed_openers) == (0, 1)
    skipped = match_pairs(C_TEXT, skip_code_literals=True)
    assert pairs(skipped) == [(opening, closing)] and skipped.unmatched == 0
    # "src/*.py" inside double quotes is a string, not a comment hiding the closing brace
    assert skipped.distances.tolist() == [closing - opening]


def test_quotes_with_the_option_are_the_string_literals():
    text = 'a = "x\\"y"; /* " */ c = \'"\'; b = "z'
    literal = text.index('"'), text.index('";')
    m = match_pairs(text, '"', skip_code_literals=True)
    assert pairs(m) == [literal] and m.unclosed_openers == 1  # "z runs to the end of the text
    plain = match_pairs(text, '"')
    assert len(plain.closers) == 3 and pairs(plain)[0] == (literal[0], text.index('\\"') + 1)


def test_single_quoted_globs_open_a_comment_for_the_lexer_a_known_limitation():
    # 'src/*.py' is no character literal (more than 4 characters), so the lexer reads /* as a comment
    text = "glob('src/*.py') {x}\n"
    assert match_pairs(text).distances.tolist() == [2]
    assert len(match_pairs(text, skip_code_literals=True).closers) == 0


def test_buckets_hold_distances_bin_wide_with_one_open_ended_last_one():
    assert bucket_bounds(20, 60) == [(1, 20), (21, 40), (41, 60), (61, None)]
    assert bucket_index(np.array([1, 20, 21, 40, 41, 60, 61, 5000]), 20, 60).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert check_buckets(20, None) == 200 and check_buckets(5, 15) == 15
    with pytest.raises(RnnlensError, match="not a multiple of the bin width 20"):
        check_buckets(20, 50)


def innermost_pairs(text: str) -> list[tuple[int, int]]:
    """Brace pairs found another way: strike out innermost {...} (no brace inside) until none is left."""
    chars, found = list(text), []
    while True:
        hits = list(re.finditer(r"\{[^{}]*\}", "".join(chars)))
        if not hits:
            return sorted(found)
        for hit in hits:
            found.append((hit.start(), hit.end() - 1))
            chars[hit.start()] = chars[hit.end() - 1] = "."


def synthetic(length: int, seed: int) -> tuple[str, dict[str, Predictions]]:
    rng = np.random.default_rng(seed)
    text = "".join(rng.choice(list("{}ab"), size=length, p=[0.06, 0.06, 0.44, 0.44]))
    identity = {"source": "synthetic", "ids_sha256": "0" * 64, "chars": length}
    predictions = {name: Predictions({}, identity, np.log(rng.uniform(0.01, 1.0, length - 1)))
                   for name in ("A", "B")}
    return text, predictions


def test_bucket_means_equal_a_direct_computation_on_synthetic_predictions():
    text, predictions = synthetic(3000, seed=1)
    result = bracket_distance(predictions, text, "{}", bin=10, max_distance=50)
    found = innermost_pairs(text)
    assert pairs(result.matches) == found and len(found) > 100
    expected = {k: {"A": [], "B": []} for k in range(6)}
    for opening, closing in found:
        k = min((closing - opening - 1) // 10, 5)
        for name in ("A", "B"):
            expected[k][name].append(np.exp(predictions[name].log_probs[closing - 1]))  # predicts char `closing`
    record = result.to_dict()
    assert record["matched"] == len(found)
    assert record["unmatched"] == text.count("}") - len(found) + text.count("{") - len(found)
    assert [(b["lo"], b["hi"]) for b in record["buckets"]] == [(1, 10), (11, 20), (21, 30), (31, 40), (41, 50),
                                                               (51, None)]
    for k, bucket in enumerate(record["buckets"]):
        assert bucket["count"] == len(expected[k]["A"]) > 0
        for name in ("A", "B"):
            assert bucket["mean_prob"][name] == pytest.approx(np.mean(expected[k][name]), rel=1e-12)
        lead = bucket["lead"]["B"]  # A minus B over the same closers
        assert lead["estimate"] == pytest.approx(np.mean(expected[k]["A"]) - np.mean(expected[k]["B"]), rel=1e-9)
        assert lead["low"] < lead["estimate"] < lead["high"] and lead["count"] == bucket["count"]
        assert "A" not in bucket["lead"] and bucket["interval"]["A"]["estimate"] == bucket["mean_prob"]["A"]
    assert "A-B" in result.summary() and "A - B: slope " in result.summary()


def test_the_trend_is_one_slope_over_buckets_of_30_closers_and_the_lead_beyond_the_context():
    text, predictions = synthetic(3000, seed=1)
    result = bracket_distance(predictions, text, "{}", bin=10, max_distance=50, contexts={"B": 15})
    distances = result.matches.distances
    lead = np.exp(predictions["A"].log_probs[result.matches.closers - 1]) - np.exp(predictions["B"].log_probs[result.matches.closers - 1])
    bucket = np.minimum((distances - 1) // 10, 5)
    counts = np.bincount(bucket)
    assert counts.min() < 30 <= counts.max()  # some buckets decide, some do not
    kept = counts[bucket] >= 30
    trend = result.to_dict()["trend"]["B"]
    assert trend["slope"]["estimate"] == pytest.approx(np.polyfit(bucket[kept] * 10 + 5.5, lead[kept], 1)[0])
    assert trend["slope"]["count"] == kept.sum()
    assert trend["beyond"]["estimate"] == pytest.approx(lead[distances > 15].mean())
    assert trend["beyond"]["count"] == (distances > 15).sum()
    assert (trend["reach"], trend["reach_from"]) == (15, "given")


def test_a_models_context_is_given_read_from_its_name_or_assumed_20():
    assert [reach_from_name(n) for n in ("ngram-20", "nnn-3", "4-NN", "21-gram", "best-lstm")] == [20, 3, 4, 20, None]
    assert model_reach("ngram-20", {"ngram-20": 7}) == (7, "given")
    assert model_reach("ngram-5", {}) == (5, "from its name")
    reach, said = model_reach("four", {})
    assert reach == 20 and said.startswith("assumed")


def test_empty_buckets_are_reported_with_no_mean_and_the_figure_is_drawn():
    text = "{a}" + "b" * 40 + "{" + "c" * 35 + "}"  # distances 2 and 36
    identity = {"source": "hand", "ids_sha256": "1" * 64, "chars": len(text)}
    log_probs = np.log(np.full(len(text) - 1, 0.25))
    log_probs[1] = np.log(0.5)  # the prediction of the "}" at position 2
    result = bracket_distance({"only": Predictions({}, identity, log_probs)}, text, bin=10, max_distance=40)
    buckets = result.to_dict()["buckets"]
    assert [b["count"] for b in buckets] == [1, 0, 0, 1, 0]
    assert buckets[0]["mean_prob"] == {"only": 0.5} and buckets[3]["mean_prob"] == {"only": 0.25}
    assert buckets[1]["mean_prob"] == {"only": None} and "lead" not in buckets[0]
    assert len(result.plot().get_axes()) == 2  # one model: probabilities and counts, no difference panel
    with pytest.raises(RnnlensError, match="characters given"):
        bracket_distance({"only": Predictions({}, identity, log_probs)}, text[:-1])


# --- the command, end to end on two tiny n-gram models --------------------------------------

@pytest.fixture(scope="module")
def ngrams(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("brackets")
    corpus = root / "kernel.c"
    corpus.write_text((data_dir / "linux_kernel.txt").read_text(encoding="utf-8")[:60_000], encoding="utf-8")
    for order in (2, 4):
        assert main(["ngram", "--text", str(corpus), "--order", str(order), "--out", str(root / f"ng{order}"),
                     "--quiet"]) == 0
    return root


def test_command_writes_what_json_prints_and_means_match_the_models(ngrams, tmp_path, capsys):
    text_file = tmp_path / "probe.c"
    text_file.write_text(C_TEXT * 3 + "int x[2] = { 1, 2 };\n", encoding="utf-8")
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["brackets", str(ngrams / "ng2"), str(ngrams / "ng4"), "--text", str(text_file), "--out", str(out),
                 "--bin", "10", "--skip-code-literals", "--names", "two", "four", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((out / "brackets.json").read_text())
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["brackets.csv", "brackets.json", "brackets.png", "brackets.svg"]
    text = text_file.read_text()
    closers = [C_TEXT.rindex("}") + k * len(C_TEXT) for k in range(3)] + [text.rindex("}")]  # the functions', { 1, 2 }
    assert printed["matched"] == 4 and printed["unmatched"] == 0 and printed["models"] == ["two", "four"]
    predictor = load_predictor(ngrams / "ng4")
    probs = np.exp(predictor.predict_log_probs(predictor.vocab.encode(text)))
    short = [b for b in printed["buckets"] if b["hi"] == 10][0]  # "{ 1, 2 }": distance 7
    assert short["count"] == 1 and short["mean_prob"]["four"] == pytest.approx(probs[closers[-1] - 1])
    far = [b for b in printed["buckets"] if b["count"] == 3][0]
    assert far["mean_prob"]["four"] == pytest.approx(np.mean(probs[np.array(closers[:3]) - 1]))
    rows = (out / "brackets.csv").read_text().splitlines()
    assert rows[0] == "lo,hi,count,model,mean_prob,ci_low,ci_high" and len(rows) == 1 + 2 * len(printed["buckets"])
    assert (out / "brackets.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("flags, message", [(["--pair", "<>"], "invalid choice"), (["--bin", "0"], "out of range"),
                                            (["--bin", "x"], "not a whole number")])
def test_bad_pair_or_bin_is_refused_before_anything_runs(flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["brackets", str(tmp_path / "none"), "--out", str(tmp_path / "out"), *flags])
    assert exit.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_max_distance_off_the_bin_grid_is_refused_before_models_load(tmp_path, capsys):
    assert main(["brackets", str(tmp_path / "none"), "--out", str(tmp_path / "out"), "--max-distance", "50"]) == 1
    err = capsys.readouterr().err
    assert "not a multiple of the bin width 20" in err and "--max-distance" in err
    assert not (tmp_path / "out").exists()
