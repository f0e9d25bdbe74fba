"""Training throughput: the rnnlens trainer against a minimal plain-PyTorch loop.

A 2-layer LSTM with a 1.3M-parameter budget on War and Peace, batch 100,
unroll 100, RMSProp. Both run in this process, alternating round by round,
on the same batches; the ratio of characters per second (rnnlens / plain)
must be at least 0.95.

    RNNLENS_DATA=../shared/data python benchmarks/train_throughput.py [--batches 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from rnnlens.data.batches import StreamBatches
from rnnlens.data.corpus import load_corpus
from rnnlens.models.rnn.network import CharRNN, ModelConfig, detach_state, solve_hidden_size
from rnnlens.models.rnn.fit import TrainOptions, make_trainer


def plain_loop(model: CharRNN, batches: StreamBatches, optimizer) -> float:
    """The minimal loop a PyTorch user would write; returns seconds."""
    start, state = time.perf_counter(), None
    for k in range(len(batches)):
        x, y = batches[k]
        logits, state = model(x, state)
        state = detach_state(state)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=5, help="batches per timed round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir")
    args = parser.parse_args()

    corpus = load_corpus(dataset="war-and-peace", data_dir=args.data_dir)
    hidden = solve_hidden_size("lstm", 2, len(corpus.vocab), 1_300_000)
    config = ModelConfig("lstm", len(corpus.vocab), hidden, 2)
    options = TrainOptions(save_every=0)
    chars = args.batches * options.batch_size * options.seq_length
    batches = StreamBatches(corpus.split_ids("train")[:chars + 1], options.batch_size, options.seq_length)

    trainer = make_trainer(corpus, config, options, "/tmp/rnnlens-throughput")
    trainer.task.train_batches = batches
    plain = CharRNN(config)
    plain.init_uniform()
    plain_optimizer = torch.optim.RMSprop(plain.parameters(), lr=2e-3, alpha=0.95, eps=1e-8)

    ours, theirs = [], []
    for _ in range(args.rounds + 1):  # the first round warms up both and is not counted
        trainer.progress.batch = 0
        ours.append(chars / trainer.run_epoch(on_iteration=None, show_progress=False))
        theirs.append(chars / plain_loop(plain, batches, plain_optimizer))
    ours, theirs = ours[1:], theirs[1:]
    print(f"model: 2-layer LSTM, hidden {hidden}; {args.rounds} rounds of {args.batches} batches of 100 x 100; "
          f"{torch.get_num_threads()} threads")
    print(f"rnnlens trainer : {statistics.median(ours):10,.0f} chars/s  (rounds: {', '.join(f'{v:,.0f}' for v in ours)})")
    print(f"plain PyTorch   : {statistics.median(theirs):10,.0f} chars/s  (rounds: {', '.join(f'{v:,.0f}' for v in theirs)})")
    print(f"ratio rnnlens / plain = {statistics.median(ours) / statistics.median(theirs):.3f} (goal: >= 0.95)")


if __name__ == "__main__":
    main()
