"""Stable names for a reproduction's models: ``DIR/models/NAME``, a relative symlink to the model's run directory.

Every model the config trains (``lstm2-50k``, ``lstm2-50k-d0.25``) or
selects (``lstm2-50k`` among its dropouts, ``best-lstm``, ``best``), and
Table 2's n-gram and n-NN models by the names analyses use (``ngram-N``,
``nnn-N``: N characters of context), gets a link once its stage is done, so
``rnnlens evaluate DIR/models/best-lstm`` works without knowing a digest.
The links follow the graph of the current config: a model whose stage is
not done under it has no link (not one to an older config's run), and a
name the config no longer has loses its link. A link is replaced by
renaming a new one over it, so it never points at a missing or unfinished
run; the targets are relative, so ``DIR`` can move. Anything in
``DIR/models`` that is not a symlink is the user's and is left alone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rnnlens.pipeline.analyses import TABLE2
from rnnlens.pipeline.plan import NGRAM_ROW, NNN_ROW
from rnnlens.pipeline.stages import Graph
from rnnlens.store.runs import CONFIG_FILE

MODELS = "models"


def table2_name(row: str) -> str | None:
    """The name analyses give a Table 2 row's model: ``ngram-order3`` is ``ngram-2``, ``nnn-n2`` is ``nnn-2``."""
    number = re.search(r"\d+$", row)
    if number is None:
        return None
    n = int(number.group())
    if row == NGRAM_ROW.format(order=n):
        return f"ngram-{n - 1}"
    return f"nnn-{n}" if row == NNN_ROW.format(n=n) else None


def finished_models(graph: Graph) -> dict[str, Path]:
    """Each model of ``graph`` whose stage is done, by name: its run directory."""
    models: dict[str, Path] = {}
    for name in graph.order:
        stage = graph.stages[name]
        if not graph.done(name):
            continue
        if stage.select or stage.command == "train":
            models[name] = graph.output(name)
        elif name == TABLE2:
            for row in stage.info.get("rows", []):
                run, model = graph.output(name) / row, table2_name(row)
                if model and (run / CONFIG_FILE).is_file():
                    models[model] = run
    return models


def point(link: Path, target: Path) -> bool:
    """Make ``link`` a relative symlink to ``target``, atomically; False where ``link`` is not a symlink of ours."""
    if link.exists() and not link.is_symlink():
        return False
    relative = os.path.relpath(target, link.parent)
    if link.is_symlink() and os.readlink(link) == relative:
        return True
    fresh = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    fresh.unlink(missing_ok=True)
    os.symlink(relative, fresh, target_is_directory=True)
    os.replace(fresh, link)  # rename(2): the old link or the new one, never neither
    return True


def update_links(graph: Graph) -> dict[str, Path]:
    """Make ``root/models/`` name exactly the finished models of ``graph``; return each link by model name."""
    folder = graph.root / MODELS
    folder.mkdir(parents=True, exist_ok=True)
    linked = {name: folder / name for name, run in finished_models(graph).items() if point(folder / name, run)}
    for entry in folder.iterdir():
        if entry.is_symlink() and entry.name not in linked:
            entry.unlink()  # a model the current config has not (yet) made, or a killed update's temporary
    return linked
