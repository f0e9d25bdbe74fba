"""The training protocol on real text: it learns, resumes bit-identically, keeps checkpoints sane."""

from collections import Counter

import numpy as np
import pytest
import torch

from rnnlens.store.runs import load_tensors, read_config
from rnnlens.data.corpus import load_corpus
from rnnlens.errors import RnnlensError
from rnnlens.analyses.evaluation import evaluate
from rnnlens.models.rnn.network import ModelConfig
from rnnlens.models.registry import load_predictor
from rnnlens.models.rnn.fit import TrainOptions, resume_run, start_run
from rnnlens.training.loop import learning_rate_for


def unigram_entropy(text: str) -> float:
    counts = np.array(list(Counter(text).values()), dtype=float)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def test_one_epoch_on_200k_characters_beats_the_unigram_entropy(wp_slice_file, tmp_path):
    corpus = load_corpus(text=wp_slice_file)
    options = TrainOptions(epochs=1, batch_size=20, seq_length=50, seed=1)
    progress = start_run(corpus, ModelConfig("lstm", len(corpus.vocab), 64, 1), options, tmp_path / "run").fit(
        show_progress=False, log=lambda _: None)
    entropy = unigram_entropy(corpus.text)
    assert entropy == pytest.approx(3.11, abs=0.01)
    assert progress.history[0]["val_loss"] < entropy - 0.2
    # the saved best checkpoint scores the validation split as one stream about as the trainer did
    result = evaluate(load_predictor(tmp_path / "run"), corpus.split_ids("val"))
    assert result.nats == pytest.approx(progress.best_val_loss, abs=0.05)
    assert 0 < result.std < 0.02


def test_learning_rate_schedule_decays_after_epoch_ten():
    options = TrainOptions()
    assert [learning_rate_for(e, options) for e in (0, 9)] == [2e-3, 2e-3]
    assert learning_rate_for(10, options) == pytest.approx(2e-3 * 0.95)
    assert learning_rate_for(14, options) == pytest.approx(2e-3 * 0.95 ** 5)


class Killed(Exception):
    pass


def _weights(run_dir):
    tensors, _ = load_tensors(run_dir / "last.safetensors")
    return {k: v for k, v in tensors.items() if k.startswith("model.")}


def test_a_killed_run_resumes_to_bit_identical_weights(war_and_peace, tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(war_and_peace[:30_000], encoding="utf-8")
    corpus = load_corpus(text=path)
    config = ModelConfig("lstm", len(corpus.vocab), 24, 2, dropout=0.3)
    options = TrainOptions(epochs=3, batch_size=8, seq_length=40, save_every=5, lr_decay_after=1, seed=7)
    quiet = {"show_progress": False, "log": lambda _: None}

    trainer = start_run(corpus, config, options, tmp_path / "whole")
    trainer.fit(**quiet)
    # checkpoints every 5 batches inside each epoch: the speed still counts the whole epoch's characters and time
    history, chars = read_config(tmp_path / "whole")["history"], trainer.task.num_batches() * 8 * 40
    epoch_seconds = np.diff([0.0] + [r["elapsed_s"] for r in history])
    assert [r["chars_per_s"] for r in history] == pytest.approx(list(chars / epoch_seconds), rel=1e-6)

    def kill_in_epoch_two(progress):
        if progress.epoch == 1 and progress.batch == 12:
            raise Killed  # like SIGKILL: nothing saved since batch 10
    with pytest.raises(Killed):
        start_run(corpus, config, options, tmp_path / "killed").fit(on_iteration=kill_in_epoch_two, **quiet)
    resumed = resume_run(tmp_path / "killed", corpus=corpus)
    assert (resumed.progress.epoch, resumed.progress.batch) == (1, 10)
    resumed.fit(**quiet)

    whole, again = _weights(tmp_path / "whole"), _weights(tmp_path / "killed")
    assert whole.keys() == again.keys()
    assert all(torch.equal(whole[k], again[k]) for k in whole)
    losses = [[(r["train_loss"], r["val_loss"]) for r in read_config(tmp_path / d)["history"]] for d in ("whole", "killed")]
    assert losses[0] == losses[1] and len(losses[0]) == 3


def test_a_run_directory_is_not_overwritten_and_resume_needs_a_run(wp_slice_file, tmp_path):
    corpus = load_corpus(text=wp_slice_file)
    with pytest.raises(RnnlensError, match="nothing to resume"):
        resume_run(tmp_path / "none", corpus=corpus)
    options = TrainOptions(epochs=1, batch_size=10, seq_length=20, save_every=0)
    trainer = start_run(corpus, ModelConfig("gru", len(corpus.vocab), 8, 1), options, tmp_path / "run")
    trainer.task.train_batches.num_batches = 3  # a short epoch keeps the test fast
    trainer.fit(show_progress=False, log=lambda _: None)
    with pytest.raises(RnnlensError, match="already holds a training run"):
        start_run(corpus, ModelConfig("gru", len(corpus.vocab), 8, 1), options, tmp_path / "run")


def test_a_non_finite_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(wp_slice_file, tmp_path):
    corpus = load_corpus(text=wp_slice_file)
    options = TrainOptions(epochs=1, batch_size=10, seq_length=20, save_every=2)
    trainer = start_run(corpus, ModelConfig("rnn", len(corpus.vocab), 16, 1), options, tmp_path / "run")

    def corrupt_after_batch_three(progress):
        if progress.batch == 3:  # the checkpoint of batch 2 is the last good one
            trainer.model.decoder.bias.data[0] = float("inf")
    with pytest.raises(RnnlensError, match="loss became nan at epoch 1, batch 4.*last good checkpoint"):
        trainer.fit(on_iteration=corrupt_after_batch_three, show_progress=False, log=lambda _: None)
    tensors, meta = load_tensors(tmp_path / "run" / "last.safetensors")
    assert meta["progress"]["batch"] == 2
    assert all(torch.isfinite(v).all() for k, v in tensors.items() if k.startswith("model."))


@pytest.mark.slow
def test_sigkill_at_any_moment_leaves_a_resumable_run(war_and_peace, tmp_path):
    """A real kill -9 mid-run: the checkpoint on disk is whole and resuming ends where an uninterrupted run ends."""
    import signal
    import subprocess
    import sys
    import time

    from rnnlens.store.runs import read_metadata

    text = tmp_path / "text.txt"
    text.write_text(war_and_peace[:40_000], encoding="utf-8")  # 133 batches: the kill lands mid-epoch
    common = ["--text", text, "--model", "lstm", "--layers", "1", "--hidden", "32", "--epochs", "1",
              "--batch-size", "8", "--seq-length", "30", "--save-every", "1", "--seed", "4", "--quiet"]
    train = [sys.executable, "-m", "rnnlens", "train", *map(str, common)]
    subprocess.run([*train, "--out", str(tmp_path / "whole")], check=True, capture_output=True)

    killed = tmp_path / "killed"
    process = subprocess.Popen([*train, "--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = killed / "last.safetensors"
    while process.poll() is None:
        time.sleep(0.01)
        # read_metadata reads one version of a file the run keeps replacing (safe_open maps it twice by name)
        if last.exists() and read_metadata(last)["progress"]["batch"] >= 15:
            break
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    resumed = subprocess.run([*train, "--out", str(killed), "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert not [p.name for p in killed.iterdir() if p.name.endswith(".tmp")]  # a kill's half-written file is cleared
    whole, again = _weights(tmp_path / "whole"), _weights(killed)
    assert all(torch.equal(whole[k], again[k]) for k in whole)


CHECKPOINTS_OF_K = """
import sys, time, torch
from rnnlens.store.runs import save_tensors
end, k = time.time() + float(sys.argv[2]), 0
while time.time() < end:
    k += 1
    tensors = {f"w{i}": torch.full((64, 69), float(k)) for i in range(4)}
    save_tensors(sys.argv[1], tensors, {"batch": k, "pad": "x" * (k % 13)})  # checkpoints of several lengths
"""


@pytest.mark.slow
def test_a_checkpoint_read_while_another_process_replaces_it_is_one_version_whole(tmp_path):
    """What a training saves every batch is read (the run's progress, resumed weights) old or new, never mixed."""
    import subprocess
    import sys
    import time

    from rnnlens.store.runs import read_metadata

    path = tmp_path / "last.safetensors"
    writer = subprocess.Popen([sys.executable, "-c", CHECKPOINTS_OF_K, str(path), "60"])
    try:
        while not path.exists():
            assert writer.poll() is None, "the writer ended before its first checkpoint"
            time.sleep(0.01)
        seen = []
        # at least 300 reads (about 3% of these mixed two versions, or failed, when safe_open read them), and
        # on until the file was replaced under the reads 10 times: on a busy machine the writer is slower
        while len(seen) < 300 or len(set(seen)) <= 10:
            assert writer.poll() is None, f"the writer stopped after {len(set(seen))} versions were read"
            tensors, metadata = load_tensors(path)
            seen.append(metadata["batch"])
            assert {float(t[0, 0]) for t in tensors.values()} | {float(t[-1, -1]) for t in tensors.values()} == \
                {float(metadata["batch"])}
            assert read_metadata(path)["batch"] >= metadata["batch"]
    finally:
        writer.kill()
        writer.wait()


@pytest.mark.parametrize("after", ["write_run_files", "save_last"])
def test_a_kill_at_the_last_epochs_end_leaves_a_record_with_every_epoch(war_and_peace, tmp_path, monkeypatch, after):
    """Killed right after either write of the final epoch's end, the run resumes to a config.json whose history
    has every epoch (with the checkpoint written first, a kill before the record left a finished run without it)."""
    from rnnlens.training.loop import Trainer

    path = tmp_path / "text.txt"
    path.write_text(war_and_peace[:20_000], encoding="utf-8")
    corpus = load_corpus(text=path)
    options = TrainOptions(epochs=2, batch_size=8, seq_length=40, save_every=0, seed=5)
    real = getattr(Trainer, after)

    def then_killed(self):
        real(self)
        if self.progress.epoch == 2 and self.progress.batch == 0:
            raise Killed
    monkeypatch.setattr(Trainer, after, then_killed)
    with pytest.raises(Killed):
        start_run(corpus, ModelConfig("lstm", len(corpus.vocab), 16, 1), options, tmp_path / "run").fit(
            show_progress=False, log=lambda _: None)
    monkeypatch.setattr(Trainer, after, real)
    resumed = resume_run(tmp_path / "run", corpus=corpus)
    if not resumed.finished():
        resumed.fit(show_progress=False, log=lambda _: None)
    assert [r["epoch"] for r in read_config(tmp_path / "run")["history"]] == [1, 2]
