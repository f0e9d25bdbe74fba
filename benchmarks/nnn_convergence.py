"""Table 2's n-NN column trained to convergence: time per n, and validation/test loss beside the n-gram model
that sees the same n characters.

For each n: the order-(n+1) modified Kneser-Ney model (estimated in memory)
and the n-NN fitted by the registry exactly as ``rnnlens nnn`` / ``rnnlens
baselines`` fit it (into ``OUT/nnn-nN/``, with ``--spec`` options over the
defaults), each scored on the validation and test splits. Wall and CPU
seconds per n-NN, the load average before and after, one markdown table on
stdout and ``OUT.json`` beside ``OUT``. ``OUT`` must not exist, so every time
is from scratch; afterwards ``rnnlens baselines --out OUT`` reuses its n-NN
models for Table 2. ``--chars N`` takes the first N characters of the
dataset (with its split fractions) instead of all of it.

    OMP_NUM_THREADS=1 python benchmarks/nnn_convergence.py --dataset war-and-peace --out /tmp/nnn-wp
    python benchmarks/nnn_convergence.py --dataset war-and-peace --out /tmp/nnn-wp-paper --contexts 3 \\
        --spec '{"optimizer": "rmsprop", "learning_rate": 0.002, "lr_schedule": "epoch", "lr_decay": 0.95}'
    python benchmarks/nnn_convergence.py --smoke   # n = 1, 2 on 30,000 characters, hidden 8, 2 epochs; OUT temporary
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from _common import dataset_corpus, parse_args, scratch_or

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = os.environ.get("RNNLENS_DATA", str(REPO.parent / "shared" / "data"))
SMOKE = {"out": None, "chars": 30_000, "contexts": [1, 2],
         "spec": {"hidden_sizes": [8], "epochs": 2, "select_epochs": 0, "batch": 1024}}


def measure_n(corpus, n: int, spec: dict, out: Path) -> dict:
    """Fit and score the order-(n+1) n-gram model and the n-NN; return one row of the table."""
    from rnnlens.analyses.evaluation import evaluate
    from rnnlens.models import registry
    from rnnlens.models.ngram.kind import estimate_corpus
    from rnnlens.store.runs import read_config

    ngram, _ = estimate_corpus(corpus, n + 1)
    start, cpu = time.perf_counter(), time.process_time()
    nnn = registry.fit("nnn", {**spec, "context": n}, corpus, out / f"nnn-n{n}",
                       log=lambda line: print(line, file=sys.stderr, flush=True))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    config = read_config(out / f"nnn-n{n}")
    row = {"n": n, "nnn_s": wall, "nnn_cpu_s": cpu, "hidden": config["model"]["hidden_size"],
           "epochs": {str(g["hidden_size"]): len(g["history"]) for g in config["grid"]}}
    for split in ("val", "test"):
        ids = corpus.split_ids(split)
        row[f"ngram_{split}"], row[f"nnn_{split}"] = evaluate(ngram, ids).nats, evaluate(nnn, ids).nats
    return row


def markdown(rows: list[dict]) -> str:
    lines = ["| n | n-gram val | n-NN val | n-gram test | n-NN test | n-NN - n-gram (test) | hidden | epochs | "
             "wall s | CPU s |", "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        epochs = " ".join(f"h{h}:{e}" for h, e in r["epochs"].items())
        lines.append(f"| {r['n']} | {r['ngram_val']:.4f} | {r['nnn_val']:.4f} | {r['ngram_test']:.4f} | "
                     f"{r['nnn_test']:.4f} | {r['nnn_test'] - r['ngram_test']:+.4f} | {r['hidden']} | {epochs} | "
                     f"{r['nnn_s']:.0f} | {r['nnn_cpu_s']:.0f} |")
    lines.append(f"| all | | | | | | | | {sum(r['nnn_s'] for r in rows):.0f} | "
                 f"{sum(r['nnn_cpu_s'] for r in rows):.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="war-and-peace")
    parser.add_argument("--out", type=Path, help="a new directory for the n-NN runs (OUT.json beside)")
    parser.add_argument("--chars", type=int, help="only the first CHARS characters of the dataset")
    parser.add_argument("--contexts", type=int, nargs="+", default=list(range(1, 10)), metavar="N")
    parser.add_argument("--spec", type=json.loads, default={}, help="n-NN options over the defaults, as JSON")
    args = parse_args(parser, SMOKE)
    if args.out is None and not args.smoke:
        parser.error("give --out, a new directory for the n-NN runs")
    if args.out is not None and args.out.exists():
        parser.error(f"{args.out} exists; give a new directory so that every time is from scratch")
    with scratch_or(None if args.out is None else args.out.parent) as folder:
        measure(args, folder / ("nnn" if args.out is None else args.out.name))


def measure(args: argparse.Namespace, out: Path) -> None:
    """Fit and score every n of ``args.contexts`` into the new directory ``out``; print the table."""
    import torch

    corpus = dataset_corpus(args.dataset, args.chars, DATA_DIR)
    out.mkdir(parents=True)
    record = out.with_name(out.name + ".json")
    report = {"dataset": args.dataset, "chars": args.chars, "spec": args.spec, "threads": torch.get_num_threads(),
              "load_before": os.getloadavg(), "rows": []}
    for n in args.contexts:
        report["rows"].append(measure_n(corpus, n, args.spec, out))
        report["load_after"] = os.getloadavg()
        record.write_text(json.dumps(report, indent=1))
    print(markdown(report["rows"]))
    print(f"torch threads {report['threads']}; load average before {report['load_before'][0]:.1f}, "
          f"after {report['load_after'][0]:.1f}")


if __name__ == "__main__":
    main()
