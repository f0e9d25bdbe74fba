"""train --tensorboard DIR: event files whose numbers are the run's own (metrics.jsonl, the gradients), and a
one-line refusal naming the extra to install when TensorBoard is missing."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from in_process import refused, rnnlens
from rnnlens.data.corpus import load_corpus
from rnnlens.models.rnn.fit import TrainOptions, start_run
from rnnlens.models.rnn.network import ModelConfig

TEXT = "abcab cabba bacca " * 60  # 1,080 characters: 864 for training, 26 batches of 4 x 8
TRAIN = ["train", "--model", "rnn", "--layers", "1", "--hidden", "4", "--epochs", "2", "--batch-size", "4",
         "--seq-length", "8", "--quiet"]


def scalars(log_dir) -> dict[str, list]:
    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {tag: events.Scalars(tag) for tag in events.Tags()["scalars"]}


def test_the_event_files_hold_every_update_and_epoch_as_the_run_recorded_them(tmp_path):
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    ran = rnnlens(*TRAIN, "--text", tmp_path / "text.txt", "--out", tmp_path / "run", "--tensorboard", tmp_path / "tb")
    assert ran.code == 0, ran.err
    assert f"TensorBoard event files go to {tmp_path / 'tb'}" in ran.err
    found = scalars(tmp_path / "tb")
    per_epoch = (864 - 1) // (4 * 8)
    assert per_epoch == 26
    assert set(found) == {"train/loss", "train/learning_rate", "train/chars_per_s", "train/grad_norm",
                          "epoch/train_loss", "epoch/val_loss", "epoch/val_bits"}
    assert [e.step for e in found["train/loss"]] == list(range(1, 2 * per_epoch + 1))
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [e.step for e in found["epoch/val_loss"]] == [per_epoch, 2 * per_epoch]
    np.testing.assert_allclose([e.value for e in found["epoch/val_loss"]], [r["val_loss"] for r in records], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in found["epoch/val_bits"]], [r["val_bits"] for r in records], rtol=1e-6)
    # an epoch's training loss is the mean of its updates' losses
    losses = np.array([e.value for e in found["train/loss"]]).reshape(2, per_epoch)
    np.testing.assert_allclose(losses.mean(axis=1), [r["train_loss"] for r in records], rtol=1e-5)
    assert all(e.value == pytest.approx(2e-3) for e in found["train/learning_rate"])  # no decay before epoch 10
    assert all(e.value > 0 for e in found["train/chars_per_s"] + found["train/grad_norm"])


def test_the_gradient_norm_is_that_of_the_gradients_before_clipping(tmp_path):
    corpus = load_corpus(text=_write(tmp_path, TEXT))
    options = TrainOptions(epochs=1, batch_size=4, seq_length=8, grad_clip=0.0)  # unclipped: the grads stay as made
    trainer = start_run(corpus, ModelConfig("lstm", len(corpus.vocab), 6, 1), options, tmp_path / "run")
    seen = []

    class Watcher:
        wants_grad_norm = True

        def on_batch(self, event):  # the norm by numpy, from the gradients the step left on the parameters
            grads = np.concatenate([p.grad.numpy().ravel() for p in trainer.model.parameters()]).astype(np.float64)
            seen.append((event.step, event.grad_norm, float(np.sqrt((grads ** 2).sum()))))

        def on_epoch(self, record, step):
            seen.append(("epoch", step, record["epoch"]))

    trainer.fit(show_progress=False, log=lambda _: None, observers=[Watcher()])
    batches = [s for s in seen if s[0] != "epoch"]
    assert [s[0] for s in batches] == list(range(1, 27)) and seen[-1] == ("epoch", 26, 1)
    np.testing.assert_allclose([s[1] for s in batches], [s[2] for s in batches], rtol=1e-5)
    assert min(s[1] for s in batches) > 0


def test_without_tensorboard_train_says_what_to_install_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if the package were not installed
    ran = rnnlens(*TRAIN, "--text", _write(tmp_path, TEXT), "--out", tmp_path / "run", "--tensorboard", tmp_path / "tb")
    refused(ran, "train", r"need the tensorboard package, which is not installed: "
                          r"pip install 'rnnlens\[tensorboard\]'$")
    assert not (tmp_path / "run").exists() and not (tmp_path / "tb").exists()


def _write(tmp_path, text: str):
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_reproduce_overview_shows_a_trainings_latest_validation_loss(tmp_path):
    import torch

    from rnnlens.pipeline.progress import training_progress
    from rnnlens.store.runs import save_tensors

    save_tensors(tmp_path / "last.safetensors", {"x": torch.zeros(1)},
                 {"progress": {"epoch": 2, "batch": 10, "elapsed_s": 210.0}})  # 210 batches in 210 s, 290 to go
    info = {"epochs": 5, "train_chars": 100 * 8 * 20 + 1, "batch_size": 8, "seq_length": 20}
    assert training_progress(tmp_path, info) == "epoch 3/5, batch 10/100, ETA 0:04:50"  # no epoch recorded yet
    records = [{"epoch": 1, "val_loss": 1.98765}, {"epoch": 2, "val_loss": 1.6543219}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert training_progress(tmp_path, info) == ("epoch 3/5, batch 10/100, ETA 0:04:50, "
                                                 "val 1.6543 nats/char after epoch 2")


def test_a_resumed_run_goes_on_in_the_same_directory_and_forgets_what_a_killed_run_wrote_past_its_checkpoint(
        tmp_path):
    from rnnlens.training.loop import BatchEvent
    from rnnlens.training.tensorboard import TensorBoardObserver

    text = _write(tmp_path, TEXT)
    assert rnnlens(*TRAIN, "--epochs", "1", "--text", text, "--out", tmp_path / "run", "--tensorboard",
                   tmp_path / "tb").code == 0
    assert rnnlens("train", "--resume", "--epochs", "2", "--quiet", "--out", tmp_path / "run", "--tensorboard",
                   tmp_path / "tb").code == 0
    found = scalars(tmp_path / "tb")
    assert [e.step for e in found["train/loss"]] == list(range(1, 53))  # each step once, none lost
    assert [e.step for e in found["epoch/val_loss"]] == [26, 52]
    # a killed run wrote steps 1..30; its checkpoint was at 20: the resumed run's steps replace 21..30
    killed = TensorBoardObserver(tmp_path / "killed")
    for step in range(1, 31):
        killed.on_batch(BatchEvent(step, 1, 1.0, 2e-3, None, 100.0))
    killed.close()
    resumed = TensorBoardObserver(tmp_path / "killed", steps_done=20)
    resumed.on_batch(BatchEvent(21, 1, 0.5, 2e-3, None, 100.0))
    resumed.close()
    losses = [(e.step, e.value) for e in scalars(tmp_path / "killed")["train/loss"]]
    assert losses == [(step, 1.0) for step in range(1, 21)] + [(21, 0.5)]
