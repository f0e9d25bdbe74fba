"""Error overlap: regions against direct NumPy counts on synthetic predictions, the figures, the command end to end."""

import json
from itertools import combinations

import numpy as np
import pytest
from matplotlib.patches import Circle

from rnnlens.analyses.error_overlap import error_overlap, region_counts
from rnnlens.cli import main
from rnnlens.data.corpus import load_text_corpus
from rnnlens.errors import RnnlensError
from rnnlens.models.registry import load_predictor
from rnnlens.store.predictions import Predictions

ORDERS = (1, 2, 3)


def synthetic(models: int, chars: int = 2000, seed: int = 0, sha: str = "same") -> dict[str, Predictions]:
    """Random true-char probabilities in (0, 1) for ``models`` models over one made-up text of ``chars + 1`` ids."""
    rng = np.random.default_rng(seed)
    text = {"source": "synthetic", "ids_sha256": sha, "chars": chars + 1}
    return {f"m{i}": Predictions({}, text, np.log(rng.uniform(0.01, 1.0, chars))) for i in range(models)}


def direct_region(wrong: np.ndarray, members: tuple[int, ...]) -> int:
    """Positions where exactly the models ``members`` err (all of them, none of the others)."""
    inside = np.ones(wrong.shape[1], bool)
    for i in range(len(wrong)):
        inside &= wrong[i] if i in members else ~wrong[i]
    return int(inside.sum())


@pytest.mark.parametrize("models, threshold", [(3, 0.5), (4, 0.5), (4, 0.3)])
def test_regions_are_the_direct_counts_and_partition_the_errors(models, threshold):
    predictions = synthetic(models)
    wrong = np.exp(np.stack([p.log_probs for p in predictions.values()])) < threshold
    result = error_overlap(predictions, threshold=threshold)
    names = list(predictions)
    assert len(result.regions) == 2 ** models - 1
    assert len({members for members, _ in result.regions}) == len(result.regions)
    for members, count in result.regions:
        assert count == direct_region(wrong, tuple(names.index(m) for m in members)), members
    assert result.any_error == int(wrong.any(axis=0).sum()) == sum(c for _, c in result.regions)
    for i, name in enumerate(names):
        assert result.errors[name] == int(wrong[i].sum())
        assert result.errors[name] == sum(c for members, c in result.regions if name in members)
    assert result.chars == 2000
    every = result.to_dict()["regions"]
    assert sum(r["share"] for r in every) == pytest.approx(1.0)
    assert sum(r["share_of_chars"] for r in every) == pytest.approx(result.any_error / 2000)


def test_the_shared_share_is_bootstrapped_over_the_error_positions_in_blocks():
    predictions = synthetic(3, chars=5000)
    wrong = np.exp(np.stack([p.log_probs for p in predictions.values()])) < 0.5
    shared = error_overlap(predictions).to_dict()["shared"]
    erring = wrong.sum(axis=0)
    assert shared["count"] == int((erring > 0).sum())
    assert shared["estimate"] == pytest.approx((erring >= 2).sum() / (erring > 0).sum())
    assert shared["low"] < shared["estimate"] < shared["high"]
    assert shared["method"] == "bootstrap over error positions in blocks of 100, 1000 resamples"


def test_region_codes_set_one_bit_per_erring_model():
    wrong = np.array([[1, 0, 1, 0, 1], [0, 0, 1, 1, 1], [0, 0, 0, 0, 1]], bool)
    assert region_counts(wrong).tolist() == [1, 1, 1, 1, 0, 0, 0, 1]  # none, 0, 1, 0&1, ..., all three


def test_a_probability_at_the_threshold_is_not_an_error():
    text = {"source": "t", "ids_sha256": "x", "chars": 5}
    probs = {"a": [0.5, 0.49, 0.9, 0.1], "b": [0.5, 0.9, 0.2, 0.05]}
    result = error_overlap({n: Predictions({}, text, np.log(np.array(p))) for n, p in probs.items()})
    assert dict(result.regions) == {("a",): 1, ("b",): 1, ("a", "b"): 1}
    assert result.errors == {"a": 2, "b": 2}


def test_predictions_of_other_texts_thresholds_and_single_models_are_refused():
    mixed = {**synthetic(2), "other": synthetic(1, sha="another")["m0"]}
    with pytest.raises(RnnlensError, match="give predictions of one text"):
        error_overlap(mixed)
    with pytest.raises(RnnlensError, match="threshold"):
        error_overlap(synthetic(2), threshold=1.0)
    with pytest.raises(RnnlensError, match="at least 2"):
        error_overlap(synthetic(1))


def test_three_models_draw_a_venn_with_seven_labelled_regions_and_five_an_upset_chart():
    result = error_overlap(synthetic(3))
    ax = result.plot().get_axes()[0]
    assert sum(isinstance(p, Circle) for p in ax.patches) == 3
    texts = [t.get_text() for t in ax.texts]
    for _, count in result.regions:
        assert any(t.startswith(f"{count:,}\n") for t in texts)
    upset = error_overlap(synthetic(5, chars=500))
    bars_ax, dots_ax = upset.plot().get_axes()
    heights = [int(b.get_height()) for b in bars_ax.patches]
    assert heights == sorted((c for _, c in upset.regions if c > 0), reverse=True)[:len(heights)]
    rows = {y: t.get_text().split(" (")[0] for y, t in zip(dots_ax.get_yticks(), dots_ax.get_yticklabels())}
    assert [rows[y] for y in sorted(rows, reverse=True)] == ["m0", "m1", "m2", "m3", "m4"]  # first model on top


@pytest.fixture(scope="module")
def ngram_runs(tmp_path_factory, war_and_peace):
    """Run directories of n-gram models of orders 1, 2, 3 on the first 30,000 characters of War and Peace."""
    folder = tmp_path_factory.mktemp("ngrams")
    text = folder / "small.txt"
    text.write_text(war_and_peace[:30_000], encoding="utf-8")
    for order in ORDERS:
        assert main(["ngram", "--text", str(text), "--order", str(order), "--out", str(folder / f"g{order}"),
                     "--quiet"]) == 0
    return text, [folder / f"g{order}" for order in ORDERS]


def test_overlap_command_counts_what_the_models_predict(ngram_runs, tmp_path, capsys):
    text, runs = ngram_runs
    out = tmp_path / "ov"
    assert main(["overlap", *map(str, runs), "--names", "uni", "bi", "tri", "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((out / "overlap.json").read_text())
    assert {p.name for p in out.iterdir()} >= {"overlap.json", "overlap.csv", "overlap.png", "overlap.svg"}
    ids = load_text_corpus(text).split_ids("test")
    wrong = np.stack([np.exp(load_predictor(r).predict_log_probs(ids)) < 0.5 for r in runs])
    assert printed["models"] == ["uni", "bi", "tri"] and printed["threshold"] == 0.5
    assert printed["chars"] == len(ids) - 1
    assert printed["errors"] == {n: int(w.sum()) for n, w in zip(printed["models"], wrong)}
    expected = {tuple(printed["models"][i] for i in m): direct_region(wrong, m)
                for k in (1, 2, 3) for m in combinations(range(3), k)}
    assert {tuple(r["models"]): r["count"] for r in printed["regions"]} == expected
    csv_lines = (out / "overlap.csv").read_text().splitlines()
    assert csv_lines[0] == "region,uni,bi,tri,count,share,share_of_chars" and len(csv_lines) == 8

    assert main(["overlap", *map(str, runs[1:]), "--split", "val", "--threshold", "0.2", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "p(true char) < 0.2" in table and "g2 only" in table and "all" in table


def test_overlap_command_refuses_a_bad_threshold_and_a_single_model(ngram_runs, tmp_path, capsys):
    _, runs = ngram_runs
    out = tmp_path / "ov"
    for bad in ("0", "1.5", "half"):
        with pytest.raises(SystemExit) as exit_info:
            main(["overlap", *map(str, runs), "--threshold", bad, "--out", str(out)])
        assert exit_info.value.code == 2
        assert "--threshold" in capsys.readouterr().err
    assert main(["overlap", str(runs[0]), "--out", str(out)]) == 1
    assert "at least 2" in capsys.readouterr().err
    assert not out.exists()
