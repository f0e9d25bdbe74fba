"""Run a graph: every stage as soon as its upstream stages are done, on any runner.

Finished stages are reused; select stages are decided here, at once; a
failed stage blocks what depends on it and the rest goes on; a job whose
worker died is retried (a training resumes from its checkpoint).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rnnlens.errors import RnnlensError
from rnnlens.pipeline.execute import Job, Outcome
from rnnlens.pipeline.progress import Overview
from rnnlens.pipeline.runners import WorkerLost
from rnnlens.pipeline.stages import LOG, Graph, read_marker, write_marker
from rnnlens.store.runs import read_config

ATTEMPTS = 3  # runs of a job whose worker keeps dying before the stage counts as failed


@dataclass
class StageStatus:
    """How a stage ended in this run: ``reused``, ``ran``, ``failed`` or ``blocked`` (by a failed upstream)."""

    name: str
    status: str
    seconds: float = 0.0
    detail: str = ""


def best_validation_loss(run_dir) -> float:
    """The lowest validation loss a training run recorded (nats/char)."""
    history = read_config(run_dir).get("history") or []
    if not history:
        raise RnnlensError(f"{run_dir}: no finished epoch to select by")
    return min(record["val_loss"] for record in history)


def decide_select(graph: Graph, name: str) -> None:
    """Mark select stage ``name`` done with its candidate of lowest validation loss."""
    losses = {c: best_validation_loss(graph.output(c)) for c in graph.stages[name].select}
    chosen = min(losses, key=losses.get)
    write_marker(graph.directory(name), {"name": name, "digest": graph.digests[name], "chosen": chosen,
                                         "by": "lowest validation loss (nats/char)", "val_losses": losses})


def select(graph: Graph, name: str) -> StageStatus:
    try:
        decide_select(graph, name)
    except RnnlensError as err:
        return StageStatus(name, "failed", detail=str(err))
    return StageStatus(name, "ran", detail=f"chose {read_marker(graph.directory(name))['chosen']}")


def run_graph(graph: Graph, runner, job_for: Callable[[str], Job], overview: Overview,
              only: set[str] | None = None) -> dict[str, StageStatus]:
    """Run every stage of ``graph`` (or of ``only``) not yet done; return each one's status."""
    # models first (they take the time, and every analysis waits for some), the longest first (so that the
    # longest training is not left to run alone at the end), then the stages many others wait for
    priority = {n: (not graph.stages[n].info.get("fits"), -expected_work(graph.stages[n].info),
                    -len(graph.downstream(n))) for n in graph.order}
    wanted = sorted((n for n in graph.order if only is None or n in only), key=priority.get)
    statuses = {n: StageStatus(n, "reused") for n in wanted if graph.done(n)}
    waiting = [n for n in wanted if n not in statuses]
    running: dict[object, tuple[str, int]] = {}  # handle -> (stage, attempt)
    overview.start(statuses, waiting)
    while waiting or running:
        block_below_failures(graph, statuses, waiting)
        decided = True
        while decided:  # a select decided now may make its dependents ready at once
            decided = False
            for name in [n for n in waiting if all(graph.done(u) for u in graph.stages[n].upstream())]:
                if graph.stages[name].select:
                    waiting.remove(name)
                    statuses[name] = select(graph, name)
                    decided = True
                elif len(running) < runner.slots:
                    waiting.remove(name)
                    running[runner.submit(job_for(name))] = (name, 1)
        overview.show(statuses, [n for n, _ in running.values()], waiting)
        if not running:
            for name in waiting:  # nothing runs and nothing can start: their upstream is not in this run
                statuses[name] = StageStatus(name, "blocked", detail="its upstream stages are not done")
            waiting = []
            continue
        for handle, result in runner.wait(running, timeout=overview.interval):
            name, attempt = running.pop(handle)
            if isinstance(result, WorkerLost) and attempt < ATTEMPTS:
                if runner.restart():  # the others were lost with the pool: run them again too
                    for other, (n, a) in list(running.items()):
                        running.pop(other)
                        running[runner.submit(job_for(n))] = (n, a)
                running[runner.submit(job_for(name))] = (name, attempt + 1)
                continue
            statuses[name] = status_of(graph, name, result)
    overview.show(statuses, [], [], final=True)
    return statuses


def expected_work(info: dict) -> float:
    """A training's work in relative units: characters it reads, times a cost per character that grows with
    its parameters (measured on one CPU thread: about 4 us/char at 50K parameters, 55 at 1.3M); 0 when unknown."""
    if not {"epochs", "train_chars", "params"} <= set(info):
        return 0.0
    return info["epochs"] * info["train_chars"] * (1 + info["params"] / 100_000)


def block_below_failures(graph: Graph, statuses: dict[str, StageStatus], waiting: list[str]) -> None:
    """Take the stages below a failed one out of ``waiting``, as blocked."""
    for name in [n for n, s in statuses.items() if s.status == "failed"]:
        for below in graph.downstream(name) & set(waiting):
            waiting.remove(below)
            statuses[below] = StageStatus(below, "blocked", detail=f"needs {name}, which failed")


def status_of(graph: Graph, name: str, result: Outcome | Exception) -> StageStatus:
    log = graph.directory(name) / LOG
    if isinstance(result, Exception):
        return StageStatus(name, "failed", detail=f"{type(result).__name__}: {' '.join(str(result).split())}")
    if result.status == "failed":
        return StageStatus(name, "failed", result.seconds, f"exit status {result.exit}: {last_line(log)} "
                                                            f"(log: {log})")
    return StageStatus(name, result.status, result.seconds)


def last_line(path) -> str:
    """The last non-empty line of a log file (the command's error), or ''."""
    try:
        lines = [line for line in open(path, encoding="utf-8", errors="replace").read().splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""
