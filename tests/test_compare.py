"""rnnlens compare (Figure 1): loss table by family, depth and budget; agreement of argmax characters; t-SNE."""

import json

import numpy as np
import pytest

from rnnlens.analyses import model_comparison
from rnnlens.analyses.evaluation import Evaluation
from rnnlens.analyses.intervals import difference_interval, mean_interval
from rnnlens.analyses.model_comparison import (APART_RATIO, MIDDLE_AREA, NO_BUDGET, TSNE_MIN_MODELS, Comparison,
                                               agreement_figure, apart, budget_columns, compare_models, short_count,
                                               tsne_embedding, tsne_figure)
from rnnlens.cli import main
from rnnlens.store.predictions import Predictions

TEXT = {"source": "synthetic", "ids_sha256": "same", "chars": 0}


def synthetic(distributions: list[np.ndarray], seed: int = 0) -> dict[str, Predictions]:
    """Predictions of one text by models with the given ``(N, V)`` distributions (true characters drawn at random)."""
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, distributions[0].shape[1], len(distributions[0]))
    text = {**TEXT, "chars": len(targets) + 1}
    return {f"m{k}": Predictions({"kind": "toy", "run_dir": f"/runs/m{k}"}, text,
                                 np.log(d[np.arange(len(d)), targets]).astype(np.float64), d)
            for k, d in enumerate(distributions)}


def random_distributions(models: int, positions: int = 500, chars: int = 4, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.dirichlet(np.ones(chars), positions).astype(np.float32) for _ in range(models)]


def rnn_facts(family: str, layers: int, params: int, **extra) -> dict:
    return {"type": family, "layers": layers, "params": params, "label": f"{family} {layers}", **extra}


def test_agreement_is_the_direct_count_of_equal_argmax_characters(monkeypatch):
    monkeypatch.setattr(model_comparison, "ROW_BLOCK", 7)  # blocks that do not divide the positions
    distributions = random_distributions(3, positions=300, chars=3)
    distributions[2] = distributions[0].copy()
    distributions[2][:50] = distributions[2][:50, ::-1]  # a copy of model 0 that differs in (some of) 50 rows
    predictions = synthetic(distributions)
    facts = {name: rnn_facts("LSTM", 1, 100) for name in predictions}
    result = compare_models(predictions, facts, "toy")
    choices = [[max(range(3), key=lambda c: d[t, c]) for t in range(300)] for d in distributions]
    for i in range(3):
        for j in range(3):
            same = sum(a == b for a, b in zip(choices[i], choices[j]))
            assert result.agreement[i, j] == pytest.approx(same / 300, abs=1e-12)
    assert np.diag(result.agreement).tolist() == [1.0] * 3
    assert 250 / 300 <= result.agreement[0, 2] < 1.0


def test_losses_are_the_evaluation_of_each_models_log_probs():
    predictions = synthetic(random_distributions(2))
    result = compare_models(predictions, {n: rnn_facts("GRU", 2, 50) for n in predictions}, "toy")
    for model, p in zip(result.models, predictions.values()):
        expected = Evaluation.from_log_probs(p.log_probs)
        assert (model["nats"], model["std"]) == (expected.nats, expected.std)
        assert model["nats"] == pytest.approx(-p.log_probs.mean())


def test_budgets_within_the_factor_of_a_columns_smallest_share_it():
    assert budget_columns([1000, 5100, 1250, None, 1400, 4000]) == ["1.1K", "4.5K", "1.1K", NO_BUDGET, "1.4K", "4.5K"]
    assert budget_columns([1000, 1300, 1301]) == ["1.1K", "1.1K", "1.3K"]  # 1301 > 1.3 x 1000 starts a column
    assert [short_count(v) for v in (850, 64_300, 3_349_000, 1e6)] == ["850", "64K", "3.3M", "1M"]


def test_the_table_has_a_row_per_family_and_depth_and_a_column_per_budget():
    names = ["lstm1", "gru1", "lstm2", "lstm1_seed2", "big", "recorded", "trigram"]
    facts = [rnn_facts("LSTM", 1, 1000), rnn_facts("GRU", 1, 1100), rnn_facts("LSTM", 2, 1200),
             rnn_facts("LSTM", 1, 1050), rnn_facts("LSTM", 1, 9000),
             rnn_facts("GRU", 2, 4000, budget=8800),  # trained for a budget: the column is the budget's
             {"type": "n-gram", "layers": None, "params": None, "label": "3-gram"}]
    predictions = dict(zip(names, synthetic(random_distributions(len(names))).values()))
    result = compare_models(predictions, dict(zip(names, facts)), "toy")
    rows, columns, cells = result.table()
    assert rows == ["LSTM 1", "LSTM 1 (lstm1_seed2)", "LSTM 2", "GRU 1", "GRU 2", "3-gram"]
    assert columns == ["1.1K", "8.9K", NO_BUDGET]
    assert {cell: m["name"] for cell, m in cells.items()} == {
        ("LSTM 1", "1.1K"): "lstm1", ("LSTM 1 (lstm1_seed2)", "1.1K"): "lstm1_seed2", ("LSTM 2", "1.1K"): "lstm2",
        ("GRU 1", "1.1K"): "gru1", ("LSTM 1", "8.9K"): "big", ("GRU 2", "8.9K"): "recorded",
        ("3-gram", NO_BUDGET): "trigram"}
    table = result.summary().splitlines()
    big = result.models[names.index("big")]
    assert table[3].startswith("LSTM 1 ") and f"{big['nats']:.4f} ± {big['std']:.4f}" in table[3]
    assert [line.split()[0] for line in table[2:8]] == ["1.1K", "LSTM", "LSTM", "LSTM", "GRU", "GRU"]


def test_tsne_places_models_that_agree_together_and_needs_enough_models():
    a, b = random_distributions(2, positions=400, chars=5, seed=3)
    twins = [a, a, a, b, b, b]  # two groups of identical models
    result = compare_models(synthetic(twins), {f"m{k}": rnn_facts("RNN", 1, 10) for k in range(6)}, "toy")
    points = result.tsne
    assert points.shape == (6, 2) and result.tsne_note is None
    within = max(np.linalg.norm(points[i] - points[j]) for g in ((0, 1, 2), (3, 4, 5)) for i in g for j in g)
    between = min(np.linalg.norm(points[i] - points[j]) for i in (0, 1, 2) for j in (3, 4, 5))
    assert within < between
    assert np.array_equal(tsne_embedding(result.agreement), points)  # a fixed seed

    few = synthetic(twins[:TSNE_MIN_MODELS - 1])
    result = compare_models(few, {n: rnn_facts("RNN", 1, 10) for n in few}, "toy")
    assert result.tsne is None and f"needs at least {TSNE_MIN_MODELS}" in result.tsne_note
    assert result.to_dict()["tsne"] is None


def test_family_agreement_is_the_mean_over_pairs_of_distinct_models():
    models = [{"type": t, "layers": 1, "budget": 10, "label": t, "column": "10", "name": n, "nats": 1.0, "std": 0.0}
              for t, n in (("A", "a1"), ("A", "a2"), ("B", "b1"))]
    agreement = np.array([[1.0, 0.8, 0.5], [0.8, 1.0, 0.3], [0.5, 0.3, 1.0]])
    result = Comparison("toy", {**TEXT, "chars": 10}, models, agreement, None)
    assert result.family_agreement() == {"A": {"A": pytest.approx(0.8), "B": pytest.approx(0.4)},
                                         "B": {"A": pytest.approx(0.4), "B": None}}
    assert result.summary().splitlines()[-5:-2] == ["          1     2", " 1. A 0.800 0.400", " 2. B 0.400     -"]


def test_loss_differences_pair_every_two_models_of_one_budget_column():
    predictions = synthetic(random_distributions(4, positions=600))
    facts = dict(zip(predictions, [rnn_facts("LSTM", 1, 1000), rnn_facts("LSTM", 2, 1100), rnn_facts("GRU", 1, 1050),
                                   rnn_facts("GRU", 1, 9000)]))
    result = compare_models(predictions, facts, "toy", resamples=200)
    losses = {name: -p.log_probs for name, p in predictions.items()}
    assert [d["models"] for d in result.differences] == [["m0", "m1"], ["m0", "m2"], ["m1", "m2"]]  # m3: 9K column
    for d in result.differences:
        a, b = d["models"]
        assert d["loss_difference"] == difference_interval(losses[a], losses[b], resamples=200).to_dict()
    assert result.apart is None and result.to_dict()["apart"] is None  # no RNN
    assert result.models[0]["interval"] == mean_interval(losses["m0"], resamples=200).to_dict()


def test_apart_is_the_rnns_distance_less_the_ratio_times_the_gated_models_distance_at_each_position():
    choices = np.array([[0, 1, 2, 3, 0, 1], [0, 1, 2, 0, 0, 1], [0, 2, 2, 3, 1, 1], [3, 3, 2, 0, 1, 0]])
    result = apart(["l", "g", "r", "x"], ["LSTM", "GRU", "RNN", "n-gram"], choices)
    within = np.array([1, 1, 1, 0, 1, 1])  # l and g
    across = np.array([2, 0, 2, 1, 0, 2]) / 2  # l and r, g and r
    assert result["gated"] == ["l", "g"] and result["rnns"] == ["r"] and result["ratio"] == APART_RATIO
    assert result["within"] == pytest.approx(within.mean()) and result["across"] == pytest.approx(across.mean())
    assert result["excess"] == mean_interval((1 - across) - APART_RATIO * (1 - within)).to_dict()
    assert apart(["l", "r"], ["LSTM", "RNN"], choices[:2]) is None  # one gated model


def test_the_agreement_colours_span_the_off_diagonal_values_and_the_tsne_sizes_follow_the_budget():
    agreement = np.array([[1.0, 0.70, 0.75], [0.70, 1.0, 0.80], [0.75, 0.80, 1.0]])
    image = agreement_figure(["a", "b", "c"], agreement, "toy").get_axes()[0].get_images()[0]
    assert image.get_clim() == (0.70, 0.80) and image.get_array().mask.diagonal().all()
    models = [{"name": f"m{k}", "type": "LSTM", "layers": 1, "budget": b, "column": c}
              for k, (b, c) in enumerate([(1000, "1K"), (1000, "1K"), (100_000, "100K"), (None, NO_BUDGET)])]
    ax = tsne_figure(models, np.arange(8.0).reshape(4, 2), "toy").get_axes()[0]
    sizes = [float(c.get_sizes()[0]) for c in ax.collections[:4]]
    assert sizes[0] == sizes[1] < sizes[2] and sizes[3] == MIDDLE_AREA
    assert [t.get_text() for t in ax.get_legend().get_texts()][-3:] == ["budget 1K", "budget 100K",
                                                                          "no parameter budget"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, war_and_peace):
    """An LSTM, a GRU (tiny, one epoch) and a 3-gram on 4,000 characters of War and Peace, and texts of others."""
    folder = tmp_path_factory.mktemp("compare")
    text = folder / "small.txt"
    text.write_text(war_and_peace[:4_000], encoding="utf-8")
    for model in ("lstm", "gru"):
        assert main(["train", "--text", str(text), "--model", model, "--layers", "1", "--hidden", "8", "--epochs",
                     "1", "--batch-size", "8", "--seq-length", "16", "--quiet", "--out", str(folder / model)]) == 0
    assert main(["ngram", "--text", str(text), "--order", "3", "--out", str(folder / "trigram"), "--quiet"]) == 0
    assert main(["nnn", "--text", str(text), "--context", "2", "--hidden", "4", "--epochs", "1", "--out",
                 str(folder / "nn2"), "--quiet"]) == 0
    (folder / "abc.txt").write_text("abc ab ba cab " * 300, encoding="utf-8")
    others = {"other_split": [str(text), "--split-fractions", "0.7", "0.15", "0.15"],
              "other_vocab": [str(folder / "abc.txt")]}
    for name, source in others.items():
        assert main(["ngram", "--text", *source, "--order", "2", "--out", str(folder / name), "--quiet"]) == 0
    return folder


def test_compare_command_prints_and_writes_the_table_agreement_and_no_tsne_for_three_models(runs, tmp_path, capsys):
    dirs = [str(runs / n) for n in ("lstm", "gru", "trigram")]
    out = tmp_path / "cmp"
    assert main(["compare", *dirs, "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert printed == json.loads((out / "compare.json").read_text())
    assert {p.name for p in out.glob("[!.]*")} == {"compare.json", "compare.csv", "agreement.csv", "losses.png",
                                              "agreement.png"}
    assert "no t-SNE map: 3 models" in captured.err and printed["tsne"] is None
    models = printed["models"]
    assert [(m["name"], m["kind"], m["type"], m["layers"]) for m in models] == [
        ("lstm", "rnn", "LSTM", 1), ("gru", "rnn", "GRU", 1), ("trigram", "ngram", "n-gram", None)]
    assert [m["params"] for m in models] == [4 * 8 * (len_vocab(runs) + 8 + 2) + 9 * len_vocab(runs),
                                             3 * 8 * (len_vocab(runs) + 8 + 2) + 9 * len_vocab(runs), None]
    for model, directory in zip(models, dirs):
        assert main(["evaluate", directory, "--json"]) == 0
        evaluation = json.loads(capsys.readouterr().out)
        assert (model["nats"], model["std"]) == (evaluation["nats"], evaluation["std"])
        assert model["dir"] == str((runs / model["name"]).resolve())
    agreement = np.array(printed["agreement"])
    assert agreement.shape == (3, 3) and np.diag(agreement).tolist() == [1.0] * 3
    assert np.array_equal(agreement, agreement.T)
    csv = (out / "compare.csv").read_text().splitlines()
    assert csv[0].startswith("name,dir,kind,type,layers,params,") and csv[1].startswith("lstm,") and len(csv) == 4
    assert (out / "agreement.csv").read_text().splitlines()[0] == "model,lstm,gru,trigram"

    assert main(["compare", *dirs, "--out", str(out)]) == 0  # the table as text, replacing the earlier result
    table = capsys.readouterr().out
    assert "LSTM 1" in table and "GRU 1" in table and "3-gram" in table and "nats/char ± bootstrap std" in table


def test_compare_command_draws_a_tsne_map_of_five_models_with_an_n_nn(runs, tmp_path, capsys):
    dirs = [str(runs / n) for n in ("lstm", "gru", "trigram", "nn2", "lstm")]
    out = tmp_path / "cmp"
    assert main(["compare", *dirs, "--names", "a", "b", "c", "d", "a_again", "--split", "val", "--out", str(out),
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert np.array(printed["tsne"]).shape == (5, 2) and (out / "tsne.png").is_file()
    assert printed["agreement"][0][4] == 1.0 and printed["text"]["source"].endswith("val split")
    v = len_vocab(runs)
    assert {k: printed["models"][3][k] for k in ("kind", "type", "layers", "params", "label")} == {
        "kind": "nnn", "type": "n-NN", "layers": None, "params": 2 * v * 4 + 4 + 5 * v, "label": "2-NN"}


@pytest.mark.parametrize("other, message", [("other_split", "another text or split"),
                                            ("other_vocab", "knows 4 characters")])
def test_a_model_of_another_corpus_is_refused_in_one_line_before_any_output(runs, tmp_path, capsys, other, message):
    out = tmp_path / "cmp"
    assert main(["compare", str(runs / "lstm"), str(runs / other), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def len_vocab(runs) -> int:
    return len(json.loads((runs / "lstm" / "config.json").read_text())["vocabulary"])


def test_a_run_trained_for_a_budget_is_placed_by_its_recorded_budget(runs, tmp_path, capsys):
    budgeted = tmp_path / "gru_budget"
    assert main(["train", "--text", str(runs / "small.txt"), "--model", "gru", "--layers", "1", "--params", "2000",
                 "--epochs", "1", "--batch-size", "8", "--seq-length", "16", "--quiet", "--out", str(budgeted)]) == 0
    assert json.loads((budgeted / "config.json").read_text())["model"]["budget"] == 2000
    assert main(["compare", str(runs / "lstm"), str(budgeted), "--out", str(tmp_path / "cmp"), "--json"]) == 0
    lstm, gru = json.loads(capsys.readouterr().out)["models"]
    assert gru["budget"] == 2000 and gru["params"] != 2000 and lstm["budget"] == lstm["params"]
