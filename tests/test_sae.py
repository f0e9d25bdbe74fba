"""Sparse autoencoders: metrics recomputed from the saved weights by plain numpy, a planted dictionary, the command."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from rnnlens.analyses.sae import SAEOptions, fit_sae
from rnnlens.data.features import FEATURES, compute_features
from rnnlens.models.trace import Trace
from in_process import refused, rnnlens
from test_trace import run_dir  # noqa: F401  (the fixture: a run directory with a random 2-layer LSTM)

TEXT = 'He said "yes and no" then left. "Why?" she asked; the men ran.\n' * 60


def planted_trace(text: str, rng: np.random.Generator) -> Trace:
    """``layer1.cell`` ``(rows, 10)``: 2 of 12 random unit directions active at each row (the others 0), and
    direction 0 active (at 1) exactly inside double quotes."""
    rows = len(text) - 1
    directions = np.random.default_rng(99).normal(size=(12, 10))  # the same dictionary on every text
    codes = np.zeros((rows, 12))
    chosen = rng.integers(1, 12, size=(rows, 2))
    codes[np.arange(rows)[:, None], chosen] = rng.uniform(0.5, 2, size=(rows, 2))
    codes[:, 0] = compute_features(text, ["in_double_quotes"])["in_double_quotes"][:rows]
    return Trace({"layer1.cell": (codes @ directions).astype(np.float32)}, text,
                 {"model_description": "planted", "gates": [], "text": {"source": "planted", "chars": len(text)}})


def numpy_forward(weights: dict[str, np.ndarray], x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes and reconstruction of rows ``x`` from the saved tensors, written out with numpy."""
    s = weights["scale"]
    pre = np.maximum((x * s - weights["b_dec"]) @ weights["W_enc"] + weights["b_enc"], 0)
    threshold = np.sort(pre, axis=1)[:, -k][:, None]
    codes = np.where(pre >= threshold, pre, 0)
    return codes, (codes @ weights["W_dec"] + weights["b_dec"]) / s


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    rng = np.random.default_rng(0)
    train, test = planted_trace(TEXT[:3000], rng), planted_trace(TEXT[:2500], rng)
    options = SAEOptions(latents=24, topk=3, steps=1500, batch=256, learning_rate=3e-3)
    result = fit_sae(train, test, "layer1.cell", options, {n: FEATURES[n] for n in ("in_double_quotes", "after_space")})
    out = tmp_path_factory.mktemp("sae") / "out"
    result.save(out)
    return result, test, out


def test_the_saved_metrics_are_those_of_the_saved_weights(trained):
    result, test, out = trained
    saved = json.loads((out / "sae.json").read_text())
    codes, rebuilt = numpy_forward(load_file(out / "sae.safetensors"), np.asarray(test["layer1.cell"], np.float64), 3)
    x = np.asarray(test["layer1.cell"], np.float64)
    assert saved["l0"] == pytest.approx(np.count_nonzero(codes, axis=1).mean(), abs=1e-3)
    assert saved["l0"] <= 3
    residual, spread = ((x - rebuilt) ** 2).sum(), ((x - x.mean(axis=0)) ** 2).sum()
    assert saved["variance_explained"] == pytest.approx(1 - residual / spread, abs=1e-4)
    assert saved["dead_fraction"] == pytest.approx(np.mean(~(codes > 0).any(axis=0)), abs=1e-9)
    assert saved["loss_recovered"] is None and saved["latents"] == 24 and saved["key"] == "layer1.cell"


def test_a_planted_dictionary_is_recovered_and_its_quote_direction_is_a_latent(trained):
    result, test, _ = trained
    assert result.variance_explained > 0.9  # 2-3 active directions of 12, k=3
    quotes = next(f for f in result.features if f["feature"] == "in_double_quotes")
    assert quotes["score"] > 0.97  # one latent fires inside quotes and (almost) nowhere else
    assert quotes["score"] > quotes["best_unit"]["score"] + 0.02  # no unit does: each mixes every direction
    assert all('"' in c.split("[")[0] or c.endswith('["]') for c in quotes["contexts"])  # its top rows quote


def test_sae_command_prints_the_contract_and_saves_the_weights(run_dir, tmp_path):  # noqa: F811
    run, _ = run_dir
    out = tmp_path / "sae"
    ran = rnnlens("sae", run, "--key", "layer2.cell", "--train-split", "train", "--split", "val", "--latents", 32,
                  "--topk", 4, "--steps", 40, "--features", "in_double_quotes", "word_position", "--json", "--quiet", "--out", out)
    assert ran.code == 0, ran.err
    printed = json.loads(ran.out)
    assert printed == json.loads((out / "sae.json").read_text())
    assert {"key", "latents", "l0", "variance_explained", "loss_recovered", "dead_fraction", "features"} <= set(printed)
    assert printed["latents"] == 32 and 0 < printed["l0"] <= 4
    # spliced into an untrained recurrence, a 40-step SAE's error compounds until the state diverges
    assert printed["loss_recovered"] is not None or "diverged" in printed["loss_recovered_note"]
    assert {f["feature"] for f in printed["features"]} == {"in_double_quotes", "word_position"}
    assert load_file(out / "sae.safetensors")["W_dec"].shape == (32, 16)
    assert (out / "latents.csv").is_file() and (out / "sae.png").stat().st_size > 0


@pytest.mark.parametrize("args, pattern", [
    (["--key", "cell"], "one trace key such as layer2.cell"),
    (["--key", "layer2.cell", "--latents", 4, "--topk", 8], "top-k 8 exceeds the 4 latents"),
])
def test_sae_refuses_what_it_cannot_train_and_writes_nothing(run_dir, tmp_path, args, pattern):  # noqa: F811
    run, _ = run_dir
    refused(rnnlens("sae", run, *args, "--steps", 5, "--out", tmp_path / "out"), "sae", pattern)
    assert not (tmp_path / "out").exists()


def test_loss_recovered_is_one_for_a_perfect_reconstruction_and_zero_for_none():
    """The reconstruction is spliced into the forward pass at every step (models/interventions.Transform)."""
    import torch

    from rnnlens.analyses.sae import loss_recovered
    from rnnlens.data.corpus import Vocabulary
    from rnnlens.models.rnn.network import CharRNN, ModelConfig
    from rnnlens.models.rnn.predictor import RNNPredictor
    from rnnlens.models.trace import Trace

    vocab = Vocabulary.from_text(TEXT)
    torch.manual_seed(1)
    model = CharRNN(ModelConfig("lstm", len(vocab), 16, 2))
    model.init_uniform(0.5)
    predictor = RNNPredictor(model, vocab, {})
    text = Trace({}, TEXT[:600], {})
    assert loss_recovered(predictor, text, "layer2.cell", lambda x: x) == pytest.approx(1.0, abs=1e-5)
    assert loss_recovered(predictor, text, "layer2.cell", np.zeros_like) == pytest.approx(0.0, abs=1e-9)
    half = loss_recovered(predictor, text, "layer2.cell", lambda x: 0.5 * x)
    assert half != pytest.approx(1.0, abs=1e-3) and np.isfinite(half)
