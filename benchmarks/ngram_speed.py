"""Time and peak memory of estimating a modified Kneser-Ney model and scoring the test split: rnnlens vs KenLM.

Each measured command runs as the only child of a small wrapper, so its peak
resident memory (``getrusage(RUSAGE_CHILDREN).ru_maxrss``) and CPU time are
its own.
rnnlens: ``estimate`` on the train split, then ``predict_log_probs`` on the
test split. KenLM (where ``lmplz`` and ``query`` are on the PATH): ``lmplz -o N
--discount_fallback`` on the train split written as one line of
space-separated characters (``<sp>``, ``<nl>``, ``<tab>``), then ``query`` on
the test split written the same way (loading the ARPA file), the loss taken
over every character but ``</s>``. Temporary files go to a temporary folder,
never beside the corpora.

    python benchmarks/ngram_speed.py --dataset war-and-peace --order 21
    python benchmarks/ngram_speed.py --smoke   # order 3 on the first 50,000 characters, seconds

``--chars N`` takes the first N characters of the dataset (with its split
fractions) instead of all of it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import dataset_corpus, parse_args

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = os.environ.get("RNNLENS_DATA", str(REPO.parent / "shared" / "data"))
SPELL = {" ": "<sp>", "\n": "<nl>", "\t": "<tab>"}
SMOKE = {"order": 3, "chars": 50_000}


def rnnlens_child(dataset: str, chars: int | None, order: int) -> None:
    """Run inside the child: estimate, score, print one JSON line."""
    import numpy as np

    from rnnlens.models.ngram.kneser_ney import BackoffPredictor, estimate

    corpus = dataset_corpus(dataset, chars, DATA_DIR)
    train, test = corpus.split_ids("train"), corpus.split_ids("test")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu = time.perf_counter(), time.process_time()
    tables, stats = estimate(train, order, len(corpus.vocab))
    estimate_s, estimate_cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    log_probs = BackoffPredictor(tables, corpus.vocab, corpus.spec()).predict_log_probs(test)
    print(json.dumps({"estimate_s": estimate_s, "estimate_cpu_s": estimate_cpu, "score_s": time.perf_counter() - start,
                      "loss": -float(np.mean(log_probs)), "ngrams": sum(s["ngrams"] for s in stats),
                      "rss_before_mb": before / 1024}))


# runs a command as its own child and writes that child's peak RSS and CPU time to the file named first
WRAPPER = ("import json, resource, subprocess, sys; subprocess.run(sys.argv[2:], check=True); "
           "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
           "open(sys.argv[1], 'w').write(json.dumps([u.ru_maxrss / 1024, u.ru_utime + u.ru_stime]))")


def measure(command: list[str], **kwargs) -> tuple[subprocess.CompletedProcess, float, float, float]:
    """Run a command; return it, its wall seconds, CPU seconds and peak resident memory (MB)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as usage:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", WRAPPER, usage.name, *command], check=True, **kwargs)
        wall = time.perf_counter() - start
        peak_mb, cpu = json.loads(Path(usage.name).read_text())
    return done, wall, cpu, peak_mb


def kenlm_line(text: str) -> str:
    return " ".join(SPELL.get(c, c) for c in text) + "\n"


def run_kenlm(dataset: str, chars: int | None, order: int, memory: str) -> dict:
    corpus = dataset_corpus(dataset, chars, DATA_DIR)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "train.txt").write_text(kenlm_line(corpus.split_text("train")), encoding="utf-8")
        test = corpus.split_text("test")
        (tmp / "test.txt").write_text(kenlm_line(test), encoding="utf-8")
        with open(tmp / "train.txt") as source, open(tmp / "model.arpa", "w") as arpa:
            _, lmplz_s, lmplz_cpu, lmplz_mb = measure(
                ["lmplz", "-o", str(order), "--discount_fallback", "-S", memory, "-T", str(tmp)],
                stdin=source, stdout=arpa, stderr=subprocess.DEVNULL)
        with open(tmp / "test.txt") as source:
            done, query_s, query_cpu, query_mb = measure(["query", "-v", "word", str(tmp / "model.arpa")], stdin=source,
                                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    log10 = [float(x) for x in re.findall(r"=\d+ \d+ (-?[\d.e+-]+)", done.stdout)][: len(test)]  # not </s>
    return {"estimate_s": lmplz_s, "estimate_cpu_s": lmplz_cpu, "estimate_peak_mb": lmplz_mb, "score_s": query_s,
            "score_peak_mb": query_mb, "loss": -sum(log10) * math.log(10) / len(log10), "chars_scored": len(log10)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="war-and-peace")
    parser.add_argument("--order", type=int, default=21)
    parser.add_argument("--chars", type=int, help="only the first CHARS characters of the dataset")
    parser.add_argument("--kenlm-memory", default="10%", help="lmplz -S (default: 10%% of RAM)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parse_args(parser, SMOKE)
    if args.child:
        rnnlens_child(args.dataset, args.chars, args.order)
        return 0
    sized = ["--chars", str(args.chars)] if args.chars is not None else []
    done, wall, cpu, peak = measure([sys.executable, __file__, "--child", "--dataset", args.dataset, *sized,
                                     "--order", str(args.order)], stdout=subprocess.PIPE, text=True)
    ours = {**json.loads(done.stdout), "wall_s": wall, "cpu_s": cpu, "peak_mb": peak}
    text = f"the first {args.chars:,} characters of {args.dataset}" if args.chars is not None else args.dataset
    print(f"rnnlens order {args.order} on {text}: estimate {ours['estimate_s']:.1f} s "
          f"({ours['estimate_cpu_s']:.1f} s CPU), score test {ours['score_s']:.1f} s, peak RSS {peak:,.0f} MB "
          f"({ours['rss_before_mb']:,.0f} MB before estimating), test loss {ours['loss']:.4f} nats/char, "
          f"{ours['ngrams']:,} n-grams; whole child {wall:.1f} s wall, {cpu:.1f} s CPU")
    result = {"dataset": args.dataset, "chars": args.chars, "order": args.order, "rnnlens": ours}
    if shutil.which("lmplz") and shutil.which("query"):
        kenlm = run_kenlm(args.dataset, args.chars, args.order, args.kenlm_memory)
        result["kenlm"] = kenlm
        print(f"KenLM   order {args.order} on {text}: lmplz {kenlm['estimate_s']:.1f} s "
              f"({kenlm['estimate_cpu_s']:.1f} s CPU), peak RSS {kenlm['estimate_peak_mb']:,.0f} MB; query {kenlm['score_s']:.1f} s, "
              f"peak RSS {kenlm['score_peak_mb']:,.0f} MB; test loss {kenlm['loss']:.4f} nats/char")
    else:
        print("KenLM: lmplz/query not on PATH; skipped")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
