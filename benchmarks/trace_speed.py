"""How fast is a full trace (every state and gate) against a plain forward pass?

Traces the first 300,000 characters of War and Peace through a 3-layer LSTM
with the paper's 1.3M-parameter budget (random weights: speed does not depend
on them) and prints, side by side:

- ours: ``compute_trace`` keeping h, c, i, f, o, g of every layer and the
  probability of each next character, in memory;
- plain: one ``nn.LSTM`` forward over the same text (h of the top layer only;
  the lower bound for anything that reads the text once);
- naive: a per-step ``nn.LSTMCell`` loop over the three layers (timed on a
  shorter slice and scaled to the full length, as printed).

    RNNLENS_DATA=../shared/data .venv/bin/python benchmarks/trace_speed.py
    RNNLENS_DATA=../shared/data .venv/bin/python benchmarks/trace_speed.py --smoke  # seconds: tiny sizes

The plain forward and the naive loop use ``--threads`` intra-op threads
(default 1). The trace runs as rnnlens does by default: each layer's kernel,
each layer's gates and the decoder on threads of their own where the CPU has
more than one core (``--workers 0``: all in one thread; see
``rnnlens.models.rnn.stages``); with threads the plain forward is also
timed on every core and the ratio to that is printed as well. The CPU-time
ratio (all threads) is printed too. The memory the trace fills is touched
once before timing (see the comment).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from rnnlens.data.corpus import load_corpus
from rnnlens.models.rnn.network import CharRNN, ModelConfig, count_parameters, solve_hidden_size
from rnnlens.models.rnn.trace import compute_trace, default_workers


def timed(function) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all threads of this process) of one call."""
    start, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=300_000, help="characters of War and Peace to trace")
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--params", type=int, default=1_300_000, help="parameter budget of the LSTM")
    parser.add_argument("--naive-chars", type=int, default=5_000, help="characters the naive loop really runs")
    parser.add_argument("--repeats", type=int, default=2, help="runs of ours and plain, alternated; the best counts")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--workers", type=int, help="0: the trace in one thread; 1: its stages on threads "
                                                    "(default: as rnnlens trace)")
    parser.add_argument("--data-dir", default=os.environ.get("RNNLENS_DATA"))
    parser.add_argument("--no-wide", action="store_true", help="skip the plain forward on every core (on a busy "
                                                             "machine its OpenMP team can take minutes)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (3,000 characters, a 20K-parameter LSTM): "
                                                           "checks that the benchmark runs, in seconds")
    args = parser.parse_args()
    if args.smoke:
        args.chars, args.params, args.naive_chars, args.repeats = 3_000, 20_000, 200, 1
    torch.set_num_threads(args.threads)
    if args.workers is None:
        args.workers = default_workers(torch.device("cpu"))
    torch.manual_seed(0)

    corpus = load_corpus(dataset="war-and-peace", data_dir=args.data_dir)
    ids = corpus.ids[:args.chars]
    vocab = len(corpus.vocab)
    hidden = solve_hidden_size("lstm", args.layers, vocab, args.params)
    model = CharRNN(ModelConfig("lstm", vocab, hidden, args.layers))
    model.init_uniform()
    model.eval()
    print(f"{len(ids):,} characters of War and Peace; {args.layers}-layer LSTM, hidden {hidden}, "
          f"{count_parameters('lstm', args.layers, vocab, hidden):,} parameters; "
          f"{torch.get_num_threads()} torch thread(s), trace stages {'on threads' if args.workers else 'in one thread'}; "
          f"torch {torch.__version__}")

    tokens = torch.as_tensor(ids[:-1])

    @torch.no_grad()
    def plain():
        model.rnn(F.one_hot(tokens, vocab).float()[None])

    def ours():
        compute_trace(model, ids, workers=args.workers)

    # Touch as much memory as the trace will fill, once, untimed: in a virtual machine the first
    # write to memory the process never used costs several seconds per GB (host page faults),
    # which would be charged to whichever method runs first.
    warm = [np.ones((len(ids), hidden), np.float32) for _ in range(6 * args.layers + 1)]
    del warm

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    # the cores the trace uses; not in a smoke run, where an OpenMP team's barrier at every one of the tiny
    # steps waits for a thread the OS lent to another process (17 s instead of 0.02 s on a busy machine)
    wide = cores if args.workers and not (args.smoke or args.no_wide) else args.threads

    def plain_wide():
        torch.set_num_threads(wide)
        try:
            plain()
        finally:
            torch.set_num_threads(args.threads)

    ours_times, plain_times, wide_times = [], [], []
    for repeat in range(args.repeats):
        plain_times.append(timed(plain))
        if wide != args.threads:
            wide_times.append(timed(plain_wide))
        ours_times.append(timed(ours))
        print(f"  run {repeat + 1}: plain {plain_times[-1][0]:.2f} s ({plain_times[-1][1]:.2f} s CPU)"
              + (f", plain on {wide} threads {wide_times[-1][0]:.2f} s" if wide_times else "")
              + f", ours {ours_times[-1][0]:.2f} s ({ours_times[-1][1]:.2f} s CPU)", flush=True)

    cells = [torch.nn.LSTMCell(vocab if k == 0 else hidden, hidden) for k in range(args.layers)]
    for k, cell in enumerate(cells):
        cell.load_state_dict({name[:-3]: getattr(model.rnn, name) for name in
                              (f"weight_ih_l{k}", f"weight_hh_l{k}", f"bias_ih_l{k}", f"bias_hh_l{k}")})
    steps = min(args.naive_chars, len(ids) - 1)

    @torch.no_grad()
    def naive():
        states = [None] * args.layers
        for t in range(steps):
            x = F.one_hot(tokens[t:t + 1], vocab).float()
            for k, cell in enumerate(cells):
                states[k] = cell(x, states[k])
                x = states[k][0]

    naive_time = timed(naive)[0] * (len(ids) - 1) / steps
    (best_ours, ours_cpu), (best_plain, plain_cpu) = min(ours_times), min(plain_times)
    print(f"ours (all gates, h, c, prob):  {best_ours:8.2f} s  ({(len(ids) - 1) / best_ours:,.0f} chars/s, "
          f"{ours_cpu:.2f} s CPU)")
    print(f"plain nn.LSTM forward:         {best_plain:8.2f} s  ({(len(ids) - 1) / best_plain:,.0f} chars/s, "
          f"{plain_cpu:.2f} s CPU)")
    print(f"naive nn.LSTMCell loop:        {naive_time:8.2f} s  (ran {steps:,} steps, scaled to {len(ids) - 1:,})")
    print(f"ratio ours / plain (both {args.threads} intra-op thread(s)): {best_ours / best_plain:.2f} wall-clock "
          f"(bar: 1.2), {ours_cpu / plain_cpu:.2f} CPU time; naive / ours: {naive_time / best_ours:.1f}")
    if wide_times:
        best_wide = min(wide_times)[0]
        print(f"plain on {wide} threads:            {best_wide:8.2f} s; ratio ours / that: {best_ours / best_wide:.2f} "
              f"(all the trace's cores given to the plain forward too)")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
