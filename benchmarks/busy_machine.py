"""Single-stream recurrences on a busy machine: default torch threads against single_stream_threads().

A random 2-layer LSTM (``--hidden``, default 128) over War and Peace's 82
characters (the vocabulary of the whole file; the text is its first
``--chars``, default 60K), one stream (batch 1), timed in two workloads:

- evaluate: ``RNNPredictor.predict_log_probs`` over the text (the fused
  kernel, 10K steps per call, state carried; any thread policy the
  predictor applies itself is switched off);
- sample: ``--sample-chars`` single-step forwards, each multinomial choice
  fed back with the carried state (as ``rnnlens.models.sampling.sample``),
  ``--sample-repeats`` times a round.

Each runs under (i) the process's default torch intra-op threads, (ii)
``single_stream_threads()``, (iii) each explicit count of ``--threads``;
the configurations alternate, round by round in a rotating order, and
medians are printed with the ratios default/best and
single_stream_threads/best, best being the fastest explicit count. Unless
``--idle``, ``--competitors`` busy processes (single-threaded NumPy matmuls
in a loop) hold the cores meanwhile; they are killed at the end, on an
error too, and each stops by itself once this process is gone.

A run still going after ``--cap`` seconds stops at its next forward call
(every 10K steps when evaluating) and counts as the time it took so far,
a lower bound marked ``>=``: two threads beside busy processes can take
minutes, more so when other jobs load the machine too. About 25 s idle,
1.5-2 min busy on the 2-core development machine.

    RNNLENS_DATA=../shared/data .venv/bin/python benchmarks/busy_machine.py [--idle]
    RNNLENS_DATA=../shared/data .venv/bin/python benchmarks/busy_machine.py --smoke   # tiny sizes, seconds

Exits 1 if single_stream_threads() is slower than 1.3x the best count in
either workload, or hit the cap (not with ``--smoke``: its times are too
short to judge).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from typing import Callable, Iterator

import torch

from rnnlens.data.corpus import Vocabulary
from rnnlens.models.rnn.network import CharRNN, ModelConfig
from rnnlens.models.rnn.predictor import RNNPredictor
from rnnlens.models.threads import single_stream_threads

from _common import parse_args

BAR = 1.3  # single_stream_threads() must be within this factor of the best thread count
SMOKE = {"competitors": 1, "chars": 2_000, "sample_chars": 20, "hidden": 16, "threads": "1", "rounds": 1,
         "sample_repeats": 1}  # one explicit count: two threads beside busy processes can take minutes


class OverCap(Exception):
    """A run went past its time cap (raised from the model's forward pre-hook)."""


# One busy process: a 256x256 float64 matmul (0.7 ms) in a loop on one BLAS
# thread, until its parent (this benchmark) is gone (checked every 50 products).
COMPETITOR = """
import os, sys
import numpy as np
parent = int(sys.argv[1])
a = np.random.default_rng(0).random((256, 256))
print("ready", flush=True)
while os.getppid() == parent:
    for _ in range(50):
        b = a @ a
"""
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextmanager
def competitors(count: int) -> Iterator[list[subprocess.Popen]]:
    """``count`` busy processes, started and ready on entry, killed on exit."""
    procs: list[subprocess.Popen] = []
    try:
        for _ in range(count):
            procs.append(subprocess.Popen(
                [sys.executable, "-c", COMPETITOR, str(os.getpid())],
                stdout=subprocess.PIPE, text=True, env={**os.environ, **ONE_THREAD},
            ))
        for proc in procs:
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"competitor {proc.pid} did not start")
        time.sleep(1.0)  # let them settle on the cores
        yield procs
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def sample_steps(model: CharRNN, length: int, seed: int = 0) -> None:
    """``length`` single-step forwards from a zero state, each multinomial choice fed back."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        logits, state = model(torch.tensor([[0]]), None)
        for _ in range(length):
            probs = torch.softmax(logits[0, -1].float(), dim=-1)
            choice = int(torch.multinomial(probs, 1, generator=generator))
            logits, state = model(torch.tensor([[choice]]), state)


def configurations(default: int, counts: list[int]) -> dict[str, Callable[[], object]]:
    """Name -> a fresh context manager that puts torch on that configuration's threads."""
    def explicit(n: int):
        @contextmanager
        def threads() -> Iterator[None]:
            torch.set_num_threads(n)
            try:
                yield
            finally:
                torch.set_num_threads(default)
        return threads

    configs: dict[str, Callable[[], object]] = {
        f"default ({default})": nullcontext,
        "single_stream_threads()": single_stream_threads,
    }
    configs.update({f"threads={n}": explicit(n) for n in counts})
    return configs


def expected_threads(name: str, default: int) -> int:
    """The intra-op threads the forwards of configuration ``name`` must run on."""
    if name.startswith("default"):
        return default
    if name.startswith("single_stream"):
        with single_stream_threads() as n:
            return n
    return int(name.split("=")[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", action="store_true", help="measure without competing processes")
    parser.add_argument("--competitors", type=int, default=2, help="busy processes beside the benchmark")
    parser.add_argument("--chars", type=int, default=60_000, help="characters to evaluate")
    parser.add_argument("--sample-chars", type=int, default=500, help="characters to sample")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--threads", default="1,2", help="explicit intra-op thread counts to compare")
    parser.add_argument("--rounds", type=int, default=5, help="runs of every configuration, alternated")
    parser.add_argument("--sample-repeats", type=int, default=3, help="sample runs per configuration per round")
    parser.add_argument("--cap", type=float, default=10.0, help="seconds after which a run stops (a lower bound)")
    parser.add_argument("--data-dir", default=os.environ.get("RNNLENS_DATA"))
    args = parse_args(parser, SMOKE)
    if not args.data_dir:
        parser.error("give --data-dir or set RNNLENS_DATA (the folder holding war_and_peace.txt)")
    # SIGTERM (a timeout, a killed job) unwinds like Ctrl-C, so the competitors die too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    with open(os.path.join(args.data_dir, "war_and_peace.txt"), encoding="utf-8") as f:
        whole = f.read()
    vocab = Vocabulary.from_text(whole)
    ids = vocab.encode(whole[:args.chars])
    torch.manual_seed(0)
    model = CharRNN(ModelConfig("lstm", len(vocab), args.hidden, args.layers)).eval()
    predictor = RNNPredictor(model, vocab, {})
    # A predictor may apply its own thread policy (``threads``, a context
    # manager factory); switch it off so that each configuration here is what runs.
    if hasattr(predictor, "threads"):
        predictor.threads = nullcontext

    default = torch.get_num_threads()
    counts = [int(n) for n in args.threads.split(",")]
    configs = configurations(default, counts)
    # Each forward records the intra-op threads in effect, to check that every
    # configuration really ran on its count (and nothing inside reset it), and
    # stops a run that is past its cap.
    seen: list[int] = []
    deadline = [float("inf")]

    def pre_forward(*_) -> None:
        seen.append(torch.get_num_threads())
        if time.perf_counter() > deadline[0]:
            raise OverCap

    model.register_forward_pre_hook(pre_forward)
    workloads = {
        "evaluate": lambda: predictor.predict_log_probs(ids),
        "sample": lambda: sample_steps(model, args.sample_chars),
    }
    repeats = {"evaluate": 1, "sample": args.sample_repeats}  # sampling is short and noisier

    load = "idle" if args.idle else f"{args.competitors} busy processes"
    print(f"{args.layers}-layer LSTM hidden {args.hidden}, vocabulary {len(vocab)}, batch 1; "
          f"evaluate {len(ids):,} chars, sample {args.sample_chars} chars; torch {torch.__version__}, "
          f"{os.cpu_count()} cores, default {default} intra-op threads; {load}; {args.rounds} rounds "
          f"(sample {args.sample_repeats} times a round); "
          f"load average before {os.getloadavg()[0]:.2f}")

    times = {name: {w: [] for w in workloads} for name in configs}
    capped = {name: {w: False for w in workloads} for name in configs}
    names = list(configs)
    with competitors(0 if args.idle else args.competitors):
        # warm-up: every configuration once on a short slice
        for name in names:
            with configs[name]():
                predictor.predict_log_probs(ids[:2_000])
                sample_steps(model, 20)
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                for workload, run in workloads.items():
                    for _ in range(repeats[workload]):
                        seen.clear()
                        with configs[name]():
                            start = time.perf_counter()
                            deadline[0] = start + args.cap
                            try:
                                run()
                            except OverCap:
                                capped[name][workload] = True
                            times[name][workload].append(time.perf_counter() - start)
                            deadline[0] = float("inf")
                        if set(seen) != {expected_threads(name, default)}:
                            raise RuntimeError(f"{name}: forwards ran on {sorted(set(seen))} threads "
                                               "(does the package now set threads itself?)")
                        if torch.get_num_threads() != default:
                            raise RuntimeError(f"{name}: left torch on {torch.get_num_threads()} threads, not {default}")
            print(f"round {r + 1} (evaluate/sample): " + "  ".join(
                f"{name} {times[name]['evaluate'][-1]:.2f}/{times[name]['sample'][-1]:.2f}s" for name in names),
                flush=True)

    medians = {name: {w: statistics.median(v) for w, v in t.items()} for name, t in times.items()}

    def shown(name: str, workload: str) -> str:
        return (">=" if capped[name][workload] else "") + f"{medians[name][workload]:.3f}"

    print(f"\nmedian seconds ({load}; load average after {os.getloadavg()[0]:.2f}; "
          f">=: a run stopped at the {args.cap:g} s cap)")
    print(f"{'configuration':<26}" + "".join(f"{w:>12}" for w in workloads))
    for name in names:
        print(f"{name:<26}" + "".join(f"{shown(name, w):>12}" for w in workloads))
    failed = False
    sst = "single_stream_threads()"
    for workload in workloads:
        best_name = min((f"threads={n}" for n in counts), key=lambda name: medians[name][workload])
        best = medians[best_name][workload]
        ratio_default = medians[names[0]][workload] / best
        ratio_sst = medians[sst][workload] / best
        fail = ratio_sst > BAR or capped[sst][workload]
        failed |= fail
        print(f"{workload}: best {best_name} {shown(best_name, workload)} s; "
              f"default/best {'>=' if capped[names[0]][workload] else ''}{ratio_default:.2f}; single_stream_threads/best {ratio_sst:.2f}"
              + ("  FAIL" if fail else ""))
    if failed:
        print(f"single_stream_threads() is more than {BAR}x slower than the best thread count, or hit the cap")
    return 1 if failed and not args.smoke else 0


if __name__ == "__main__":
    sys.exit(main())
