"""Training a CharRNN: streams of truncated BPTT as the shared loop's task, new runs and resumed ones.

The text is cut into ``batch_size`` parallel streams unrolled ``seq_length``
steps (100 x 100 in the paper); the state carries from batch to batch within
an epoch (and across a resume) and starts from zero each epoch. The
validation loss runs the same streams over the validation split.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from rnnlens.data.batches import StreamBatches, validation_batches
from rnnlens.data.corpus import Corpus, load_corpus_spec
from rnnlens.errors import RnnlensError
from rnnlens.models.rnn.network import CharRNN, ModelConfig, detach_state, resolve_device
from rnnlens.store.runs import read_config
from rnnlens.training.loop import LAST, LoopOptions, Trainer, clear_stale_files

KIND = "rnn"


@dataclass(frozen=True)
class TrainOptions(LoopOptions):
    """The shared loop's options plus the streams of truncated BPTT; the defaults are the paper's."""

    batch_size: int = 100
    seq_length: int = 100
    forget_bias: float = 0.0  # added to LSTM forget-gate biases at init (Gers et al. 2000); 0 is the paper's
    snapshot_every: int = 0  # keep the weights every N batches and at batch 0 (training dynamics); 0: none


class StreamTask:
    """Batches of parallel streams with the recurrent state carried between them."""

    def __init__(self, corpus: Corpus, model_config: ModelConfig, options: TrainOptions, device: torch.device) -> None:
        self.model_config, self.options, self.device = model_config, options, device
        self.train_batches = StreamBatches(corpus.split_ids("train"), options.batch_size, options.seq_length,
                                           "training split")
        self.val_batches = validation_batches(corpus.split_ids("val"), options.batch_size, options.seq_length)
        self.chars_per_batch = self.train_batches.chars_per_batch
        # oneDNN's fused LSTM trains 1.3-1.9x faster under bf16 autocast on AVX512-BF16; PyTorch's per-step RNN
        # and GRU kernels on a CPU run 0.6-1.0x (benchmarks/RESULTS.md), so auto keeps them fp32
        self.bf16_on_cpu = model_config.model_type == "lstm"
        self.state = None

    def make_model(self) -> CharRNN:
        return CharRNN(self.model_config)

    def init_weights(self, model: CharRNN, scale: float) -> None:
        model.init_uniform(scale, self.options.forget_bias)

    def num_batches(self) -> int:
        return len(self.train_batches)

    def start_epoch(self, model: CharRNN, epoch: int, fresh: bool) -> None:
        if fresh:
            self.state = None  # each epoch starts its streams from a zero state

    def batch_loss(self, model: CharRNN, k: int) -> torch.Tensor:
        x, y = (t.to(self.device) for t in self.train_batches[k])
        logits, state = model(x, self.state)
        self.state = detach_state(state)
        return F.cross_entropy(logits.float().flatten(0, 1), y.flatten())  # fp32 loss under bf16 autocast too

    @torch.no_grad()
    def validation_loss(self, model: CharRNN) -> float:
        """Mean cross-entropy (nats/char) over the validation streams, state carried, in eval mode."""
        was_training = model.training
        model.eval()
        state, total = None, 0.0
        for k in range(len(self.val_batches)):
            x, y = (t.to(self.device) for t in self.val_batches[k])
            logits, state = model(x, state)
            total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
        model.train(was_training)
        return total / (len(self.val_batches) * self.val_batches.chars_per_batch)

    def carried(self) -> dict[str, torch.Tensor]:
        state = self.state if isinstance(self.state, tuple) else (self.state,) if self.state is not None else ()
        return {str(i): s for i, s in enumerate(state)}

    def restore_carried(self, tensors: dict[str, torch.Tensor]) -> None:
        state = [v for _, v in sorted(tensors.items())]
        self.state = None if not state else tuple(state) if len(state) == 2 else state[0]


def make_trainer(corpus: Corpus, model_config: ModelConfig, options: TrainOptions,
                 out_dir: str | os.PathLike) -> Trainer:
    device = resolve_device(options.device)
    task = StreamTask(corpus, model_config, options, device)
    config = {"model": model_config.to_dict(), "parameters": model_config.parameter_count,
              "vocabulary": corpus.vocab.chars, "corpus": corpus.spec()}
    return Trainer(task, options, out_dir, KIND, config, device, snapshot_every=options.snapshot_every)


def start_run(corpus: Corpus, model_config: ModelConfig, options: TrainOptions, out_dir: str | os.PathLike) -> Trainer:
    """A trainer for a new run; refuses a directory that holds anything already."""
    out = Path(out_dir)
    if (out / LAST).exists():
        raise RnnlensError(f"{out_dir} already holds a training run", advice="continue it", option="resume")
    if out.exists() and any(out.iterdir()):
        raise RnnlensError(f"{out_dir} is not empty ({', '.join(sorted(p.name for p in out.iterdir())[:3])}); "
                           "a new run needs a new or empty directory")
    return make_trainer(corpus, model_config, options, out_dir)


def recorded_options(out_dir: str | os.PathLike) -> tuple[dict, TrainOptions]:
    """The config and the training options a run recorded."""
    config = read_config(out_dir)
    if config.get("kind") != KIND:
        raise RnnlensError(f"{out_dir} holds an {config.get('kind')} model, not an RNN training run")
    return config, TrainOptions.from_dict(config["training"])


def resume_run(out_dir: str | os.PathLike, epochs: int | None = None, corpus: Corpus | None = None,
               data_dir: str | os.PathLike | None = None) -> Trainer:
    """A trainer restored from ``out_dir/last.safetensors`` exactly where it stopped.

    The run keeps every option it recorded; ``epochs`` may extend (or
    shorten) it. The corpus is the recorded one, reloaded and checked by
    sha256 (``corpus``, when given, must be that one).
    """
    if not (Path(out_dir) / LAST).exists():
        raise RnnlensError(f"{out_dir}: nothing to resume (no {LAST}); start the run without resuming it")
    clear_stale_files(out_dir)
    config, options = recorded_options(out_dir)
    if corpus is None:
        corpus = load_corpus_spec(config["corpus"], data_dir)
    elif corpus.sha256 != config["corpus"]["sha256"] or list(corpus.fractions) != config["corpus"]["fractions"]:
        raise RnnlensError(f"{out_dir} was trained on {config['corpus']['name']} with split fractions "
                           f"{config['corpus']['fractions']}; resume it with that corpus and split")
    if epochs is not None:
        options = TrainOptions.from_dict({**asdict(options), "epochs": epochs})
    trainer = make_trainer(corpus, ModelConfig(**config["model"]), options, out_dir)
    trainer.restore_last()
    return trainer


