"""Training dynamics: the symmetric KL against hand-computed values, the mean over positions and the loss
difference on synthetic predictions, and ``rnnlens dynamics`` end to end on a tiny run with snapshots."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnlens.analyses.training_dynamics import FLOOR, closest_of, symmetric_kl, training_dynamics
from rnnlens.data.corpus import load_corpus
from rnnlens.errors import RnnlensError
from rnnlens.models.registry import load_predictor
from rnnlens.store.predictions import Predictions
from test_cli_safety import ok, refused, rnnlens


def hand_kl(p: list[float], q: list[float]) -> float:
    """KL(p‖q) in nats, term by term."""
    return sum(a * math.log(a / b) for a, b in zip(p, q))


def test_symmetric_kl_of_a_hand_computed_pair():
    p, q = [0.5, 0.5], [0.9, 0.1]
    # KL(p‖q) = ½ ln(0.5/0.9) + ½ ln(5) = 0.5108256; KL(q‖p) = 0.9 ln 1.8 + 0.1 ln 0.2 = 0.3680642
    assert hand_kl(p, q) == pytest.approx(0.5108256, abs=1e-7)
    assert hand_kl(q, p) == pytest.approx(0.3680642, abs=1e-7)
    got = symmetric_kl(np.array([p, q]), np.array([q, p]))
    assert got == pytest.approx([0.4394449, 0.4394449], abs=1e-7)  # symmetric: each row gives the same


def test_symmetric_kl_is_symmetric_and_zero_only_for_identical_distributions():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(5), 7), rng.dirichlet(np.ones(5), 7)
    expected = [(hand_kl(a, b) + hand_kl(b, a)) / 2 for a, b in zip(p, q)]
    assert symmetric_kl(p, q) == pytest.approx(expected, rel=1e-9)
    assert np.array_equal(symmetric_kl(p, q), symmetric_kl(q, p))
    assert np.array_equal(symmetric_kl(p, p), np.zeros(7))
    assert (symmetric_kl(p, q) > 0).all()


def test_a_probability_of_zero_is_clipped_at_the_floor_not_infinite():
    got = symmetric_kl(np.array([[0.5, 0.5]], np.float32), np.array([[1.0, 0.0]], np.float32))[0]
    by_hand = 0.5 * ((0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - FLOOR) * math.log(0.5 / FLOOR))
    assert FLOOR == 1e-30 and got == pytest.approx(by_hand, rel=1e-12) and got == pytest.approx(17.2694, abs=1e-4)


def predictions(distributions: list[list[float]], targets: list[int], sha: str = "t") -> Predictions:
    dist = np.array(distributions, np.float32)
    log_probs = np.log(dist[np.arange(len(targets)), targets].astype(np.float64))
    return Predictions({}, {"source": sha, "ids_sha256": sha, "chars": len(targets) + 1}, log_probs, dist)


def test_kl_is_the_mean_over_positions_and_the_loss_difference_is_run_minus_reference():
    targets = [0, 1, 1]
    early = predictions([[0.5, 0.5]] * 3, targets)
    late = predictions([[0.8, 0.2], [0.3, 0.7], [0.1, 0.9]], targets)
    ones = predictions([[0.9, 0.1]] * 3, targets)
    twos = predictions([[0.8, 0.2], [0.3, 0.7], [0.2, 0.8]], targets)
    kept = [({"weights": "snapshot-000000", "batch": 0, "epoch": 0.0}, early),
            ({"weights": "snapshot-000010", "batch": 10, "epoch": 0.5}, late)]
    result = training_dynamics(iter(kept), {"1-NN": ones, "2-NN": twos}, {"1-NN": 1, "2-NN": 2}, run="r")

    def sym(a, b):
        return (hand_kl(a, b) + hand_kl(b, a)) / 2
    first, second = result.to_dict()["snapshots"]
    assert first["kl"]["1-NN"] == pytest.approx(0.4394449, abs=1e-6)  # the same pair at every position
    assert first["kl"]["2-NN"] == pytest.approx((sym([.5, .5], [.8, .2]) + sym([.5, .5], [.3, .7])
                                                 + sym([.5, .5], [.2, .8])) / 3, rel=1e-6)
    assert second["kl"]["2-NN"] == pytest.approx(sym([.1, .9], [.2, .8]) / 3, rel=1e-6)  # two positions agree
    assert second["closest"] == "2-NN" and first["closest"] == "2-NN"
    assert first["runner_up"] == "1-NN" and first["gap"]["count"] == 3
    assert first["gap"]["estimate"] == pytest.approx(first["kl"]["1-NN"] - first["kl"]["2-NN"], rel=1e-9)
    loss_early, loss_ones = -math.log(0.5), -(math.log(0.9) + 2 * math.log(0.1)) / 3
    assert first["loss"] == pytest.approx(loss_early, rel=1e-6)
    assert first["loss_diff"]["1-NN"] == pytest.approx(loss_early - loss_ones, rel=1e-6)
    assert second["loss_diff"]["2-NN"] == pytest.approx(-(math.log(0.9) - math.log(0.8)) / 3, rel=1e-5)
    assert [(s["batch"], s["epoch"]) for s in (first, second)] == [(0, 0.0), (10, 0.5)]
    loss_twos = -(2 * math.log(0.8) + math.log(0.7)) / 3
    assert result.to_dict()["against"] == [{"name": "1-NN", "n": 1, "loss": pytest.approx(loss_ones)},
                                           {"name": "2-NN", "n": 2, "loss": pytest.approx(loss_twos)}]
    top, bottom = result.plot().get_axes()[:2]  # the two panels (the epochs axis on top comes third)
    assert [line.get_label() for line in top.get_lines()] == ["1-NN (n=1)", "2-NN (n=2)", "closest, decided"]
    decided = [s for s in (first, second) if s["decided"]]
    assert top.get_lines()[2].get_ydata().tolist() == [s["kl"][s["closest"]] for s in decided]
    assert top.get_lines()[1].get_ydata().tolist() == [first["kl"]["2-NN"], second["kl"]["2-NN"]]
    assert bottom.get_lines()[0].get_ydata().tolist() == [first["loss_diff"]["1-NN"], second["loss_diff"]["1-NN"]]


def test_the_closest_is_decided_only_when_the_gap_to_the_runner_up_is_surely_positive():
    rng = np.random.default_rng(0)
    noise = rng.exponential(1.0, (3, 3000))
    apart = closest_of({"1": noise[0] + 0.2, "2": noise[1], "3": noise[2] + 0.5}, resamples=500)
    assert (apart["closest"], apart["runner_up"], apart["decided"]) == ("2", "1", True)
    assert apart["gap"]["low"] > 0 and apart["gap"]["count"] == 3000
    assert "paired bootstrap over positions in blocks of 100" in apart["gap"]["method"]
    same = closest_of({"1": noise[0], "2": noise[0] + rng.normal(0, 0.01, 3000)}, resamples=500)
    assert not same["decided"] and same["gap"]["low"] <= 0 < same["gap"]["high"]
    alone = closest_of({"1": noise[0]})
    assert alone == {"closest": "1", "runner_up": None, "gap": None, "decided": False}


def test_predictions_of_another_text_or_without_distributions_are_refused():
    snapshot = {"weights": "snapshot-000000", "batch": 0, "epoch": 0.0}
    ones = predictions([[0.9, 0.1]] * 2, [0, 1])
    with pytest.raises(RnnlensError, match="scored on"):
        training_dynamics([(snapshot, predictions([[0.5, 0.5]] * 2, [0, 1], sha="other"))], {"1-NN": ones})
    bare = Predictions({}, ones.text, ones.log_probs)
    with pytest.raises(RnnlensError, match="no distributions"):
        training_dynamics([(snapshot, bare)], {"1-NN": ones})


@pytest.fixture(scope="module")
def trained(war_and_peace, tmp_path_factory):
    """A 6,000-character text, an LSTM with snapshots every 20 of its 59 batches, a 1-NN and a 2-NN."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks on a busy two-core machine: a second thread only waits
    root = tmp_path_factory.mktemp("dynamics")
    text = root / "small.txt"
    text.write_text(war_and_peace[:6000], encoding="utf-8")
    runs = {"run": root / "lstm", "n1": root / "n1", "n2": root / "n2", "plain": root / "plain"}
    for name, snapshot_every in (("run", "20"), ("plain", "0")):
        ok(rnnlens("train", "--text", text, "--model", "lstm", "--layers", "1", "--hidden", "16", "--epochs", "1",
                   "--batch-size", "4", "--seq-length", "20", "--snapshot-every", snapshot_every, "--quiet",
                   "--out", runs[name]))
    for n in (1, 2):
        ok(rnnlens("nnn", "--text", text, "--context", n, "--hidden", "8", "--epochs", "1", "--quiet",
                   "--out", runs[f"n{n}"]))
    yield text, runs
    torch.set_num_threads(before)


def test_dynamics_command_writes_what_it_prints_with_independently_recomputed_numbers(trained, tmp_path):
    text, runs = trained
    out = tmp_path / "dyn"
    ran = ok(rnnlens("dynamics", runs["run"], "--against", runs["n1"], runs["n2"], "--text", text, "--limit", "1000",
                     "--out", out, "--json"))
    printed = json.loads(ran.out)
    assert "snapshot 3/3: batch 40" in ran.err  # a line per snapshot, on stderr
    assert printed == json.loads((out / "dynamics.json").read_text())
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == \
        ["dynamics.csv", "dynamics.json", "dynamics.png", "dynamics.svg"]
    assert [a["n"] for a in printed["against"]] == [1, 2] and [a["name"] for a in printed["against"]] == ["1", "2"]
    assert [s["batch"] for s in printed["snapshots"]] == [0, 20, 40]  # 59 batches, every 20, and the initial weights
    assert [s["epoch"] for s in printed["snapshots"]] == pytest.approx([0, 20 / 59, 40 / 59])
    assert printed["text"]["chars"] == 1000
    cached = sorted(p.name.split("-")[0] for p in (Path(runs["run"]) / "predictions").glob("*"))
    assert "snapshot" not in cached  # a snapshot's distributions are read once, never kept in the run

    ids = load_corpus(text=text).vocab.encode(text.read_text(encoding="utf-8"))[:1000]
    references = {str(n): load_predictor(runs[f"n{n}"]) for n in (1, 2)}  # named by their n
    for s in printed["snapshots"]:
        rnn = load_predictor(runs["run"], weights=s["weights"])
        p = np.exp(rnn.predict_log_distributions(ids).astype(np.float64))
        assert s["loss"] == pytest.approx(-rnn.predict_log_probs(ids).mean(), rel=1e-9)
        for name, reference in references.items():
            q = np.exp(reference.predict_log_distributions(ids).astype(np.float64))
            kl_pq, kl_qp = (a * (np.log(a) - np.log(b)) for a, b in ((p, q), (q, p)))
            assert s["kl"][name] == pytest.approx(((kl_pq + kl_qp).sum(1) / 2).mean(), rel=1e-4)
            assert s["loss_diff"][name] == pytest.approx(s["loss"] + reference.predict_log_probs(ids).mean(), rel=1e-9)
    with open(out / "dynamics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 2 and float(rows[5]["kl"]) == pytest.approx(printed["snapshots"][2]["kl"]["2"])

    quiet = ok(rnnlens("dynamics", runs["run"], "--against", runs["n1"], "--names", "1-NN", "--text", text,
                       "--limit", "1000", "--out", out, "--quiet"))
    table = quiet.out
    assert "snapshot 1/" not in quiet.err
    assert "KL 1-NN" in table and "closest" in table  # an earlier result is replaced
    assert list(json.loads((out / "dynamics.json").read_text())["snapshots"][0]["kl"]) == ["1-NN"]


@pytest.mark.parametrize("limit", ["0", "1", "-5", "many"])
def test_a_bad_limit_is_refused_before_anything_is_written(trained, tmp_path, limit):
    text, runs = trained
    ran = rnnlens("dynamics", runs["run"], "--against", runs["n1"], "--text", text, "--limit", limit,
                  "--out", tmp_path / "dyn")
    refused(ran, "dynamics", "--limit", code=2)
    assert not (tmp_path / "dyn").exists()


def test_a_run_without_snapshots_is_refused_with_what_to_do(trained, tmp_path):
    text, runs = trained
    ran = rnnlens("dynamics", runs["plain"], "--against", runs["n1"], "--text", text, "--out", tmp_path / "d")
    refused(ran, "dynamics", "kept no snapshots", "--snapshot-every N")
    assert not (tmp_path / "d").exists()
