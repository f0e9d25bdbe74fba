"""The error onion: every slice's count on a hand-made text, the peeling order, scaling, and the command."""

import csv
import hashlib
import json
from collections import Counter

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from rnnlens.analyses.onion import OnionOptions, OnionReport, error_onion, onion_text, peel, scaling
from rnnlens.analyses.onion.oracles import Slice, earlier_occurrences
from rnnlens.analyses.onion.saved import read_onion
from rnnlens.analyses.onion.words import count_words, find_words, punctuation, resolve_mode
from rnnlens.cli import main
from rnnlens.data.corpus import load_corpus
from rnnlens.errors import RnnlensError
from rnnlens.models.ngram import kind as ngram_kind
from rnnlens.models.registry import load_predictor
from rnnlens.render.onion_page import GROUP_COLOURS, slice_colours
from rnnlens.store.runs import save_tensors, write_config
from test_trace import random_model

# Positions are characters j = 1..N-1 of TEXT (prediction i = j - 1). Words: he[0,2) sat[3,6) Ox[9,11)
# sat[13,16) he[17,19) sat[20,23); TRAIN counts he 3, sat 1, Ox 0.
TEXT = 'he sat. "Ox" sat he\nsat!'
TRAIN = "he he he sat"
OPTIONS = OnionOptions(orders=(2, 3), windows=(5, 12), rare=(0, 1), boosts=(0.1, 0.2, 0.3, 0.4), words="prose")
EXPECTED = {  # character j -> the slice that must take its error, worked out by hand
    2: "n-gram: orders 2-3",  # the order-2 model knows this one
    14: "memory: n=12", 15: "memory: n=12",  # "sat" 10 characters after the first "sat"
    21: "memory: n=12", 22: "memory: n=12",  # "sat" 7 after the second; "he" at 17 has no copy in its 12
    9: "rare words: t=0", 10: "rare words: t=0",  # Ox: never in the training text
    3: "rare words: t=1", 4: "rare words: t=1", 5: "rare words: t=1", 13: "rare words: t=1", 20: "rare words: t=1",
    8: "word model: after space", 17: "word model: after space",  # 3 and 13 follow a space too, rare took them
    12: "word model: after quote",  # 9 follows a quote too; rare took it
    6: "punctuation", 11: "punctuation", 23: "punctuation",
    7: "boost: b=0.1", 16: "boost: b=0.2", 18: "boost: b=0.4", 19: "unexplained",
}
P_TRUE = {1: 0.9, 7: 0.45, 16: 0.35, 18: 0.15}  # every other character gets 0.05, an error


def hand_made(p_true: dict[int, float] = P_TRUE, options: OnionOptions = OPTIONS):
    """The onion of TEXT for a model giving character j the probability ``p_true.get(j, 0.05)``."""
    p = np.array([p_true.get(j, 0.05) for j in range(1, len(TEXT))])
    ngram = {2: np.full(len(TEXT) - 1, 0.1), 3: np.full(len(TEXT) - 1, 0.1)}
    ngram[2][2 - 1] = 0.9
    context = onion_text(TEXT, {n: np.log(q) for n, q in ngram.items()}, TRAIN, options)
    return error_onion("hand", np.log(p), context), context


def labels(onion) -> list[str]:
    return [name if oracle == name else f"{oracle}: {name}" for oracle, name in onion.slices] + ["unexplained"]


def test_every_slice_of_a_hand_made_text_takes_exactly_the_errors_worked_out_by_hand():
    onion, _ = hand_made()
    names = labels(onion)
    got = {i + 1: names[c] for i, c in enumerate(onion.category) if c >= 0}
    assert got == EXPECTED
    data = onion.to_dict()
    assert set(data) == {"model", "chars", "errors", "error_rate", "slices", "unexplained", "identity", "text"}
    assert (data["chars"], data["errors"], data["unexplained"]) == (23, 22, 1)
    assert data["error_rate"] == pytest.approx(22 / 23)
    counts = Counter(EXPECTED.values())
    assert [(s["oracle"], s["name"], s["removed"]) for s in data["slices"]] == [
        (o, n, counts[f"{o}: {n}" if o != n else n]) for o, n in onion.slices]
    assert [s["removed"] for s in data["slices"]] == [1, 0, 4, 2, 5, 2, 1, 0, 3, 1, 1, 0, 1]
    assert sum(s["removed"] for s in data["slices"]) + data["unexplained"] == data["errors"]
    assert data["slices"][4]["share"] == pytest.approx(5 / 22)


def test_each_error_is_counted_once_by_the_first_oracle_that_explains_it():
    errors = np.array([True, True, True, True, False])
    first, second = np.array([1, 1, 0, 0, 1], bool), np.array([1, 1, 1, 0, 1], bool)
    category = peel(errors, [Slice("a", "a", first), Slice("b", "b", second)])
    assert category.tolist() == [0, 0, 1, 2, -1]  # b sees only what a left; the correct position is nobody's
    assert peel(errors, [Slice("b", "b", second), Slice("a", "a", first)]).tolist() == [0, 0, 0, 2, -1]


def test_any_ngram_order_above_half_explains_an_error_and_exactly_half_does_not():
    p = np.log(np.full(4, 0.1))
    order2, order3 = np.log([0.9, 0.2, 0.5, 0.1]), np.log([0.2, 0.8, 0.2, 0.1])
    context = onion_text("abcde", {2: order2, 3: order3}, "abcde", OnionOptions(orders=(2, 3)))
    assert error_onion("m", p, context).to_dict()["slices"][0]["removed"] == 2


def test_a_boost_must_lift_the_probability_strictly_above_half():
    onion, _ = hand_made({**P_TRUE, 7: 0.4})  # 0.4 + 0.1 is not above 0.5: b=0.2 takes it
    assert [s["removed"] for s in onion.to_dict()["slices"]][-4:] == [0, 2, 0, 1]


def test_memory_copies_are_substrings_unless_whole_words_are_asked_for():
    text = "that at"
    words = find_words(text, "prose")
    assert earlier_occurrences(text, words, 100).tolist() == [-1, 2]  # "at" inside "that"
    assert earlier_occurrences(text, words, 100, whole_words=True).tolist() == [-1, -1]
    assert earlier_occurrences("at that at", find_words("at that at", "prose"), 100, True).tolist() == [-1, -1, 0]
    assert earlier_occurrences(text, words, 3).tolist() == [-1, 2]  # text[2:5] holds "at"
    assert earlier_occurrences(text, words, 2).tolist() == [-1, -1]  # text[3:5] only part of it: not a copy


def test_words_are_letters_with_inner_apostrophes_in_prose_and_identifiers_in_code():
    text = "couldn't 'Mary' spin_lock2(x); 0x1f é"
    assert find_words(text, "prose").tokens == ["couldn't", "Mary", "spin", "lock", "x", "x", "f", "é"]
    assert find_words(text, "code").tokens == ["couldn", "t", "Mary", "spin_lock2", "x"]
    assert punctuation("a_b(c);", "code").tolist() == [False, False, False, True, False, True, True]
    assert punctuation("a_b", "prose").tolist() == [False, True, False]
    assert count_words("Mary mary Mary", "prose") == Counter({"Mary": 2, "mary": 1})
    assert resolve_mode("auto", "int f(void) { return 0; }\n" * 20) == "code"
    assert resolve_mode("auto", "Well, Prince, so Genoa and Lucca are now just family estates.") == "prose"


def test_an_apostrophe_inside_a_word_is_not_a_quote_for_the_word_model():
    text = "it's 'x"  # "s" (3) follows the apostrophe of "it's", "x" (6) an opening quote
    options = OnionOptions(orders=(2,), words="prose")
    context = onion_text(text, {2: np.log(np.full(6, 0.1))}, "it's x " * 6, options)
    onion = error_onion("m", np.log(np.full(6, 0.1)), context)
    assert labels(onion)[onion.category[3 - 1]] == "unexplained"
    assert labels(onion)[onion.category[6 - 1]] == "word model: after quote"


def test_scaling_counts_the_small_models_errors_the_big_one_gets_right_by_the_small_ones_category():
    small, context = hand_made()
    big, _ = hand_made({**P_TRUE, 2: 0.7, 14: 0.6, 9: 0.5, 19: 0.99, 1: 0.2, 6: 0.3})
    # right in big: 2 (n-gram), 14 (memory), 9 (rare), 19 (unexplained); 1 is right in small, 6 wrong in both
    assert scaling(small, big) == [{"oracle": "n-gram", "removed_by_big": 1}, {"oracle": "memory", "removed_by_big": 1},
                                   {"oracle": "rare words", "removed_by_big": 1},
                                   {"oracle": "word model", "removed_by_big": 0},
                                   {"oracle": "punctuation", "removed_by_big": 0}, {"oracle": "boost", "removed_by_big": 0},
                                   {"oracle": "unexplained", "removed_by_big": 1}]
    report = OnionReport([small, big], context, "hand", scaling(small, big))
    assert [m["model"] for m in report.to_dict()["models"]] == ["hand", "hand"]
    assert "gets right: 4 of 22 (net change -3)" in report.summary()


def test_the_figure_stacks_the_models_at_the_reports_width_with_legible_legends():
    small, context = hand_made()
    figure = OnionReport([small, small], context, "hand", scaling(small, small)).plot()
    width, height = figure.get_size_inches()
    assert width <= 10 and height > width  # one model above the other, not side by side
    legends = [ax.get_legend() for ax in figure.get_axes() if ax.get_legend()]
    assert len(legends) == 2 and all(t.get_fontsize() >= 9 for legend in legends for t in legend.get_texts())


def test_random_predictions_keep_the_invariant_and_match_a_direct_count():
    rng = np.random.default_rng(0)
    text = "".join(rng.choice(list("ab c.\n'"), 3000))
    p, ngram = rng.uniform(0, 1, len(text) - 1), rng.uniform(0, 1, len(text) - 1)
    context = onion_text(text, {2: np.log(ngram)}, text[:1000], OnionOptions(orders=(2,)))
    data = error_onion("random", np.log(p), context).to_dict()
    assert data["errors"] == int((p < 0.5).sum())
    assert data["slices"][0]["removed"] == int(((p < 0.5) & (ngram > 0.5)).sum())
    assert sum(s["removed"] for s in data["slices"]) + data["unexplained"] == data["errors"]
    assert sum(s["share"] for s in data["slices"]) + data["unexplained"] / data["errors"] == pytest.approx(1)


def test_the_report_saves_the_hand_made_onion_with_its_memory_copies_marked(tmp_path):
    onion, context = hand_made()
    report = OnionReport([onion], context, "hand-made text")
    files = {p.name for p in report.save(tmp_path / "out")}
    assert files == {"onion.json", "onion.csv", "onion.png", "onion.svg", "onion.html", "categories.npy"}
    assert json.loads((tmp_path / "out" / "onion.json").read_text()) == {**onion.to_dict(), "categories": "categories.npy"}
    saved = np.load(tmp_path / "out" / "categories.npy")
    names = labels(onion)
    assert saved.dtype == np.int16 and saved.shape == (len(TEXT) - 1,)
    assert {i + 1: names[c] for i, c in enumerate(saved.tolist()) if c >= 0} == EXPECTED and saved[0] == -1
    page = (tmp_path / "out" / "onion.html").read_text()
    assert "10 characters after the underlined copy" in page and "7 characters after the underlined copy" in page
    assert page.count(' earlier"') == 3 * 3  # the examples 14, 21, 22 (3 of 4, spread) underline a "sat" each
    table = report.summary().splitlines()
    assert table[3:6] == ["n-gram                           1    4.5%", "  orders 2-3                     1    4.5%",
                          "memory                           4   18.2%"]


def test_slices_of_one_oracle_share_a_hue_from_dark_to_light():
    colours = slice_colours(["a", "a", "a", "b", "c"])
    assert colours[0] == GROUP_COLOURS[0] and colours[3] == GROUP_COLOURS[1] and colours[4] == GROUP_COLOURS[2]
    lightness = [sum(to_rgb(c)) for c in colours[:3]]
    assert lightness[0] < lightness[1] < lightness[2]


CORPUS = ('"I <b>know</b> & you know," said Anna. "Mary\'s letter came." Mary read it twice.\n' * 40)


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    """Run directories of two random LSTMs (hidden 8 and 16) on one small corpus with < & > in it."""
    base = tmp_path_factory.mktemp("onion")
    (base / "corpus.txt").write_text(CORPUS, encoding="utf-8")
    corpus = load_corpus(text=base / "corpus.txt")
    dirs = []
    for hidden, seed in ((8, 1), (16, 2)):
        model = random_model("lstm", 1, len(corpus.vocab), hidden=hidden, seed=seed)
        out = base / f"lstm{hidden}"
        write_config(out, "rnn", {"model": model.config.to_dict(), "vocabulary": corpus.vocab.chars,
                                  "corpus": corpus.spec()})
        save_tensors(out / "best.safetensors", {f"model.{k}": v for k, v in model.state_dict().items()})
        dirs.append(out)
    return dirs, corpus, base


def test_onion_command_writes_json_csv_pie_and_page_and_reuses_its_ngram_models(two_models, tmp_path, capsys,
                                                                                 monkeypatch):
    (small, _), corpus, base = two_models
    out, ngrams = tmp_path / "onion", tmp_path / "ngrams"
    args = ["onion", str(small), "--out", str(out), "--ngram-dir", str(ngrams), "--orders", "2", "3",
            "--windows", "50", "500", "--json", "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr()
    data = json.loads(printed.out)
    assert data == json.loads((out / "onion.json").read_text())
    assert "estimated" in printed.err
    p = np.exp(load_predictor(small).predict_log_probs(corpus.split_ids("test")))
    assert data["chars"] == len(p) and data["errors"] == int((p < 0.5).sum())
    ngram_p = [np.exp(load_predictor(ngrams / f"ngram-order{n}").predict_log_probs(corpus.split_ids("test")))
               for n in (2, 3)]
    assert data["slices"][0]["removed"] == int(((p < 0.5) & (np.maximum(*ngram_p) > 0.5)).sum())
    assert sum(s["removed"] for s in data["slices"]) + data["unexplained"] == data["errors"]
    category = saved_categories(out, data, p)
    assert np.array_equal(category == 0, (p < 0.5) & (np.maximum(*ngram_p) > 0.5))  # the n-gram slice's positions
    ids = np.asarray(corpus.split_ids("test"), np.int64)
    assert data["identity"] == load_predictor(small).identity and data["categories"] == "categories.npy"
    assert data["text"] == {"source": f"{corpus.name} test split", "chars": len(ids),
                            "ids_sha256": hashlib.sha256(ids.tobytes()).hexdigest()}
    rows = list(csv.DictReader(open(out / "onion.csv")))
    assert [int(r["removed"]) for r in rows] == [s["removed"] for s in data["slices"]] + [data["unexplained"]]
    assert (out / "onion.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "onion.html").read_text()
    assert "&lt;" in page and "&amp;" in page and "<b>" not in page and "http" not in page

    def no_estimating(*args, **kwargs):
        raise AssertionError("an n-gram model was estimated again")

    monkeypatch.setattr(ngram_kind, "estimate_corpus", no_estimating)
    assert main(args[:-2]) == 0  # the n-gram models and their cached predictions are reused
    printed = capsys.readouterr()
    assert "estimated" not in printed.err and "\nn-gram " in printed.out and "\n  orders 2-3 " in printed.out


def test_two_models_give_one_breakdown_each_and_the_scaling(two_models, tmp_path, capsys):
    (small, big), corpus, _ = two_models
    out = tmp_path / "both"
    assert main(["onion", str(small), str(big), "--names", "small", "big", "--out", str(out),
                 "--ngram-dir", str(tmp_path / "ng"), "--orders", "2", "--json", "--quiet"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [m["model"] for m in data["models"]] == ["small", "big"] and data == json.loads((out / "onion.json").read_text())
    ids = corpus.split_ids("test")
    wrong_small = np.exp(load_predictor(small).predict_log_probs(ids)) < 0.5
    right_big = np.exp(load_predictor(big).predict_log_probs(ids)) >= 0.5
    assert sum(s["removed_by_big"] for s in data["scaling"]) == int((wrong_small & right_big).sum())
    assert [s["oracle"] for s in data["scaling"]][-1] == "unexplained"
    assert (out / "scaling.csv").is_file()
    assert [m["categories"] for m in data["models"]] == ["categories-small.npy", "categories-big.npy"]
    for entry, run, saved in zip(data["models"], (small, big), read_onion(out)):
        category = saved_categories(out, entry, np.exp(load_predictor(run).predict_log_probs(ids)))
        assert saved.entry == entry and np.array_equal(saved.category, category)
        assert entry["identity"] == load_predictor(run).identity


def saved_categories(out, entry: dict, p: np.ndarray) -> np.ndarray:
    """A model's saved categories, checked: an int16 per position, an error exactly where ``p`` < 0.5, and as many
    in each category as its slice removed (then the unexplained ones)."""
    category = np.load(out / entry["categories"])
    assert category.dtype == np.int16 and category.shape == (len(p),) == (entry["chars"],)
    assert np.array_equal(category >= 0, p < 0.5)
    assert np.bincount(category[category >= 0], minlength=len(entry["slices"]) + 1).tolist() == \
        [s["removed"] for s in entry["slices"]] + [entry["unexplained"]]
    return category


def test_saved_categories_are_read_back_and_refused_when_they_disagree_with_the_json(tmp_path):
    onion, context = hand_made()
    out = tmp_path / "out"
    OnionReport([onion], context, "hand-made text").save(out)
    (saved,) = read_onion(out)
    assert np.array_equal(saved.category, onion.category) and saved.slices == onion.slices
    category = onion.category.astype(np.int16)
    category[[1, 13]] = category[[13, 1]]  # an n-gram and a memory error swapped: the counts still agree
    np.save(out / "categories.npy", category)
    assert np.array_equal(read_onion(out)[0].category, category) and category[1] != onion.category[1]
    category[5] = 0  # a punctuation error moved to the n-gram slice
    np.save(out / "categories.npy", category)
    with pytest.raises(RnnlensError, match="do not add up"):
        read_onion(out)
    np.save(out / "categories.npy", category.astype(np.int64))
    with pytest.raises(RnnlensError, match="int64"):
        read_onion(out)
    data = json.loads((out / "onion.json").read_text())
    del data["categories"]
    (out / "onion.json").write_text(json.dumps(data))
    with pytest.raises(RnnlensError, match="an older rnnlens"):
        read_onion(out)
    with pytest.raises(RnnlensError, match="no onion.json"):
        read_onion(tmp_path)


def exit_status(args: list[str]) -> int:
    """What ``rnnlens ARGS`` exits with (argparse refuses a bad option by raising SystemExit)."""
    try:
        return main(args)
    except SystemExit as stop:
        return stop.code


BAD_INPUT = {  # extra arguments after the small model's directory, and the exit status
    "order 1": (["--orders", "1"], 2), "boost 0": (["--boosts", "0"], 2), "window 0": (["--windows", "0"], 2),
    "unknown words": (["--words", "poetry"], 2), "ngram dir is a file": (["--ngram-dir", "{file}"], 1),
    "three models": (["{big}", "{big}"], 1), "missing text": (["--text", "{missing}"], 1)}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_refused_before_any_output(two_models, tmp_path, case, capsys):
    (small, big), _, _ = two_models
    (tmp_path / "file").write_text("x")
    extra, status = BAD_INPUT[case]
    extra = [a.format(file=tmp_path / "file", big=big, missing=tmp_path / "missing.txt") for a in extra]
    assert exit_status(["onion", str(small), *extra, "--out", str(tmp_path / "out"), "--orders", "2", "3"]) == status
    assert not (tmp_path / "out").exists()
    assert "error" in capsys.readouterr().err


def test_an_output_path_that_is_a_file_is_refused(two_models, tmp_path, capsys):
    (small, _), _, _ = two_models
    (tmp_path / "out").write_text("mine")
    assert main(["onion", str(small), "--out", str(tmp_path / "out"), "--orders", "2",
                 "--ngram-dir", str(tmp_path / "ng")]) == 1
    assert (tmp_path / "out").read_text() == "mine" and not (tmp_path / "ng").exists()
