"""A tree of stages that items flow through in order: in the calling thread, or each stage on a thread of its own.

A trace reads a text chunk by chunk through a stack of layers; each layer's
kernel must see the chunks in order (it carries its state), but the layers,
and the gate work of each layer, are independent of one another given their
inputs. Run as threads, the stages form a pipeline that the OS spreads over
the cores: layer 2 reads chunk j while layer 1 reads chunk j+1 and a gate
stage works through an earlier chunk. Torch releases the GIL inside its
operations, so the threads really run at once.
"""

from __future__ import annotations

import queue
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import torch

BACKLOG = 4  # items waiting before a stage; bounds the memory of a fast stage running ahead of a slow one
_END = object()


@dataclass(eq=False)
class Stage:
    """``function`` applied to every item in order; each result goes to every stage in ``then``."""

    function: Callable[[Any], Any]
    then: list[Stage] = field(default_factory=list)

    def all(self) -> list[Stage]:
        """This stage and every stage below it."""
        return [self] + [stage for child in self.then for stage in child.all()]


def run_stages(first: Stage, items: Iterable, threaded: bool) -> None:
    """Pass ``items`` through ``first`` and the stages below it, in this thread or one thread per stage.

    Threaded, each stage has a bounded inbox; after an error a stage keeps
    taking items without working on them, so no stage waits forever on a
    full inbox, and the first error is raised here once all have finished.
    Torch runs on one intra-op thread meanwhile (see ``one_intra_op_thread``).
    """
    if not threaded:
        for item in items:
            _push(first, item)
        return
    stages = first.all()
    inboxes = {stage: queue.Queue(BACKLOG) for stage in stages}
    errors: list[BaseException] = []

    def work(stage: Stage) -> None:
        torch.set_num_threads(1)  # this thread's own OpenMP setting; a new thread would otherwise start a team per core
        while (item := inboxes[stage].get()) is not _END:
            if errors:
                continue
            try:
                result = stage.function(item)
            except BaseException as error:  # noqa: B036 - handed to the calling thread, which raises it
                errors.append(error)
                continue
            for child in stage.then:
                inboxes[child].put(result)
        for child in stage.then:
            inboxes[child].put(_END)

    threads = [threading.Thread(target=work, args=(stage,), name="trace-stage", daemon=True) for stage in stages]
    with one_intra_op_thread():
        for thread in threads:
            thread.start()
        try:
            for item in items:
                if errors:
                    break
                inboxes[first].put(item)
        finally:
            inboxes[first].put(_END)
            for thread in threads:
                thread.join()
    if errors:
        raise errors[0]


@contextmanager
def one_intra_op_thread() -> Iterator[None]:
    """Torch on one intra-op thread meanwhile: the stage threads already fill the cores.

    The fused kernel's recurrence gains little from intra-op threads (34 s
    on one, 25 s on two for a 300K-step trace), and intra-op teams beside
    busy threads oversubscribe the cores (a trace three times slower, and
    ten times the CPU time when each stage thread started its own team).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _push(stage: Stage, item: Any) -> None:
    result = stage.function(item)
    for child in stage.then:
        _push(child, result)
