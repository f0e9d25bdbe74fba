"""n-NN: the embedding-sum forward is the one-hot network, the batches keep the objective, training stops by
validation and resumes exactly, the hidden size is chosen by validation, and it is saved and scored like every
model."""

import json
from collections import Counter
from dataclasses import asdict

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnlens.models.ngram.kind import estimate_corpus
from rnnlens.models.threads import single_stream_threads
from rnnlens.models.nnn import (NNN, NNNConfig, NNNOptions, Contexts, WindowTask, context_windows, fit, load)
from rnnlens.cli import main
from rnnlens.data.corpus import load_corpus
from rnnlens.errors import RnnlensError
from rnnlens.analyses.evaluation import evaluate
from rnnlens.store.runs import load_tensors, read_config
from rnnlens.training.loop import Trainer

QUIET = {"log": lambda _: None}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models train fastest on one thread (two contend with each other on a busy 2-core machine)."""
    with single_stream_threads():
        yield


def test_context_windows_pad_before_the_text():
    windows = context_windows(np.array([5, 6, 7, 8]), 3)
    assert windows.tolist() == [[-1, -1, 5], [-1, 5, 6], [5, 6, 7]]


def test_embedding_sum_forward_equals_a_dense_one_hot_layer():
    torch.manual_seed(0)
    n, v, h = 4, 7, 5
    model = NNN(NNNConfig(context=n, vocab_size=v, hidden_size=h))
    model.init_uniform(0.5)
    windows = torch.tensor([[-1, -1, -1, 3], [-1, 0, 6, 2], [1, 1, 1, 1], [6, 5, 4, 3]])
    # the paper's form, built here from plain torch: n concatenated one-hot codes (zeros before the text)
    codes = torch.cat([F.one_hot(windows[:, j].clamp(min=0), v).float() * (windows[:, j:j + 1] >= 0)
                       for j in range(n)], dim=1)  # (B, n*V)
    dense = torch.nn.Linear(n * v, h)
    with torch.no_grad():
        dense.weight.copy_(model.inputs.weight[:n * v].T)
        dense.bias.copy_(model.bias)
    reference = model.decoder(torch.tanh(dense(codes)))
    assert (model(windows) - reference).abs().max().item() < 1e-6
    assert model.inputs.weight[model.inputs.padding_idx].abs().sum() == 0


def test_contexts_hold_what_follows_each_context_in_the_text():
    ids = np.array([0, 1, 2, 0, 3, 0, 4, 0, 1, 2, 0])  # "abracadabra" as a=0 b=1 r=2 c=3 d=4
    contexts = Contexts.of(ids, 2, 5)
    windows = [tuple(w) for w in context_windows(ids, 2)]
    follows = Counter(zip(windows, ids[1:]))
    assert len(contexts) == len(set(windows)) == 8  # -a ab br ra ac ca ad da
    for u, window in enumerate(map(tuple, contexts.windows)):
        seen = {c: k for (w, c), k in follows.items() if w == window}
        span = slice(contexts.start[u], contexts.start[u + 1])
        assert dict(zip(contexts.next_chars[span].tolist(), contexts.shares[span].tolist())) == \
            pytest.approx({c: k / sum(seen.values()) for c, k in seen.items()})
        assert contexts.positions[u] == sum(seen.values())
    assert [tuple(contexts.windows[u]) for u in contexts.of_position] == windows
    after_a = Contexts.of(ids, 1, 5)  # a is followed by b, c, d, b
    u = after_a.of_position[0]
    span = slice(after_a.start[u], after_a.start[u + 1])
    assert after_a.next_chars[span].tolist() == [1, 3, 4] and after_a.shares[span].tolist() == [0.5, 0.25, 0.25]


def tiny_task(n=3, batch=7, hidden=6):
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 5, 400)
    ids[::3] = 4  # some structure, so contexts repeat with different next characters
    train, val = Contexts.of(ids[:300], n, 5), Contexts.of(ids[300:], n, 5)
    task = WindowTask(train, val, NNNConfig(n, 5, hidden), NNNOptions(batch=batch))
    torch.manual_seed(0)
    model = task.make_model()
    model.init_uniform(0.3)
    return ids, task, model


def test_an_epoch_of_batches_has_the_loss_and_gradient_of_every_position_once():
    ids, task, model = tiny_task()
    task.start_epoch(model, 0, fresh=True)
    sizes = [len(task.order[k * 7:(k + 1) * 7]) for k in range(task.num_batches())]
    total = sum(task.batch_loss(model, k) * size for k, size in enumerate(sizes))
    total.backward()
    ours = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    windows = torch.from_numpy(context_windows(ids[:300], 3).copy())
    direct = F.cross_entropy(model(windows), torch.from_numpy(ids[1:300]), reduction="sum")
    direct.backward()
    assert sum(sizes) == 299 and total.item() == pytest.approx(direct.item(), rel=1e-5)
    assert all(torch.allclose(a, p.grad, atol=1e-4) for a, p in zip(ours, model.parameters()))
    val_windows = torch.from_numpy(context_windows(ids[300:], 3).copy())
    with torch.no_grad():
        expected = F.cross_entropy(model(val_windows), torch.from_numpy(ids[301:])).item()
    assert task.validation_loss(model) == pytest.approx(expected, abs=1e-6)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory, war_and_peace):
    path = tmp_path_factory.mktemp("nnn") / "wp8k.txt"
    path.write_text(war_and_peace[:8_000], encoding="utf-8")
    return load_corpus(text=path)


GRID_SPEC = {"context": 3, "hidden_sizes": [8, 64], "epochs": 60, "patience": 2, "batch": 500,
             "learning_rate": 0.03, "lr_decay": 0.5, "lr_schedule": "plateau", "optimizer": "adam",
             "min_improvement": 0.005}


def assert_stopped_by_validation(record: dict, gain: float) -> None:
    """The run ended after two epochs that did not beat the best validation loss by ``gain``, the rate halving
    after each such epoch, and kept its lowest loss."""
    losses = [r["val_loss"] for r in record["history"]]
    assert record["best_val_loss"] == min(losses) and record["best_epoch"] == int(np.argmin(losses)) + 1
    gained = [e == 0 or losses[e] < min(losses[:e]) - gain for e in range(len(losses))]
    assert gained[-2:] == [False, False] and len(losses) < 60
    assert all(gained[e] or gained[e - 1] for e in range(1, len(losses) - 1))  # never two misses before the end
    rates = [r["learning_rate"] for r in record["history"]]
    for e in range(1, len(losses)):
        assert rates[e] == pytest.approx(rates[e - 1] * (1.0 if gained[e - 1] else 0.5))


def test_training_stops_by_validation_and_keeps_the_hidden_size_with_the_lowest_validation_loss(
        small_corpus, tmp_path):
    predictor = fit({**GRID_SPEC, "select_epochs": 0}, small_corpus, tmp_path / "run", **QUIET)
    config = read_config(tmp_path / "run")
    for record in config["grid"]:
        assert_stopped_by_validation(record, GRID_SPEC["min_improvement"])
    losses = {r["hidden_size"]: r["best_val_loss"] for r in config["grid"]}
    assert config["model"]["hidden_size"] == min(losses, key=losses.get) == 64 and losses[64] < losses[8] - 0.1
    assert evaluate(predictor, small_corpus.split_ids("val")).nats == pytest.approx(losses[64], abs=1e-5)

    # by default every size trains two epochs (the same two) and only the best of them goes on
    fit(GRID_SPEC, small_corpus, tmp_path / "short", **QUIET)
    def curves(grid):
        return {r["hidden_size"]: [(h["train_loss"], h["val_loss"], h["learning_rate"]) for h in r["history"]]
                for r in grid}
    short, full = curves(read_config(tmp_path / "short")["grid"]), curves(config["grid"])
    assert len(short[8]) == 2 and short[8] == full[8][:2] and short[64] == full[64]
    assert min(v for _, v, _ in short[64][:2]) < min(v for _, v, _ in short[8])
    assert read_config(tmp_path / "short")["model"]["hidden_size"] == 64


class Killed(Exception):
    pass


@pytest.mark.parametrize("dropout", [0.0, 0.5])  # dropout's random masks continue exactly too
def test_a_killed_grid_run_resumes_to_the_weights_of_an_uninterrupted_one(small_corpus, tmp_path, dropout):
    spec = {"context": 3, "hidden_sizes": [16], "epochs": 3, "batch": 500, "save_every": 4, "seed": 3,
            "dropout": dropout}
    fit(spec, small_corpus, tmp_path / "whole", **QUIET)

    def kill_in_epoch_two(progress):
        if progress.epoch == 1 and progress.batch == 6:
            raise Killed  # nothing saved since batch 4
    fit_epoch = Trainer.fit
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Trainer, "fit", lambda self, **kw: fit_epoch(self, on_iteration=kill_in_epoch_two, **kw))
        with pytest.raises(Killed):
            fit(spec, small_corpus, tmp_path / "killed", **QUIET)
    fit(spec, small_corpus, tmp_path / "killed", **QUIET)
    for name in ("best.safetensors", "grid/h16/last.safetensors"):
        whole, again = (load_tensors(tmp_path / d / name)[0] for d in ("whole", "killed"))
        assert whole.keys() == again.keys() and all(torch.equal(whole[k], again[k]) for k in whole)
    histories = [[(r["train_loss"], r["val_loss"]) for r in read_config(tmp_path / d)["grid"][0]["history"]]
                 for d in ("whole", "killed")]
    assert histories[0] == histories[1] and len(histories[0]) == 3
    # a grid run is continued only with the options it was trained with (more epochs are fine)
    fit({**spec, "epochs": 4}, small_corpus, tmp_path / "killed", **QUIET)
    with pytest.raises(RnnlensError, match="trained with optimizer 'adam', not 'rmsprop'"):
        fit({**spec, "epochs": 5, "optimizer": "rmsprop"}, small_corpus, tmp_path / "killed", **QUIET)


def test_the_papers_optimiser_is_an_option(small_corpus, tmp_path):
    paper = {"optimizer": "rmsprop", "learning_rate": 2e-3, "lr_schedule": "epoch", "lr_decay_after": 10}
    fit({"context": 2, "hidden_sizes": [8], "epochs": 1, "batch": 1000, **paper}, small_corpus, tmp_path / "r",
        **QUIET)
    tensors, meta = load_tensors(tmp_path / "r" / "grid" / "h8" / "last.safetensors")
    assert any(k.endswith(".square_avg") for k in tensors) and not any(k.endswith(".exp_avg") for k in tensors)
    assert meta["param_groups"][0]["alpha"] == 0.95
    # auto resolves to fp32 for an n-NN (its CPU kernels gain nothing from bf16) and the record says so
    expected = NNNOptions(epochs=1, batch=1000, precision="fp32", **paper)
    assert read_config(tmp_path / "r")["training"] == asdict(expected)


def test_dropout_trains_other_weights_is_recorded_and_is_off_when_predicting(small_corpus, tmp_path):
    spec = {"context": 3, "hidden_sizes": [16], "epochs": 2, "batch": 500, "seed": 3}
    plain, dropped = (fit({**spec, "dropout": p}, small_corpus, tmp_path / f"p{p}", **QUIET) for p in (0.0, 0.5))
    assert not torch.equal(plain.model.decoder.weight, dropped.model.decoder.weight)
    config = read_config(tmp_path / "p0.5")
    assert config["model"]["dropout"] == 0.5 and config["training"]["dropout"] == 0.5
    val = small_corpus.split_ids("val")
    again = load(tmp_path / "p0.5")
    assert np.array_equal(again.predict_log_probs(val), dropped.predict_log_probs(val))  # no random masks
    assert evaluate(again, val).nats == pytest.approx(config["best_val_loss"], rel=1e-5)
    with pytest.raises(RnnlensError, match="dropout"):
        NNNOptions(dropout=1.0)


def test_nnn_command_picks_the_best_hidden_size_and_beats_the_unigram_model(wp_slice_file, tmp_path, capsys):
    out = tmp_path / "nnn3"
    assert main(["nnn", "--text", str(wp_slice_file), "--context", "3", "--hidden", "16", "64",
                 "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "nnn" and [g["hidden_size"] for g in config["grid"]] == [16, 64]
    best = min(config["grid"], key=lambda g: g["best_val_loss"])
    assert config["model"]["hidden_size"] == best["hidden_size"]
    defaults = NNNOptions()
    assert {k: config["training"][k] for k in ("optimizer", "learning_rate", "lr_schedule", "batch")} == \
        {"optimizer": defaults.optimizer, "learning_rate": defaults.learning_rate,
         "lr_schedule": defaults.lr_schedule, "batch": defaults.batch}

    corpus = load_corpus(text=wp_slice_file)
    val = corpus.split_ids("val")
    predictor = load(out)
    assert evaluate(predictor, val).nats == pytest.approx(best["best_val_loss"], abs=1e-5)
    unigram, _ = estimate_corpus(corpus, 1)
    assert evaluate(predictor, val).nats < evaluate(unigram, val).nats - 0.4  # it uses its context

    dists = predictor.predict_log_distributions(val[:2000])
    assert np.abs(np.exp(dists.astype(np.float64)).sum(axis=1) - 1).max() < 1e-5
    assert np.abs(dists[np.arange(1999), val[1:2000]] - predictor.predict_log_probs(val[:2000])).max() < 1e-5

    capsys.readouterr()
    assert main(["evaluate", str(out), "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["chars"] == 19_999
    assert result["nats"] == pytest.approx(evaluate(predictor, corpus.split_ids("test")).nats, abs=1e-9)
