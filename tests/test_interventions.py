"""Issue 19: the hookable forward pass. Hooks that change nothing give the fused kernels' losses and the
trace; clamps and ablations equal a plain step loop written here over the model's weights; an intervened
model never shares a clean model's cache; a new kind of intervention is one class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch

from rnnlens.data.corpus import Vocabulary
from rnnlens.data.texts import Text
from rnnlens.models.interventions import (Clamp, Intervention, MeanAblate, Patch, Steer, ZeroAblate, interventions,
                                          parse_clamp, with_interventions)
from rnnlens.models.rnn.network import CharRNN, ModelConfig
from rnnlens.models.rnn.predictor import RNNPredictor
from rnnlens.models.sampling import sample
from rnnlens.store.predictions import predictions_for
from rnnlens.store.traces import compute_trace

CHARS = "".join(sorted("abcdefghij .,\n\"'"))
HIDDEN = 24


def predictor(model_type: str, layers: int = 2, seed: int = 0) -> RNNPredictor:
    torch.manual_seed(seed)
    model = CharRNN(ModelConfig(model_type, len(CHARS), HIDDEN, layers))
    model.init_uniform(0.4)
    return RNNPredictor(model, Vocabulary(CHARS), {})


def ids(n: int = 600, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(len(CHARS), size=n)


def text_of(p: RNNPredictor, n: int = 600) -> Text:
    return Text(ids(n), "random ids")


# --- a plain step loop over the weights, written from the equations, with one unit replaced ---

def plain_log_probs(p: RNNPredictor, tokens: np.ndarray, replace: tuple[int, str, int, float] | None = None):
    """Log-probabilities of each next id; ``replace`` = (layer from 1, quantity, unit, value or None for the
    layer's mean) applied right after the quantity is computed."""
    rnn, decoder, kind = p.model.rnn, p.model.decoder, p.model.config.model_type
    state = [(torch.zeros(HIDDEN), torch.zeros(HIDDEN)) for _ in range(rnn.num_layers)]
    out = []
    with torch.no_grad():
        for token in tokens[:-1]:
            x = torch.nn.functional.one_hot(torch.tensor(int(token)), len(CHARS)).float()
            for k in range(rnn.num_layers):
                w_ih, w_hh = getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"weight_hh_l{k}")
                b_ih, b_hh = getattr(rnn, f"bias_ih_l{k}"), getattr(rnn, f"bias_hh_l{k}")
                h, c = state[k]

                def hook(name, value):
                    if replace and replace[0] == k + 1 and replace[1] == name:
                        value = value.clone()
                        value[replace[2]] = replace[3]
                    return value

                if kind == "lstm":
                    g = w_ih @ x + b_ih + w_hh @ h + b_hh
                    i, f, cand, o = g.chunk(4)
                    i, f, cand, o = (hook(n, fn(v)) for n, fn, v in (("input_gate", torch.sigmoid, i),
                                     ("forget_gate", torch.sigmoid, f), ("candidate", torch.tanh, cand),
                                     ("output_gate", torch.sigmoid, o)))
                    c = hook("cell", f * c + i * cand)
                    h = hook("hidden", o * torch.tanh(c))
                else:  # gru
                    gi, gh = w_ih @ x + b_ih, w_hh @ h + b_hh
                    r = hook("reset_gate", torch.sigmoid(gi[:HIDDEN] + gh[:HIDDEN]))
                    z = hook("update_gate", torch.sigmoid(gi[HIDDEN:2 * HIDDEN] + gh[HIDDEN:2 * HIDDEN]))
                    n = hook("candidate", torch.tanh(gi[2 * HIDDEN:] + r * gh[2 * HIDDEN:]))
                    h = hook("hidden", (1 - z) * n + z * h)
                state[k] = (h, c)
                x = h
            out.append(torch.log_softmax(decoder(x), -1))
    return torch.stack(out).numpy()[np.arange(len(tokens) - 1), tokens[1:]]


@pytest.mark.parametrize("model_type", ["lstm", "gru", "rnn"])
def test_hooks_that_change_nothing_give_evaluates_losses_and_the_trace(model_type):
    p = predictor(model_type)
    text = text_of(p)
    nothing = {"layer1.hidden": [Steer(units=range(HIDDEN), vector=[0.0] * HIDDEN)]}  # steps every layer
    noop = with_interventions(p, nothing)
    assert np.abs(noop.predict_log_probs(text.ids) - p.predict_log_probs(text.ids)).max() < 1e-6
    clean, stepped = compute_trace(p, text), compute_trace(noop, text)
    assert set(clean) == set(stepped)
    for key in clean:
        assert np.abs(clean[key] - stepped[key]).max() < 1e-6, key


@pytest.mark.parametrize("model_type,key,unit,value", [
    ("lstm", "layer1.cell", 5, 2.0), ("lstm", "layer2.hidden", 3, -0.7), ("lstm", "layer1.forget_gate", 0, 1.0),
    ("gru", "layer1.hidden", 7, 0.0), ("gru", "layer2.reset_gate", 2, 0.0)])
def test_a_clamp_equals_a_plain_step_loop_with_the_unit_replaced(model_type, key, unit, value):
    p = predictor(model_type)
    tokens = ids(300)
    layer, quantity = int(key[5]), key.split(".")[1]
    with interventions(p, {key: [Clamp(units=[unit], value=value)]}):
        ours = p.predict_log_probs(tokens)
    expected = plain_log_probs(p, tokens, (layer, quantity, unit, value))
    assert np.abs(ours - expected).max() < 1e-5
    assert np.abs(ours - plain_log_probs(p, tokens)).max() > 1e-3  # the clamp changed something


def test_zero_and_mean_ablation_equal_the_plain_loop_and_rows_run_variants_side_by_side():
    p = predictor("lstm")
    tokens = ids(300)
    means = compute_trace(p, Text(tokens, "x"))["layer2.cell"].mean(0)
    zero = with_interventions(p, {"layer2.cell": [ZeroAblate(units=[4])]}).predict_log_probs(tokens)
    assert np.abs(zero - plain_log_probs(p, tokens, (2, "cell", 4, 0.0))).max() < 1e-5
    mean = with_interventions(p, {"layer2.cell": [MeanAblate(units=[9], means=[means[9]])]}).predict_log_probs(tokens)
    assert np.abs(mean - plain_log_probs(p, tokens, (2, "cell", 9, float(means[9])))).max() < 1e-5
    # three variants in one batch: row r ablates unit units[r]
    units = [4, 9, 11]
    batch = torch.as_tensor(np.tile(tokens[:-1], (3, 1)))
    logits, _ = p.hooked.forward(batch, {"layer2.cell": [ZeroAblate(units=units, rows=[0, 1, 2])]})
    rows = torch.log_softmax(logits, -1).gather(2, torch.as_tensor(np.tile(tokens[1:], (3, 1)))[..., None])[..., 0]
    for r, u in enumerate(units):
        alone = with_interventions(p, {"layer2.cell": [ZeroAblate(units=[u])]}).predict_log_probs(tokens)
        assert np.abs(rows[r].detach().numpy() - alone).max() < 1e-5


def test_a_clamped_sample_continues_from_the_intervened_state():
    """Each sampled character's distribution is the intervened model's over the whole text so far."""
    p = predictor("lstm")
    hooks = {"layer1.cell": [Clamp(units=[2], value=3.0)]}
    with interventions(p, hooks):
        text = "ab" + "".join(sample(p, 40, prime="ab", seed=3))
        again = "ab" + "".join(sample(p, 40, prime="ab", seed=3))
        stream = p.stream(p.vocab.encode("ab"))
        stepped = [next(stream)] + [stream.send(int(i)) for i in p.vocab.encode(text[2:])]
        whole = p.predict_log_distributions(p.vocab.encode(text + "a"))
    clean = "ab" + "".join(sample(p, 40, prime="ab", seed=3))
    assert text == again and text != clean
    assert np.abs(np.array(stepped) - whole[1:]).max() < 1e-5


def test_a_patch_gives_the_values_another_text_held():
    p = predictor("gru")
    source_text = Text(ids(200, seed=5), "source")
    source = compute_trace(p, source_text)["layer1.hidden"]
    patched = with_interventions(p, {"layer1.hidden": [Patch(units=[0, 1, 2], source=source)]})
    trace = compute_trace(patched, text_of(p, 150))
    assert np.array_equal(trace["layer1.hidden"][:, :3], source[:149, :3])


def test_an_intervened_model_never_shares_the_clean_models_cache(tmp_path):
    p = predictor("lstm")
    p.identity = {"kind": "rnn", "run_dir": str(tmp_path), "weights": "best", "sha256": "0" * 64}
    text = text_of(p, 300)
    clean = predictions_for(p, text).log_probs
    clamped = with_interventions(p, {"layer1.cell": [Clamp(units=[1], value=5.0)]})
    assert clamped.identity["interventions"] == [{"key": "layer1.cell", "type": "clamp", "units": [1], "value": 5.0}]
    changed = predictions_for(clamped, text).log_probs
    assert np.abs(changed - clean).max() > 1e-3
    assert np.array_equal(predictions_for(p, text).log_probs, clean)  # the clean cache was not overwritten
    assert len(list((tmp_path / "predictions").iterdir())) == 2
    assert "interventions" not in p.identity and not p.hooks


@dataclass(frozen=True)
class Scale(Intervention):
    """A kind of intervention the library does not have: units multiplied by ``factor``."""

    factor: float = 1.0
    name: ClassVar[str] = "scale"

    def new_values(self, current, position):
        return current * self.factor

    def parameters(self):
        return {"factor": self.factor}


def test_a_new_kind_of_intervention_is_one_class():
    p = predictor("lstm")
    tokens = ids(200)
    scaled = with_interventions(p, {"layer1.cell": [Scale(units=[3], factor=0.0, positions=range(50, 200))]})
    zero_late = with_interventions(p, {"layer1.cell": [ZeroAblate(units=[3], positions=range(50, 200))]})
    assert np.abs(scaled.predict_log_probs(tokens) - zero_late.predict_log_probs(tokens)).max() < 1e-7
    before = scaled.predict_log_probs(tokens)[:50]
    assert np.abs(before - p.predict_log_probs(tokens)[:50]).max() < 1e-6  # nothing changes before position 50
    assert scaled.identity["interventions"][0]["type"] == "scale"


def test_bad_hook_points_units_and_clamp_specs_are_refused_in_words():
    p = predictor("gru")
    with pytest.raises(Exception, match="no hook point 'layer1.cell'.*layer1.hidden"):
        with_interventions(p, {"layer1.cell": [Clamp(units=[0], value=1.0)]})
    with pytest.raises(Exception, match="unit 24 is out of range.*0 to 23"):
        with_interventions(p, {"layer2.hidden": [Clamp(units=[24], value=1.0)]})
    assert parse_clamp("layer2.cell:151,3=-1.5") == ("layer2.cell", Clamp(units=(151, 3), value=-1.5))
    with pytest.raises(Exception, match="expected KEY:UNIT=VALUE"):
        parse_clamp("layer2.cell=1")


def test_sample_clamp_is_the_intervened_models_sample_and_repeats_with_its_seed(tmp_path, war_and_peace):
    from in_process import refused, rnnlens
    from random_run import random_run
    from rnnlens.data.corpus import load_corpus

    (tmp_path / "corpus.txt").write_text(war_and_peace[:5000], encoding="utf-8")
    out, _ = random_run(tmp_path / "run", load_corpus(text=tmp_path / "corpus.txt"), layers=2, hidden=16)
    args = ["sample", out, "--length", "60", "--seed", "4", "--prime", "The ", "--quiet"]
    clamped = rnnlens(*args, "--clamp", "layer2.cell:3,5=2.5", "--clamp", "layer1.hidden:0=-1")
    assert clamped.code == 0, clamped.err
    assert clamped.out == rnnlens(*args, "--clamp", "layer2.cell:3,5=2.5", "--clamp", "layer1.hidden:0=-1").out
    assert clamped.out != rnnlens(*args).out
    from rnnlens.models.registry import load_predictor
    hooks = {"layer2.cell": [Clamp(units=[3, 5], value=2.5)], "layer1.hidden": [Clamp(units=[0], value=-1.0)]}
    expected = "The " + "".join(sample(with_interventions(load_predictor(out), hooks), 60, prime="The ", seed=4))
    assert clamped.out == expected + "\n"
    refused(rnnlens(*args, "--clamp", "layer2.cell:16=1"), "sample", "unit 16 is out of range")
