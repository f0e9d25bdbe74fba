"""Every script in benchmarks/ runs with --smoke and prints its headline numbers, so none rots unnoticed.

The scripts are found by glob (a helper module's name starts with ``_``):
a new benchmark is run here from the day it is added, and fails until its
headline lines are declared in ``HEADLINES``.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a few seconds each: real processes that train, trace and serve

BENCHMARK_DIR = Path(__file__).resolve().parents[1] / "benchmarks"
BENCHMARKS = sorted(p for p in BENCHMARK_DIR.glob("*.py") if not p.name.startswith("_"))  # _NAME.py: a helper
NUMBER = r"(\d+\.\d+)"
RATIO, SECONDS, LOSS = (1e-3, 1e3), (0.0, 60.0), (0.5, 4.5)  # what a number of each kind may be (nats/char < ln 82)

# per benchmark: (a line it must print, as a regex whose groups are numbers, and the range of those numbers)
HEADLINES: dict[str, list[tuple[str, tuple[float, float]]]] = {
    "busy_machine.py": [(rf"^evaluate: best .*; single_stream_threads/best {NUMBER}(?: +FAIL)?$", RATIO),
                        (rf"^sample: best .*; single_stream_threads/best {NUMBER}(?: +FAIL)?$", RATIO)],
    "explorer_speed.py": [(rf"^select \+ match: median {NUMBER} s, max {NUMBER} s$", SECONDS)],
    "ngram_speed.py": [(rf"^rnnlens order 3 on the first 50,000 characters of war-and-peace: .* test loss {NUMBER} "
                        r"nats/char", LOSS)],
    "nnn_convergence.py": [(rf"^\| {n} \| {NUMBER} \| {NUMBER} \| {NUMBER} \| {NUMBER} \|", LOSS) for n in (1, 2)],
    "trace_speed.py": [(rf"^ratio ours / plain .*?: {NUMBER} wall-clock", RATIO)],
    "train_throughput.py": [(rf"^ratio rnnlens / plain fp32 = {NUMBER} \(goal: >= 1\.4\)$", RATIO),
                            (rf"^ratio rnnlens fp32 / plain fp32 = {NUMBER} \(goal: >= 0\.95\)$", RATIO)],
}


def test_every_declared_headline_belongs_to_a_benchmark():
    assert sorted(HEADLINES) == sorted(p.name for p in BENCHMARKS)


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_runs_with_smoke_and_prints_its_headline(script, data_dir, tmp_path):
    assert script.name in HEADLINES, f"declare the headline lines {script.name} prints in HEADLINES"
    # one intra-op thread: on a busy two-core machine two threads wait at every op for a descheduled partner
    # (a tiny LSTM's batch: a second instead of a millisecond), and smoke numbers measure nothing anyway
    env = {**os.environ, "RNNLENS_DATA": str(data_dir.resolve()), "OMP_NUM_THREADS": "1"}  # the run is elsewhere
    done = subprocess.run([sys.executable, str(script), "--smoke"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{script.name} --smoke exited {done.returncode}:\n{done.stderr[-3000:]}"
    for pattern, (low, high) in HEADLINES[script.name]:
        found = re.search(pattern, done.stdout, re.MULTILINE)
        assert found, f"{script.name} --smoke printed no line matching {pattern!r}:\n{done.stdout}"
        values = [float(v) for v in found.groups()]
        assert all(math.isfinite(v) and low <= v <= high for v in values), (found.group(0), (low, high))
    assert not any(tmp_path.iterdir()), f"{script.name} left files in its working directory"
