"""Traces: exact against the fused torch modules, stored memory-mappable, never read when incomplete."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnlens.store.runs import save_tensors, write_config
from rnnlens.cli import main
from rnnlens.data.corpus import Vocabulary, load_corpus
from rnnlens.analyses.evaluation import evaluate
from rnnlens.models.rnn.network import CharRNN, ModelConfig
from rnnlens.data.texts import Text
from rnnlens.models.registry import load_predictor as load_rnn
from rnnlens.models.rnn.stages import Stage, run_stages
from rnnlens.models.rnn.trace import QUANTITIES, compute_trace, layer_key, linear_recurrence, trace_keys
from rnnlens.store import traces as trace_store
from rnnlens.store.traces import IncompleteTrace, ensure_trace, open_trace, write_trace
from rnnlens.store.traces import compute_trace as trace_predictor

TOLERANCE = 1e-5


def random_model(model_type: str, layers: int, vocab_size: int, hidden: int = 24, seed: int = 0) -> CharRNN:
    """A model with weights wide enough (uniform +-0.6) that states and gates swing and saturate."""
    torch.manual_seed(seed)
    model = CharRNN(ModelConfig(model_type, vocab_size, hidden, layers))
    model.init_uniform(0.6)
    return model.eval()


@torch.no_grad()
def fused_step_by_step(model: CharRNN, ids: np.ndarray):
    """Reference: the multi-layer fused module fed one character at a time; its state after each
    step gives h (and c) of every layer. Returns (h, c or None) as (layers, N-1, H) and log-probs."""
    x = F.one_hot(torch.as_tensor(ids[:-1]), model.config.vocab_size).float()[None]
    state, hs, cs = None, [], []
    for t in range(x.shape[1]):
        _, state = model.rnn(x[:, t:t + 1], state)
        if isinstance(state, tuple):
            hs.append(state[0][:, 0].clone())
            cs.append(state[1][:, 0].clone())
        else:
            hs.append(state[:, 0].clone())
    logits, _ = model(torch.as_tensor(ids[:-1])[None])  # whole text in one fused call
    log_probs = torch.log_softmax(logits[0], -1).gather(1, torch.as_tensor(ids[1:])[:, None])[:, 0]
    return torch.stack(hs, 1).numpy(), (torch.stack(cs, 1).numpy() if cs else None), log_probs.numpy()


@pytest.fixture(scope="module")
def wp_ids(war_and_peace):
    text = war_and_peace[5000:5300]
    vocab = Vocabulary.from_text(text)
    return vocab, vocab.encode(text)


@pytest.mark.parametrize("model_type", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 3])
def test_trace_equals_the_fused_modules_for_every_layer(wp_ids, model_type, layers):
    vocab, ids = wp_ids
    model = random_model(model_type, layers, len(vocab))
    hidden, cell, log_probs = fused_step_by_step(model, ids)
    assert np.abs(hidden).max() > 0.5  # the states are far from zero, so the comparison has teeth
    # one chunk; five chunk borders in 299 steps, computed in this thread or on two workers
    for chunk, workers in [(4096, 1), (64, 0), (64, 2)]:
        trace = compute_trace(model, ids, chunk=chunk, workers=workers)
        assert set(trace) == set(trace_keys(model_type, layers))
        assert trace["prob"].shape == (len(ids) - 1,)
        assert np.abs(np.log(trace["prob"]) - log_probs).max() < TOLERANCE
        for k in range(layers):
            assert trace[layer_key(k + 1, "hidden")].shape == (len(ids) - 1, 24)
            assert trace[layer_key(k + 1, "hidden")].dtype == np.float32
            assert np.abs(trace[layer_key(k + 1, "hidden")] - hidden[k]).max() < TOLERANCE
            if model_type == "lstm":
                assert np.abs(trace[layer_key(k + 1, "cell")] - cell[k]).max() < TOLERANCE


@pytest.mark.parametrize("model_type", ["lstm", "gru"])
def test_gates_rebuild_the_states_by_the_torch_equations(wp_ids, model_type):
    vocab, ids = wp_ids
    model = random_model(model_type, 2, len(vocab), seed=1)
    hidden, cell, _ = fused_step_by_step(model, ids)
    trace = compute_trace(model, ids, chunk=50)
    for k in range(2):
        q = {name: trace[layer_key(k + 1, name)] for name in QUANTITIES[model_type]}
        h_prev = np.vstack([np.zeros((1, 24)), hidden[k][:-1]])
        if model_type == "lstm":
            c_prev = np.vstack([np.zeros((1, 24)), cell[k][:-1]])
            rebuilt_c = q["forget_gate"] * c_prev + q["input_gate"] * q["candidate"]
            assert np.abs(rebuilt_c - cell[k]).max() < TOLERANCE
            assert np.abs(q["output_gate"] * np.tanh(cell[k]) - hidden[k]).max() < TOLERANCE
            saturated = q["forget_gate"]
        else:
            rebuilt_h = (1 - q["update_gate"]) * q["candidate"] + q["update_gate"] * h_prev
            assert np.abs(rebuilt_h - hidden[k]).max() < TOLERANCE
            saturated = q["update_gate"]
        assert saturated.min() < 0.2 and saturated.max() > 0.8  # gates really vary


@pytest.mark.parametrize("model_type, keys", [("lstm", {"layer2.cell"}), ("lstm", {"layer1.output_gate", "prob"}),
                                              ("gru", {"layer2.candidate"}), ("gru", {"layer1.update_gate"})])
def test_a_trace_of_some_keys_equals_the_full_trace_on_those_keys(wp_ids, model_type, keys):
    vocab, ids = wp_ids
    model = random_model(model_type, 2, len(vocab), seed=3)
    full = compute_trace(model, ids, chunk=64, workers=0)
    for workers in (0, 1):
        some = compute_trace(model, ids, keys=keys, chunk=64, workers=workers)
        assert set(some) == keys
        for key in keys:
            assert np.abs(some[key] - full[key]).max() < TOLERANCE


def test_stages_keep_the_order_and_hand_a_threads_error_to_the_caller():
    seen = []
    tail = Stage(seen.append)
    run_stages(Stage(lambda x: x * 10, [tail]), range(50), threaded=True)
    assert seen == [x * 10 for x in range(50)]

    def fail_at_7(x):
        if x == 7:
            raise ValueError("item 7")
        return x

    after = []
    with pytest.raises(ValueError, match="item 7"):
        run_stages(Stage(fail_at_7, [Stage(after.append)]), range(1000), threaded=True)
    assert after == list(range(len(after))) and len(after) <= 7  # the stages stop at the first error


def test_linear_recurrence_equals_the_sequential_loop_even_with_vanishing_gates():
    rng = np.random.default_rng(0)
    n, units = 1000, 7
    a = rng.uniform(0, 1, (n, units))
    a[:, 0] = 1e-30  # a gate shut so hard that products underflow
    a[:, 1] = 1.0  # a pure accumulator
    a[100:200, 2] = 0.0
    b = rng.normal(size=(n, units))
    initial = rng.normal(size=units)
    expected, x = np.empty_like(b), initial.copy()
    for t in range(n):
        x = a[t] * x + b[t]
        expected[t] = x
    for segment in (None, 1, 7, 33, 1000, 5000):
        assert np.abs(linear_recurrence(a, b, initial, segment) - expected).max() < 1e-9


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, war_and_peace):
    """A run directory as ``rnnlens train`` writes it, holding a random 2-layer LSTM (no training needed)."""
    base = tmp_path_factory.mktemp("trace")
    text = base / "wp.txt"
    text.write_text(war_and_peace[:6000], encoding="utf-8")
    corpus = load_corpus(text=text)
    model = random_model("lstm", 2, len(corpus.vocab), hidden=16, seed=2)
    out = base / "run"
    write_config(out, "rnn", {"model": model.config.to_dict(), "vocabulary": corpus.vocab.chars,
                              "corpus": corpus.spec()})
    save_tensors(out / "best.safetensors", {f"model.{k}": v for k, v in model.state_dict().items()})
    return out, corpus


def test_evaluate_loss_equals_mean_negative_log_prob_of_the_trace(run_dir):
    out, corpus = run_dir
    predictor = load_rnn(out)
    ids = corpus.split_ids("test")
    trace = trace_predictor(predictor, Text(ids, "test"), chunk=128)
    assert abs(evaluate(predictor, ids).nats - float(np.mean(-np.log(trace["prob"].astype(np.float64))))) < 1e-6
    assert trace.text == corpus.split_text("test")


def test_trace_command_writes_a_memory_mappable_manifest(run_dir, tmp_path, capsys):
    out, corpus = run_dir
    assert main(["trace", str(out), "--split", "val", "--out", str(tmp_path / "tr"), "--full-distribution"]) == 0
    manifest = json.loads((tmp_path / "tr" / "manifest.json").read_text())
    positions = len(corpus.split_ids("val")) - 1
    assert set(manifest["keys"]) == set(trace_keys("lstm", 2, full_distribution=True))
    assert manifest["keys"]["layer2.forget_gate"] == {"file": "layer2.forget_gate.npy", "shape": [positions, 16],
                                                      "dtype": "float32"}
    assert manifest["keys"]["distribution"]["shape"] == [positions, len(corpus.vocab)]
    assert manifest["model"]["weights"] == "best" and len(manifest["model"]["sha256"]) == 64
    array = np.load(tmp_path / "tr" / "layer1.cell.npy", mmap_mode="r")
    assert isinstance(array, np.memmap)
    trace = open_trace(tmp_path / "tr")
    expected = trace_predictor(load_rnn(out), Text(corpus.split_ids("val"), "val"))
    assert np.array_equal(trace["layer1.cell"], expected["layer1.cell"])
    assert np.allclose(trace["distribution"].sum(axis=1), 1, atol=1e-5)
    assert np.allclose(trace["distribution"][np.arange(positions), corpus.split_ids("val")[1:]], trace["prob"])
    assert "wrote" in capsys.readouterr().out


def stored_bytes(trace_dir) -> int:
    """The bytes of a trace directory's arrays, headers left out."""
    return sum(np.load(f, mmap_mode="r").nbytes for f in trace_dir.glob("*.npy"))


def test_the_trace_command_says_what_it_takes_before_writing_and_refuses_more_than_the_disk_has(
        run_dir, tmp_path, capsys, monkeypatch):
    out, corpus = run_dir
    positions = len(corpus.split_ids("val")) - 1
    values = 1 + len(corpus.vocab) + 2 * 6 * 16  # prob, the distribution, 6 quantities of 16 units in 2 layers
    assert main(["trace", str(out), "--split", "val", "--full-distribution", "--out", str(tmp_path / "tr")]) == 0
    err = capsys.readouterr().err
    cost = positions * values * 4
    assert f"tracing into {tmp_path / 'tr'}: {cost / 1e6:,.1f} MB: {positions:,} positions x {values} values " \
           f"({values * 4:,} bytes a position)" in err
    assert err.index("tracing into") < err.index("took") and stored_bytes(tmp_path / "tr") == cost
    monkeypatch.setattr(trace_store, "free_bytes", lambda path: cost - 1)
    assert main(["trace", str(out), "--split", "val", "--full-distribution", "--out", str(tmp_path / "more")]) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]  # after the line saying what was read
    assert line.startswith("rnnlens trace: error: a trace of") and f"would take {cost / 1e6:,.1f} MB" in line
    assert line.endswith("; trace a shorter text with --text") and not (tmp_path / "more").exists()


def test_a_float16_trace_is_the_float32_one_rounded_in_half_the_space_but_prob(run_dir, tmp_path):
    out, corpus = run_dir
    predictor, text = load_rnn(out), Text(corpus.split_ids("val"), "val")
    wide = write_trace(tmp_path / "wide", predictor, text, full_distribution=True)
    half = write_trace(tmp_path / "half", predictor, text, full_distribution=True, float16=True)
    assert half["prob"].dtype == np.float32 and np.array_equal(half["prob"], wide["prob"])
    for key in set(wide) - {"prob"}:
        assert half[key].dtype == np.float16 and np.array_equal(half[key], wide[key].astype(np.float16)), key
    cost = trace_store.trace_cost(predictor, text, full_distribution=True, float16=True)
    assert stored_bytes(tmp_path / "half") == cost.bytes == (stored_bytes(tmp_path / "wide") + 4 * half.positions) // 2
    assert cost.peak == stored_bytes(tmp_path / "wide") + half.positions * len(corpus.vocab) * 2  # + the widest key
    # a float16 trace serves the explorer, not an analysis that asks for float32; a float32 one serves both
    assert ensure_trace(tmp_path / "half", predictor, text, full_distribution=True, float16=True)[1] == "reused"
    assert ensure_trace(tmp_path / "half", predictor, text, full_distribution=True)[1] == \
        "rewritten: it is stored in float16"
    assert ensure_trace(tmp_path / "half", predictor, text, full_distribution=True, float16=True)[1] == "reused"


def test_an_incomplete_trace_is_detected_and_rewritten(run_dir, tmp_path):
    out, corpus = run_dir
    predictor = load_rnn(out)
    ids = corpus.split_ids("val")
    where = tmp_path / "tr"
    write_trace(where, predictor, Text(ids, "val"))
    assert ensure_trace(where, predictor, Text(ids, "val"))[1] == "reused"

    damaged = where / "layer2.cell.npy"
    damaged.write_bytes(damaged.read_bytes()[:1000])  # as if the write had been cut short
    with pytest.raises(IncompleteTrace, match="layer2.cell.npy"):
        open_trace(where)
    trace, status = ensure_trace(where, predictor, Text(ids, "val"))
    assert status.startswith("rewritten: incomplete")
    assert trace["layer2.cell"].shape == (len(ids) - 1, 16)

    (where / "layer1.hidden.npy").unlink()
    with pytest.raises(IncompleteTrace, match="layer1.hidden.npy"):
        open_trace(where)
    assert ensure_trace(where, predictor, Text(ids[:500], "val"))[1].startswith("rewritten")
    assert ensure_trace(where, predictor, Text(ids[:500], "val"))[1] == "reused"
    assert ensure_trace(where, predictor, Text(ids, "val"))[1] == "rewritten: it traced another text"

    (where / "manifest.json").write_text('{"keys": {', encoding="utf-8")  # cut short
    with pytest.raises(IncompleteTrace, match="manifest.json: unreadable JSON"):
        open_trace(where)
    assert ensure_trace(where, predictor, Text(ids, "val"))[1].startswith("rewritten: incomplete")


def test_a_write_killed_midway_leaves_the_previous_trace_intact(run_dir, tmp_path, monkeypatch):
    out, corpus = run_dir
    predictor = load_rnn(out)
    ids = corpus.split_ids("val")
    where = tmp_path / "tr"
    write_trace(where, predictor, Text(ids[:300], "val"))

    class Killed(Exception):
        pass

    original = trace_store.compute_trace

    def dies_after_five_files(predictor, text, keys, full_distribution, allocate, progress, **options):
        made = []

        def allocate_then_die(key, shape, dtype):
            if len(made) == 5:
                raise Killed
            made.append(allocate(key, shape, dtype))
            return made[-1]
        return original(predictor, text, keys, full_distribution, allocate_then_die, progress, **options)

    monkeypatch.setattr(trace_store, "compute_trace", dies_after_five_files)
    with pytest.raises(Killed):
        write_trace(where, predictor, Text(ids, "val"))
    assert open_trace(where).positions == 299
    assert [p.name for p in tmp_path.iterdir()] == ["tr"]  # no half-written directory left beside it


def test_characters_outside_the_vocabulary_are_refused_with_their_list_or_skipped(run_dir, tmp_path, capsys):
    out, corpus = run_dir
    text = tmp_path / "odd.txt"
    text.write_text(corpus.text[:200] + "§§☃" + corpus.text[200:400], encoding="utf-8")
    assert main(["trace", str(out), "--text", str(text), "--out", str(tmp_path / "tr")]) == 1
    error = capsys.readouterr().err
    assert "'§' (2), '☃' (1)" in error and "--skip-unknown" in error
    assert not (tmp_path / "tr").exists()
    assert main(["trace", str(out), "--text", str(text), "--skip-unknown", "--out", str(tmp_path / "tr")]) == 0
    assert open_trace(tmp_path / "tr").positions == 399


def test_the_trace_prob_is_the_cached_predictions_in_float32(run_dir):
    from rnnlens.store.predictions import Predictions, predictions_for

    out, corpus = run_dir
    predictor = load_rnn(out)
    text = Text(corpus.split_ids("val"), "val")
    predictions = predictions_for(predictor, text, distributions=True)
    trace = trace_predictor(predictor, text)
    assert predictions.log_probs.dtype == np.float64 and predictions.log_probs.shape == trace["prob"].shape
    assert np.abs(np.exp(predictions.log_probs) - trace["prob"]).max() < 1e-6
    assert np.allclose(predictions.distributions.sum(axis=1), 1, atol=1e-5)
    assert trace.info["model"] == predictions.model == predictor.identity
    assert trace.info["text"] == predictions.text and predictions.text["chars"] == len(text.ids)
    cached = Predictions.load(next((out / "predictions").iterdir()))
    assert np.array_equal(cached.log_probs, predictions.log_probs)
    predictor.predict_log_probs = lambda ids: pytest.fail("the cached predictions were computed again")
    assert np.array_equal(predictions_for(predictor, text).log_probs, predictions.log_probs)


def test_a_text_with_carriage_returns_traces_and_reopens(tmp_path):
    text = tmp_path / "crlf.txt"
    text.write_bytes(b"one line\r\ntwo lines\r\nthree\r" * 40)
    corpus = load_corpus(text=text)
    assert "\r" in corpus.vocab.chars  # the corpus keeps them: each is a character the model predicts
    model = random_model("gru", 1, len(corpus.vocab), hidden=4, seed=0)
    out = tmp_path / "run"
    write_config(out, "rnn", {"model": model.config.to_dict(), "vocabulary": corpus.vocab.chars,
                              "corpus": corpus.spec()})
    save_tensors(out / "best.safetensors", {f"model.{k}": v for k, v in model.state_dict().items()})
    write_trace(tmp_path / "tr", load_rnn(out), Text(corpus.ids, "all"))
    assert open_trace(tmp_path / "tr").positions == len(corpus.ids) - 1
