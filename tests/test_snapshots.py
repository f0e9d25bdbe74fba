"""Snapshots of a training run (``--snapshot-every N``): kept at the right batches with their epoch, the same
bytes after a kill and a resume, loadable as predictors with their own cached predictions."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from rnnlens.data.corpus import load_corpus
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError
from rnnlens.models.registry import load_predictor, snapshots
from rnnlens.models.rnn.fit import TrainOptions, resume_run, start_run
from rnnlens.models.rnn.network import ModelConfig
from rnnlens.store.predictions import cache_directory, predictions_for
from rnnlens.store.runs import load_tensors, split_prefix
from test_cli_safety import ok, refused, rnnlens

QUIET = {"show_progress": False, "log": lambda _: None}
PER_EPOCH = 59  # batches of 4 x 20 characters in the 4,800 training characters of the 6,000-character text
EVERY = 7


class Killed(Exception):
    pass


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks on a busy two-core machine: a second torch thread only waits (measured 4 s vs 26 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def corpus(war_and_peace, tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(war_and_peace[:6000], encoding="utf-8")
    return load_corpus(text=path)


def new_run(corpus, out, **changes):
    options = TrainOptions(**{"epochs": 2, "batch_size": 4, "seq_length": 20, "save_every": 5, "seed": 3,
                              "snapshot_every": EVERY, **changes})
    trainer = start_run(corpus, ModelConfig("gru", len(corpus.vocab), 8, 1), options, out)
    assert trainer.task.num_batches() == PER_EPOCH
    return trainer


def weights(path):
    return split_prefix(load_tensors(path)[0], "model")


def test_snapshots_hold_the_weights_after_every_n_batches_and_the_initial_ones(corpus, tmp_path):
    trainer = new_run(corpus, tmp_path / "run")
    seen = {0: {k: v.clone() for k, v in trainer.model.state_dict().items()}}

    def record(progress):  # the model as training leaves it after each batch
        done = progress.epoch * PER_EPOCH + progress.batch
        if done % EVERY == 0:
            seen[done] = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit(on_iteration=record, **QUIET)

    kept = snapshots(tmp_path / "run")
    batches = [0, 7, 14, 21, 28, 35, 42, 49, 56, 63, 70, 77, 84, 91, 98, 105, 112]  # 2 epochs = 118 batches
    assert len(kept) == 17 and [s["batch"] for s in kept] == batches
    assert [s["weights"] for s in kept] == [f"snapshot-{b:06d}" for b in batches]
    assert [s["epoch"] for s in kept] == [b / 59 for b in batches]
    assert sorted(seen) == batches
    for s in kept:
        path = tmp_path / "run" / "snapshots" / f"{s['weights']}.safetensors"
        tensors, meta = load_tensors(path)
        assert meta == {"batch": s["batch"], "epoch": s["batch"] / 59, "batches_per_epoch": 59}
        assert set(tensors) == {f"model.{k}" for k in seen[s["batch"]]}  # weights only: no optimiser, no RNG
        assert all(torch.equal(tensors[f"model.{k}"], v) for k, v in seen[s["batch"]].items())
    assert not torch.equal(tensors["model.decoder.weight"], seen[0]["decoder.weight"])  # training moved them


def test_no_snapshots_by_default(corpus, tmp_path):
    trainer = new_run(corpus, tmp_path / "run", epochs=1, snapshot_every=0)
    trainer.task.train_batches.num_batches = 3
    trainer.fit(**QUIET)
    assert snapshots(tmp_path / "run") == [] and not (tmp_path / "run" / "snapshots").exists()


def test_a_killed_run_resumes_to_the_same_snapshot_files(corpus, tmp_path):
    new_run(corpus, tmp_path / "whole").fit(**QUIET)

    def kill_in_epoch_two(progress):
        if (progress.epoch, progress.batch) == (1, 12):
            raise Killed  # like SIGKILL: the last checkpoint is of batch 10, the snapshot of batch 59 + 11 is kept
    with pytest.raises(Killed):
        new_run(corpus, tmp_path / "killed").fit(on_iteration=kill_in_epoch_two, **QUIET)
    folder = tmp_path / "killed" / "snapshots"
    assert [s["batch"] for s in snapshots(tmp_path / "killed")] == [0, 7, 14, 21, 28, 35, 42, 49, 56, 63, 70]
    (folder / "snapshot-000070.safetensors").unlink()  # as if the kill came while it was written...
    (folder / ".snapshot-000070.safetensors.x1y2.tmp").write_bytes(b"half")  # ...leaving its temporary file
    before = (folder / "snapshot-000063.safetensors").stat().st_ino

    resumed = resume_run(tmp_path / "killed", corpus=corpus)
    assert (resumed.progress.epoch, resumed.progress.batch) == (1, 10)
    assert not list(folder.glob("*.tmp"))
    resumed.fit(**QUIET)

    assert (folder / "snapshot-000063.safetensors").stat().st_ino == before  # kept, not written again
    whole = sorted((tmp_path / "whole" / "snapshots").iterdir())
    again = sorted(folder.iterdir())
    assert [p.name for p in whole] == [p.name for p in again] and len(whole) == 17
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(whole, again))


def test_a_snapshot_loads_by_name_with_its_own_identity_and_cached_predictions(corpus, tmp_path):
    trainer = new_run(corpus, tmp_path / "run", epochs=1)
    trainer.fit(**QUIET)
    text = Text(corpus.split_ids("val")[:200], "val head")
    early, late = (load_predictor(tmp_path / "run", weights=w) for w in ("snapshot-000000", "snapshot-000056"))
    assert early.identity["weights"] == "snapshot-000000" and late.identity["weights"] == "snapshot-000056"
    assert early.identity["sha256"] != late.identity["sha256"]
    first, second = predictions_for(early, text, distributions=True), predictions_for(late, text, distributions=True)
    assert cache_directory(early, text) != cache_directory(late, text)
    assert all((cache_directory(p, text) / "distributions.npy").is_file() for p in (early, late))
    assert not np.allclose(first.log_probs, second.log_probs)
    # the initial weights (uniform in [-0.08, 0.08]) give nearly uniform predictions over the 66 characters
    assert np.abs(first.distributions - 1 / 66).max() < 0.01
    again = predictions_for(load_predictor(tmp_path / "run", weights="snapshot-000056"), text, distributions=True)
    assert np.array_equal(again.log_probs, second.log_probs) and isinstance(again.distributions, np.memmap)

    with pytest.raises(RnnlensError, match="unknown weights 'snapshot'"):
        load_predictor(tmp_path / "run", weights="snapshot")
    with pytest.raises(RnnlensError, match="snapshot-000057.safetensors: missing"):
        load_predictor(tmp_path / "run", weights="snapshot-000057")


def test_train_snapshot_every_is_recorded_and_kept_on_resume(war_and_peace, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text(war_and_peace[:3000], encoding="utf-8")  # 2,400 training characters: 7 batches of 4 x 80
    out = tmp_path / "run"
    common = ["--batch-size", "4", "--seq-length", "80", "--quiet", "--out", out]
    refused(rnnlens("train", "--snapshot-every", "-1", "--text", text, *common), "train", "--snapshot-every", code=2)
    ok(rnnlens("train", "--text", text, "--model", "rnn", "--layers", "1", "--hidden", "8", "--epochs", "1",
               "--snapshot-every", "3", *common))
    assert [s["batch"] for s in snapshots(out)] == [0, 3, 6]
    refused(rnnlens("train", "--resume", "--epochs", "2", "--snapshot-every", "4", *common), "train",
            "--snapshot-every 4 contradicts the run's recorded 3")
    resumed = ok(rnnlens("train", "--resume", "--epochs", "2", "--snapshot-every", "3", *common))
    assert [s["batch"] for s in snapshots(out)] == [0, 3, 6, 9, 12]
    assert "and 5 snapshots in" in resumed.err
