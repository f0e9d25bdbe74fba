"""Modified Kneser-Ney n-grams: hand-computed values, normalisation, ARPA files, KenLM agreement, CLI."""

import json
import math
import re
import shutil
import subprocess

import numpy as np
import pytest

from rnnlens.models.ngram import kneser_ney as ngram
from rnnlens.models.ngram.arpa import read_arpa, write_arpa
from rnnlens.models.ngram.kind import estimate_corpus
from rnnlens.models.ngram.kneser_ney import BackoffPredictor, estimate, score_log_probs
from rnnlens.cli import main
from rnnlens.data.corpus import Vocabulary, load_corpus
from rnnlens.analyses.evaluation import evaluate

# A tiny corpus over the vocabulary "abcd"; "d" never occurs in training.
VOCAB = Vocabulary("abcd")
TEXT = "aaaaabbbbccc"


def model(order: int) -> tuple[BackoffPredictor, list[dict]]:
    tables, stats = estimate(VOCAB.encode(TEXT), order, len(VOCAB))
    return BackoffPredictor(tables, VOCAB, {}), stats


def distributions(predictor: BackoffPredictor, text: str) -> np.ndarray:
    return np.exp(predictor.predict_log_distributions(VOCAB.encode(text)).astype(np.float64))


def test_bigram_model_matches_hand_computed_discounts_and_interpolation():
    predictor, stats = model(2)
    # Order 2 (highest order: raw counts) aa:4 ab:1 bb:3 bc:1 cc:2, so t1..t4 = 2, 1, 1, 1;
    # Y = 2 / (2 + 2*1) = 0.5; D1 = 1 - 2*0.5*1/2 = 0.5; D2 = 2 - 3*0.5*1/1 = 0.5; D3+ = 3 - 4*0.5*1/1 = 1.
    assert stats[1]["counts_of_counts"] == [2, 1, 1, 1]
    assert stats[1]["discounts"] == pytest.approx([0.5, 0.5, 1.0])
    assert not stats[1]["fallback"]
    # Order 1 continuation counts: a {a, text start} = 2, b {a, b} = 2, c {b, c} = 2, d 0: t1 = 0, so
    # KenLM's fallback D = (0.5, 1, 1.5); gamma = 1.0*3/6 = 0.5; p(a) = (2-1)/6 + 0.5/4 = 7/24, p(d) = 1/8.
    assert stats[0]["counts_of_counts"] == [0, 3, 0, 0]
    assert stats[0]["fallback"] and stats[0]["discounts"] == [0.5, 1.0, 1.5]
    uni = [7 / 24, 7 / 24, 7 / 24, 1 / 8]
    # context a: A = 5, gamma = (0.5*1 + 1.0*1)/5 = 0.3; p(a|a) = (4-1)/5 + 0.3 p(a), p(b|a) = (1-0.5)/5 + 0.3 p(b)
    after_a = [3 / 5 + 0.3 * uni[0], 0.5 / 5 + 0.3 * uni[1], 0.3 * uni[2], 0.3 * uni[3]]
    # context b: bb:3 bc:1, A = 4, gamma = (0.5 + 1.0)/4 = 0.375
    after_b = [0.375 * uni[0], 2 / 4 + 0.375 * uni[1], 0.5 / 4 + 0.375 * uni[2], 0.375 * uni[3]]
    # context c: cc:2 (the last c has no successor), A = 2, gamma = 0.5*1/2 = 0.25
    after_c = [0.25 * uni[0], 0.25 * uni[1], 1.5 / 2 + 0.25 * uni[2], 0.25 * uni[3]]
    # context d was never seen: the unigram distribution is passed on
    expected = np.array([after_a, after_b, after_c, uni])
    assert after_a == pytest.approx([0.6875, 0.1875, 0.0875, 0.0375])
    assert distributions(predictor, "abcda") == pytest.approx(expected, abs=1e-6)
    log_probs = predictor.predict_log_probs(VOCAB.encode("abcda"))
    assert log_probs == pytest.approx(np.log([after_a[1], after_b[2], after_c[3], uni[0]]), abs=1e-6)


def test_unigram_model_uses_raw_counts_and_the_uniform_floor():
    predictor, stats = model(1)
    # raw counts a:5 b:4 c:3, so t = 0, 0, 1, 1: fallback D3+ = 1.5; gamma = 1.5*3/12 = 0.375
    assert stats[0]["counts_of_counts"] == [0, 0, 1, 1] and stats[0]["fallback"]
    expected = [3.5 / 12 + 0.375 / 4, 2.5 / 12 + 0.375 / 4, 1.5 / 12 + 0.375 / 4, 0.375 / 4]
    assert distributions(predictor, "abcd") == pytest.approx(np.array([expected] * 3), abs=1e-6)
    assert predictor.predict_log_probs(VOCAB.encode("abcd")) == pytest.approx(np.log(expected[1:]), abs=1e-6)


def test_trigram_model_backs_off_through_continuation_counts():
    predictor, stats = model(3)
    # Order 3 raw counts aaa:3 aab:1 abb:1 bbb:2 bbc:1 bcc:1 ccc:1: t = 5, 1, 1, 0, and
    # D2 = 2 - 3*(5/7)*1/1 < 0, so the fallback discounts; order 2 now uses continuation counts
    # aa {a, start} = 2, ab 1, bb {a, b} = 2, bc 1, cc {b, c} = 2: t2 = 3, t3 = 0, fallback too.
    assert stats[2]["counts_of_counts"] == [5, 1, 1, 0] and stats[2]["fallback"]
    assert stats[1]["counts_of_counts"] == [2, 3, 0, 0] and stats[1]["fallback"]
    # p2(.|a): A = 3, gamma = (0.5 + 1)/3 = 0.5, u(a|a) = 1/3, u(b|a) = 1/6, plus 0.5 * (7, 7, 7, 3)/48
    after_a = np.array([23, 15, 7, 3]) / 48
    # p2(.|b) = (7, 23, 15, 3)/48 the same way; p3(.|ab): abb:1, A = 1, gamma = 0.5, u(b|ab) = 0.5
    after_ab = np.array([3.5, 24 + 11.5, 7.5, 1.5]) / 48
    # p3(.|bb): bbb:2 bbc:1, A = 3, gamma = 0.5, u(b|bb) = 1/3, u(c|bb) = 1/6
    after_bb = np.array([3.5, 16 + 11.5, 8 + 7.5, 1.5]) / 48
    assert distributions(predictor, "abbc") == pytest.approx(np.array([after_a, after_ab, after_bb]), abs=1e-6)


@pytest.fixture(scope="module")
def wp(data_dir):
    return load_corpus(dataset="war-and-peace", data_dir=data_dir)


def test_every_distribution_sums_to_one_and_holds_the_log_probs(wp, monkeypatch):
    tables, _ = estimate(wp.split_ids("train")[:200_000], 6, len(wp.vocab))
    predictor = BackoffPredictor(tables, wp.vocab, wp.spec())
    monkeypatch.setattr(ngram, "DISTRIBUTION_CHUNK", 1000)  # several chunks, with contexts across their edges
    monkeypatch.setattr(ngram, "LOG_PROB_CHUNK", 777)
    ids = wp.split_ids("test")[:5000]
    dists = predictor.predict_log_distributions(ids)
    log_probs = predictor.predict_log_probs(ids)
    assert dists.shape == (4999, len(wp.vocab)) and log_probs.shape == (4999,)
    assert np.abs(np.exp(dists.astype(np.float64)).sum(axis=1) - 1).max() < 1e-6
    assert np.abs(dists[np.arange(4999), ids[1:]] - log_probs).max() < 1e-5
    monkeypatch.setattr(ngram, "LOG_PROB_CHUNK", 1 << 18)
    assert predictor.predict_log_probs(ids) == pytest.approx(log_probs, abs=1e-12)


def test_reproduces_kenlm_reference_losses(data_dir):
    # lmplz -o N --discount_fallback, test split, nats/char (the reference table)
    for dataset, order, kenlm in [("war-and-peace", 4, 1.5689), ("war-and-peace", 8, 1.2649),
                                  ("linux-kernel", 4, 1.9655)]:
        corpus = load_corpus(dataset=dataset, data_dir=data_dir)
        predictor, _ = estimate_corpus(corpus, order)
        assert evaluate(predictor, corpus.split_ids("test")).nats == pytest.approx(kenlm, abs=0.005)


def test_arpa_round_trip_gives_the_same_log_probs(wp, tmp_path):
    tables, _ = estimate(wp.split_ids("train")[:50_000], 4, len(wp.vocab))
    ours = BackoffPredictor(tables, wp.vocab, wp.spec())
    path = write_arpa(tmp_path / "wp.arpa", tables, wp.vocab)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("\\data\\\n") and "\\4-grams:" in text and "<sp>" in text and "<nl>" in text
    loaded = read_arpa(path, vocab=wp.vocab, corpus_spec=wp.spec())
    ids = wp.split_ids("test")[:3000]
    assert loaded.predict_log_probs(ids) == pytest.approx(ours.predict_log_probs(ids), abs=1e-6)
    assert np.abs(loaded.predict_log_distributions(ids) - ours.predict_log_distributions(ids)).max() < 1e-5


def test_arpa_reader_follows_backoff_unk_and_sentence_start(tmp_path):
    # a hand-written bigram file in KenLM's layout, space spelled <sp>
    path = tmp_path / "tiny.arpa"
    path.write_text("\\data\\\nngram 1=5\nngram 2=3\n\n\\1-grams:\n-1.0\t<unk>\t0\n0\t<s>\t-0.5\n-0.5\t</s>\t0\n"
                    "-0.3\tx\t-0.2\n-0.6\t<sp>\t-0.1\n\n\\2-grams:\n-0.1\t<s> x\n-0.05\tx <sp>\n-0.4\t<sp> x\n\n\\end\\\n",
                    encoding="utf-8")
    vocab = Vocabulary(" xy")  # y is not in the file: it gets <unk>'s probability
    predictor = read_arpa(path, vocab=vocab)
    ln10 = math.log(10)
    # "x x y  x": p(x|x) = bo(x) p(x) ; p(y|x) = bo(x) p(<unk>) ; p(<sp>|y) = bo(<unk>) p(<sp>) ; p(x|<sp>) listed
    got = predictor.predict_log_probs(vocab.encode("xxy x")) / ln10
    assert got == pytest.approx([-0.2 - 0.3, -0.2 - 1.0, 0 - 0.6, -0.4])
    dist = predictor.predict_log_distributions(vocab.encode("x ")) / ln10
    assert dist[0] == pytest.approx([-0.05, -0.2 - 0.3, -0.2 - 1.0])  # columns: space, x, y


def test_evaluate_command_scores_an_ngram_directory(wp_slice_file, tmp_path, capsys):
    out = tmp_path / "ng"
    assert main(["ngram", "--text", str(wp_slice_file), "--order", "5", "--out", str(out), "--quiet",
                 "--arpa", str(tmp_path / "m.arpa")]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "ngram" and config["order"] == 5 and len(config["orders"]) == 5
    capsys.readouterr()
    assert main(["evaluate", str(out), "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["chars"] == 19_999 and 1.4 < result["nats"] < 2.2
    corpus = load_corpus(text=wp_slice_file)
    loaded = read_arpa(tmp_path / "m.arpa", vocab=corpus.vocab)
    assert evaluate(loaded, corpus.split_ids("test")).nats == pytest.approx(result["nats"], abs=1e-5)


def test_unseen_characters_in_a_scored_text_are_an_error_naming_them(wp_slice_file, tmp_path, capsys):
    out = tmp_path / "ng"
    assert main(["ngram", "--text", str(wp_slice_file), "--order", "2", "--out", str(out), "--quiet"]) == 0
    other = tmp_path / "euro.txt"
    other.write_text("Pierre paid 5€ and ¥3", encoding="utf-8")
    capsys.readouterr()
    assert main(["evaluate", str(out), "--text", str(other)]) == 1
    err = capsys.readouterr().err
    assert "'€'" in err and "'¥'" in err and "vocabulary" in err


@pytest.mark.skipif(not (shutil.which("lmplz") and shutil.which("query")), reason="KenLM's lmplz/query not on PATH")
def test_per_character_log_probs_agree_with_kenlm_query(wp, tmp_path):
    def kenlm_line(text: str) -> str:
        return " ".join({" ": "<sp>", "\n": "<nl>", "\t": "<tab>"}.get(c, c) for c in text) + "\n"

    train, test = wp.split_text("train"), wp.split_text("test")[:20_000]
    (tmp_path / "train.txt").write_text(kenlm_line(train), encoding="utf-8")
    arpa = tmp_path / "kenlm.arpa"
    subprocess.run(["lmplz", "-o", "5", "--discount_fallback", "-S", "20%", "-T", str(tmp_path)],
                   stdin=open(tmp_path / "train.txt"), stdout=open(arpa, "w"), stderr=subprocess.DEVNULL, check=True)
    out = subprocess.run(["query", "-v", "word", str(arpa)], input=kenlm_line(test), capture_output=True,
                         text=True, check=True).stdout
    kenlm = np.array([float(x) for x in re.findall(r"=\d+ \d+ (-?[\d.e+-]+)", out)]) * math.log(10)
    kenlm = kenlm[1:len(test)]  # drop the first character (context only here) and </s>
    # KenLM ends the training line with </s>: the same text plus one end token, estimated by us
    end = len(wp.vocab)
    tables, _ = estimate(np.append(wp.vocab.encode(train), end), 5, end + 1)
    ours = score_log_probs(tables, wp.vocab.encode(test))
    # Measured with KenLM 0.3.0: max |difference| 3.9e-4 nats, mean 1.2e-6 (what is left: KenLM's
    # uniform floor also counts <unk>, over 80 characters seen in training where ours counts 83 tokens)
    assert np.abs(ours - kenlm).max() < 1e-3
    # without the end token (our model: one stream, no </s>) only contexts ending the training text move:
    # measured 5 positions over 1e-3 (max 7.3e-3, after "so ", the end of the train split), mean 3.5e-6
    plain = BackoffPredictor(estimate(wp.vocab.encode(train), 5, end)[0], wp.vocab, wp.spec())
    assert np.abs(plain.predict_log_probs(wp.vocab.encode(test)) - kenlm).mean() < 1e-5
    # KenLM's own file read by our ARPA reader reproduces query exactly
    theirs = read_arpa(arpa, vocab=wp.vocab).predict_log_probs(wp.vocab.encode(test))
    assert np.abs(theirs - kenlm).max() < 1e-5


def test_a_saved_model_finds_its_corpus_where_it_was_estimated_before_rnnlens_data(data_dir, tmp_path, monkeypatch):
    from rnnlens.errors import RnnlensError
    from rnnlens.models import registry

    corpus = load_corpus(dataset="war-and-peace", data_dir=data_dir)
    registry.fit("ngram", {"order": 2}, corpus, tmp_path / "bigram")
    monkeypatch.setenv("RNNLENS_DATA", str(tmp_path / "elsewhere"))  # no corpora there
    assert registry.load_predictor(tmp_path / "bigram").tables.order == 2
    with pytest.raises(RnnlensError, match="one set of counts"):
        registry.load_predictor(tmp_path / "bigram", weights="last")  # an option it cannot honour is an error


def test_the_same_ngram_estimated_twice_has_one_identity_and_another_order_or_corpus_another(war_and_peace,
                                                                                              tmp_path):
    from rnnlens.models import registry
    from rnnlens.store.runs import read_config, write_config

    texts = {name: tmp_path / f"{name}.txt" for name in ("text", "copy", "other")}
    texts["text"].write_text(war_and_peace[:20_000], encoding="utf-8")
    texts["copy"].write_text(war_and_peace[:20_000], encoding="utf-8")  # the same text read from another path
    texts["other"].write_text(war_and_peace[20_000:40_000], encoding="utf-8")

    def estimated(name, order, text):
        return registry.fit("ngram", {"order": order}, load_corpus(text=texts[text]), tmp_path / name,
                            log=lambda _: None)

    first = estimated("first", 3, "text")
    estimated("again", 3, "copy")
    config = read_config(tmp_path / "again")
    write_config(tmp_path / "again", "ngram", {**config, "estimate_s": config["estimate_s"] + 1.0})  # took longer
    assert read_config(tmp_path / "first") != read_config(tmp_path / "again")  # the time and the corpus's path
    loaded = [registry.load_predictor(tmp_path / name).identity for name in ("first", "again")]
    assert loaded[0]["sha256"] == loaded[1]["sha256"] == first.identity["sha256"]
    assert loaded[0]["run_dir"] != loaded[1]["run_dir"]
    others = {estimated("order4", 4, "text").identity["sha256"], estimated("other", 3, "other").identity["sha256"]}
    assert len(others | {first.identity["sha256"]}) == 3
