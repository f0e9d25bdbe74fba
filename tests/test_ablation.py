"""rnnlens ablate: each unit replaced alone, its loss change overall and where features hold, against random
units of its layer; the numbers recomputed here from the intervened model's own predictions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from in_process import refused, rnnlens
from random_run import random_run
from rnnlens.data.corpus import load_corpus
from rnnlens.data.features import FEATURES
from rnnlens.models.interventions import Clamp, ZeroAblate, with_interventions
from rnnlens.models.registry import load_predictor
from rnnlens.store.runs import save_tensors


@pytest.fixture(scope="module")
def run(tmp_path_factory, war_and_peace):
    """A random 2-layer LSTM whose decoder leans hard on unit 0 of layer 2, and 3,000 characters to score."""
    base = tmp_path_factory.mktemp("ablate")
    (base / "corpus.txt").write_text(war_and_peace[:20_000], encoding="utf-8")
    corpus = load_corpus(text=base / "corpus.txt")
    out, model = random_run(base / "lstm", corpus, layers=2, hidden=16, seed=2)
    with torch.no_grad():
        model.decoder.weight[:, 0] = torch.linspace(-6, 6, len(corpus.vocab))
    save_tensors(out / "best.safetensors", {f"model.{k}": v for k, v in model.state_dict().items()})
    text = base / "text.txt"
    text.write_text(war_and_peace[30_000:33_000], encoding="utf-8")
    return out, text


def loss(predictor, ids, hooks=None):
    return -(with_interventions(predictor, hooks) if hooks else predictor).predict_log_probs(ids)


def test_each_units_change_and_the_random_units_percentile_are_the_intervened_models_own(run, tmp_path):
    out, text = run
    ran = rnnlens("ablate", out, "--text", text, "--units", "layer2.hidden:0", "layer1.cell:3", "--random", "6",
                  "--features", "in_double_quotes", "--out", tmp_path / "a", "--json")
    assert ran.code == 0, ran.err
    report = json.loads(ran.out)
    assert report == json.loads((tmp_path / "a" / "ablation.json").read_text())
    predictor = load_predictor(out)
    ids = predictor.vocab.encode(text.read_text(encoding="utf-8"))
    baseline = loss(predictor, ids)
    assert report["baseline_nats"] == pytest.approx(baseline.mean(), abs=1e-9)
    quotes = FEATURES["in_double_quotes"](text.read_text(encoding="utf-8")) > 0.5  # row t belongs to text[t]
    for entry, (key, unit) in zip(report["units"], [("layer2.hidden", 0), ("layer1.cell", 3)]):
        assert entry["unit"] == f"{key}:{unit}"
        ablated = loss(predictor, ids, {key: [ZeroAblate(units=[unit])]})
        assert entry["delta_nats"] == pytest.approx(ablated.mean() - baseline.mean(), abs=1e-6)
        randoms = [loss(predictor, ids, {key: [ZeroAblate(units=[r])]}).mean() - baseline.mean()
                   for r in report["random"]["units"][key]]
        overall = entry["feature"]["all positions"]
        assert overall["random_p95"] == pytest.approx(np.percentile(randoms, 95), abs=1e-6)
        assert unit not in report["random"]["units"][key] and len(report["random"]["units"][key]) == 6
        inside = entry["feature"]["in_double_quotes"]
        assert inside["positions"] == int(quotes[:-1].sum()) > 500
        assert inside["nats"] == pytest.approx(ablated[quotes[:-1]].mean(), abs=1e-6)


def test_a_clamp_value_and_the_mean_are_what_the_units_become_and_the_unit_the_decoder_leans_on_stands_out(
        run, tmp_path):
    out, text = run
    ran = rnnlens("ablate", out, "--text", text, "--units", "layer1.hidden:2", "layer2.hidden:0", "--value", "5",
                  "--random", "8", "--out", tmp_path / "v", "--json")
    assert ran.code == 0, ran.err
    predictor = load_predictor(out)
    ids = predictor.vocab.encode(text.read_text(encoding="utf-8"))
    clamped = loss(predictor, ids, {"layer1.hidden": [Clamp(units=[2], value=5.0)]})
    report = json.loads(ran.out)
    assert report["units"][0]["nats"] == pytest.approx(clamped.mean(), abs=1e-6)
    leaned_on, others = report["units"][1]["feature"]["all positions"], report["units"][0]["feature"]["all positions"]
    assert leaned_on["verdict"] == "stands out" and leaned_on["delta_nats"] > 1
    assert others["verdict"] != "stands out"
    ran = rnnlens("ablate", out, "--text", text, "--units", "layer1.hidden:2", "--mean", "--random", "3",
                  "--out", tmp_path / "m", "--json")
    assert json.loads(ran.out)["replacement"]["how"] == "mean" and ran.code == 0


def test_bad_units_and_numeric_features_are_refused(run, tmp_path):
    out, text = run
    refused(rnnlens("ablate", out, "--text", text, "--units", "layer2.cell", "--out", tmp_path / "x"), "ablate",
            "expected KEY:UNIT")
    refused(rnnlens("ablate", out, "--text", text, "--units", "layer3.cell:1", "--out", tmp_path / "x"), "ablate",
            "no hook point 'layer3.cell'")
    refused(rnnlens("ablate", out, "--text", text, "--units", "layer1.cell:16", "--out", tmp_path / "x"), "ablate",
            "unit 16 is out of range")
    refused(rnnlens("ablate", out, "--text", text, "--units", "layer1.cell:1", "--features", "line_position",
                    "--out", tmp_path / "x"), "ablate", "not binary")
    assert not (tmp_path / "x").exists()
