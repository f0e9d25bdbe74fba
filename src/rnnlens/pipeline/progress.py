"""The progress overview on stderr: stages done / running / waiting, and each running stage's own progress.

Read from the files the stages write, so it works the same for local
workers and Ray tasks: a training's ``last.safetensors`` metadata (epoch,
batch, seconds trained; checkpoints every ``--save-every`` batches) gives its
epoch and ETA, and the last line of its ``metrics.jsonl`` its latest
validation loss; a Table 2 stage counts its finished models.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable, TextIO

from rnnlens.errors import RnnlensError
from rnnlens.pipeline.stages import Graph
from rnnlens.store.runs import read_metadata
from rnnlens.training.loop import LAST, METRICS, clock


def training_progress(output: Path, info: dict) -> str:
    """``epoch 2/5, batch 120/260, ETA 0:03:10`` from the run's last checkpoint, or '' before the first."""
    try:
        progress = read_metadata(output / LAST)["progress"]
    except (RnnlensError, KeyError):  # no checkpoint yet, or one being replaced this instant
        return ""
    epochs = info["epochs"]
    per_epoch = (info["train_chars"] - 1) // (info["batch_size"] * info["seq_length"])
    done = progress["epoch"] * per_epoch + progress["batch"]
    text = f"epoch {min(progress['epoch'] + 1, epochs)}/{epochs}, batch {progress['batch']}/{per_epoch}"
    if done and progress["elapsed_s"] > 0:
        text += f", ETA {clock(progress['elapsed_s'] / done * (epochs * per_epoch - done))}"
    latest = latest_epoch(output)
    if latest:
        text += f", val {latest['val_loss']:.4f} nats/char after epoch {latest['epoch']}"
    return text


def latest_epoch(output: Path) -> dict | None:
    """The last record of a training's ``metrics.jsonl`` (written whole, atomically), None before the first."""
    try:
        lines = (output / METRICS).read_text(encoding="utf-8").splitlines()
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


def models_progress(output: Path, info: dict) -> str:
    """``5/14 models`` finished in a Table 2 directory."""
    finished = sum((output / row / "config.json").is_file() for row in info["rows"])
    return f"{finished}/{len(info['rows'])} models"


PROGRESS: dict[str, Callable[[Path, dict], str]] = {"train": training_progress, "baselines": models_progress}


class Overview:
    """Prints the overview when a stage starts or ends, and every ``interval`` seconds while stages run; calls
    ``on_change()`` whenever a stage has started or ended (``reproduce`` keeps ``DIR/models/`` up to date by it)."""

    def __init__(self, graph: Graph, stream: TextIO | None = None, interval: float = 30.0, quiet: bool = False,
                 on_change: Callable[[], None] = lambda: None):
        self.graph, self.stream, self.interval, self.quiet = graph, stream or sys.stderr, interval, quiet
        self.on_change = on_change
        self.began = time.perf_counter()
        self.last_state: tuple | None = None
        self.last_time = 0.0

    def say(self, line: str) -> None:
        if not self.quiet:
            print(line, file=self.stream, flush=True)

    def start(self, statuses: dict, waiting: list[str]) -> None:
        reused = sum(s.status == "reused" for s in statuses.values())
        self.say(f"reproduce: {len(statuses) + len(waiting)} stages, {reused} already done, {len(waiting)} to run")

    def show(self, statuses: dict, running: list[str], waiting: list[str], final: bool = False) -> None:
        done = sum(s.status in ("reused", "ran") for s in statuses.values())
        failed = [n for n, s in statuses.items() if s.status in ("failed", "blocked")]
        state = (done, tuple(running), len(waiting), len(failed))
        now = time.perf_counter()
        if state != self.last_state:
            self.on_change()
        if not final and state == self.last_state and now - self.last_time < self.interval:
            return
        self.last_state, self.last_time = state, now
        line = f"[{clock(now - self.began)}] stages: {done} done, {len(running)} running, {len(waiting)} waiting"
        if failed:
            line += f", {len(failed)} failed or blocked"
        self.say(line)
        for name in running:
            self.say(f"  {name}: {self.detail(name) or 'running'}")

    def detail(self, name: str) -> str:
        stage = self.graph.stages[name]
        reader = PROGRESS.get(stage.command)
        return reader(self.graph.output(name), stage.info) if reader and stage.info else ""
