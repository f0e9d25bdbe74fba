"""Training throughput: the rnnlens trainer, through its public API, against a minimal plain-PyTorch fp32 loop.

A 2-layer LSTM with a 1.3M-parameter budget (``--params``) on the first
``--batches`` batches of War and Peace, batch 100 x 100, RMSProp as the
paper (the defaults of ``TrainOptions``). Three ways run in this process,
alternating round by round on the same batches, each round from fresh
weights (one warm-up round first, not counted):

- rnnlens: the text slice written to a temporary file, ``load_corpus(text=...)``
  with split fractions that make the training split exactly those batches,
  ``start_run(...).fit()`` for one epoch with the default precision (``auto``:
  bf16 autocast for an LSTM on a CPU with AVX512-BF16 or AMX, else fp32);
  its speed is the epoch record's ``chars_per_s`` (the training batches'
  time only, not validation nor checkpoints);
- rnnlens fp32: the same with ``precision="fp32"``;
- plain fp32: the loop a PyTorch user would write over the same batches (the
  same CharRNN shape and init, RMSProp lr 2e-3, alpha 0.95, eps 1e-8, no
  clipping), timed over the same batches.

It prints the model, the threads, what ``auto`` resolved to, each way's
median chars/s with its rounds, and the two ratios with their goals:
rnnlens (auto) / plain fp32 >= 1.4 and rnnlens fp32 / plain fp32 >= 0.95.

    RNNLENS_DATA=../shared/data .venv/bin/python benchmarks/train_throughput.py [--batches 3] [--rounds 3] [--threads T]
    RNNLENS_DATA=../shared/data .venv/bin/python benchmarks/train_throughput.py --smoke   # tiny model, seconds
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rnnlens.data.corpus import Corpus, load_corpus
from rnnlens.models.rnn.fit import TrainOptions, start_run
from rnnlens.models.rnn.network import CharRNN, ModelConfig, solve_hidden_size

from _common import parse_args, scratch_or, text_corpus

SMOKE = {"params": 5_000, "batches": 2, "batch_size": 8, "seq_length": 16, "rounds": 1}


def batches_corpus(text: str, batches: int, batch_size: int, seq_length: int) -> Corpus:
    """The first ``batches`` batches of ``text`` as the training split, one batch's worth after it as the
    validation split (the trainer validates after its epoch), no test split."""
    train = batches * batch_size * seq_length + 1  # a batch's targets are its inputs shifted by one
    total = train + batch_size * seq_length + 1
    head = (train + 0.5) / total  # int(total * head) is exactly train, whatever the rounding
    corpus = text_corpus(text[:total], f"war-and-peace-first-{total}", (head, 1 - head, 0.0))
    if len(corpus.split_ids("train")) != train:
        raise RuntimeError(f"the training split has {len(corpus.split_ids('train'))} characters, not {train}")
    return corpus


def ours(corpus: Corpus, config: ModelConfig, options: TrainOptions, out_dir: Path) -> tuple[float, str]:
    """One epoch of a new rnnlens run; its chars/s over the training batches and the precision it ran in."""
    trainer = start_run(corpus, config, options, out_dir)
    progress = trainer.fit(show_progress=False, log=lambda line: None)
    shutil.rmtree(out_dir)  # a full-size run's checkpoints are tens of MB
    return progress.history[-1]["chars_per_s"], trainer.options.precision


def plain(ids: np.ndarray, config: ModelConfig, batches: int, batch_size: int, seq_length: int) -> float:
    """The minimal fp32 loop a PyTorch user would write over the same batches (``batch_size`` streams of
    ``ids``, ``seq_length`` steps a batch, state carried); its chars/s."""
    chars = batches * batch_size * seq_length
    ids = torch.as_tensor(ids, dtype=torch.int64)
    inputs, targets = ids[:chars].view(batch_size, -1), ids[1:chars + 1].view(batch_size, -1)
    torch.manual_seed(0)
    model = CharRNN(config)
    model.init_uniform(0.08)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=2e-3, alpha=0.95, eps=1e-8)
    start, state = time.perf_counter(), None
    for k in range(batches):
        columns = slice(k * seq_length, (k + 1) * seq_length)
        logits, state = model(inputs[:, columns], state)
        state = tuple(s.detach() for s in state)
        loss = F.cross_entropy(logits.flatten(0, 1), targets[:, columns].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return chars / (time.perf_counter() - start)


def main() -> None:
    defaults = TrainOptions()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=3, help="training batches per run (the first of War and Peace)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds, after one warm-up round")
    parser.add_argument("--params", type=int, default=1_300_000, help="parameter budget of the 2-layer LSTM")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--seq-length", type=int, default=defaults.seq_length)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--data-dir")
    args = parse_args(parser, SMOKE)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    text = load_corpus(dataset="war-and-peace", data_dir=args.data_dir).text
    corpus = batches_corpus(text, args.batches, args.batch_size, args.seq_length)
    vocab = len(corpus.vocab)
    config = ModelConfig("lstm", vocab, solve_hidden_size("lstm", 2, vocab, args.params), 2, budget=args.params)
    options = {precision: TrainOptions(epochs=1, save_every=0, precision=precision, batch_size=args.batch_size,
                                       seq_length=args.seq_length) for precision in ("auto", "fp32")}
    speeds: dict[str, list[float]] = {"auto": [], "fp32": [], "plain": []}
    ran: dict[str, str] = {}  # the precision each of ours ran in
    with scratch_or(None) as scratch:
        for r in range(args.rounds + 1):  # round 0 warms up all three and is not counted
            for precision, opts in options.items():
                speed, ran[precision] = ours(corpus, config, opts, scratch / f"{precision}-{r}")
                speeds[precision].append(speed)
            speeds["plain"].append(plain(corpus.split_ids("train"), config, args.batches, args.batch_size,
                                         args.seq_length))
    resolved = ran["auto"]
    medians = {way: statistics.median(values[1:]) for way, values in speeds.items()}

    print(f"model: 2-layer LSTM, hidden {config.hidden_size}, {config.parameter_count:,} parameters, vocabulary "
          f"{vocab}; {args.batches} batches of {args.batch_size} x {args.seq_length} (the start of War and Peace); "
          f"{args.rounds} rounds after 1 warm-up; {torch.get_num_threads()} threads; precision auto -> {resolved}")
    for way, label in (("auto", f"rnnlens (auto: {resolved})"), ("fp32", "rnnlens fp32"), ("plain", "plain fp32")):
        rounds = ", ".join(f"{v:,.0f}" for v in speeds[way][1:])
        print(f"{label:<22}: {medians[way]:10,.0f} chars/s  (rounds: {rounds})")
    print(f"ratio rnnlens / plain fp32 = {medians['auto'] / medians['plain']:.3f} (goal: >= 1.4)")
    print(f"ratio rnnlens fp32 / plain fp32 = {medians['fp32'] / medians['plain']:.3f} (goal: >= 0.95)")


if __name__ == "__main__":
    main()
