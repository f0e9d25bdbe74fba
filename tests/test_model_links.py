"""DIR/models/NAME: a reproduction's models by stable names, as relative links that follow the current config, and
every command that takes a run directory takes them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rnnlens.cli import main
from rnnlens.explorer.sources import load_model
from rnnlens.pipeline.analyses import TABLE2
from rnnlens.pipeline.model_links import MODELS, table2_name, update_links
from rnnlens.pipeline.progress import Overview
from rnnlens.pipeline.schedule import StageStatus
from rnnlens.pipeline.stages import OUT, Graph, Stage, write_marker
from rnnlens.store.runs import CONFIG_FILE
from test_pipeline import TINY

CORPUS = {"sha256": "0" * 64, "fractions": [0.9, 0.05, 0.05]}


def graph_of(root: Path, epochs: str = "1") -> Graph:
    """Two trainings, the best of them, and Table 2 with a 2-character n-gram and n-NN (no command is run)."""
    return Graph([Stage("lstm1", ("train", "--epochs", epochs, "--out", OUT)),
                  Stage("rnn1", ("train", "--out", OUT)),
                  Stage("best", select=("lstm1", "rnn1")),
                  Stage(TABLE2, ("baselines", "--out", OUT), info={"rows": ["ngram-order3", "nnn-n2"]})],
                 CORPUS, root)


def finish(graph: Graph, name: str, chosen: str | None = None) -> None:
    """Mark a stage done as the runner would: its output (a run directory per model) first, the marker last."""
    if chosen is None:
        rows = graph.stages[name].info.get("rows") or [""]
        for row in rows:
            (graph.output(name) / row).mkdir(parents=True)
            (graph.output(name) / row / CONFIG_FILE).write_text("{}")
    write_marker(graph.directory(name), {"name": name, **({"chosen": chosen} if chosen else {})})


def targets(root: Path) -> dict[str, Path]:
    return {p.name: p.resolve() for p in (root / MODELS).iterdir() if p.is_symlink()}


def test_table2_rows_go_by_the_names_analyses_use():
    assert [table2_name(r) for r in ("ngram-order3", "ngram-order1", "nnn-n2", "nnn-n10", "table2")] == \
        ["ngram-2", "ngram-0", "nnn-2", "nnn-10", None]


def test_only_finished_models_get_links_and_each_is_relative(tmp_path):
    graph = graph_of(tmp_path)
    finish(graph, "lstm1")
    assert set(update_links(graph)) == {"lstm1"}  # rnn1, the best and Table 2 are not done
    link = tmp_path / MODELS / "lstm1"
    assert os.readlink(link) == os.path.join("..", "stages", graph.directory("lstm1").name, "lstm1")
    finish(graph, "rnn1")
    finish(graph, "best", chosen="rnn1")
    finish(graph, TABLE2)
    assert update_links(graph) == {n: tmp_path / MODELS / n for n in ("lstm1", "rnn1", "best", "ngram-2", "nnn-2")}
    assert targets(tmp_path) == {"lstm1": graph.output("lstm1").resolve(), "rnn1": graph.output("rnn1").resolve(),
                                 "best": graph.output("rnn1").resolve(),
                                 "ngram-2": (graph.output(TABLE2) / "ngram-order3").resolve(),
                                 "nnn-2": (graph.output(TABLE2) / "nnn-n2").resolve()}
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    tmp_path.rename(moved)  # relative links survive a move of the whole reproduction
    assert (moved / MODELS / "best" / CONFIG_FILE).is_file()


def test_a_changed_config_takes_links_away_until_its_stages_are_done_and_leaves_the_user_s_files(tmp_path):
    old = graph_of(tmp_path)
    for name in ("lstm1", "rnn1", TABLE2):
        finish(old, name)
    finish(old, "best", chosen="lstm1")
    update_links(old)
    mine = tmp_path / MODELS / "mine"
    mine.mkdir()
    os.symlink("nowhere", tmp_path / MODELS / ".best.123.tmp")  # what a killed update leaves
    new = graph_of(tmp_path, epochs="2")  # lstm1, and the best that chose among it, are new stages
    assert set(update_links(new)) == {"rnn1", "ngram-2", "nnn-2"}
    assert set(targets(tmp_path)) == {"rnn1", "ngram-2", "nnn-2"} and mine.is_dir()
    finish(new, "lstm1")
    finish(new, "best", chosen="lstm1")
    update_links(new)
    assert targets(tmp_path)["best"] == new.output("lstm1").resolve() != old.output("lstm1").resolve()
    assert sorted(p.name for p in (tmp_path / MODELS).iterdir()) == ["best", "lstm1", "mine", "ngram-2", "nnn-2",
                                                                     "rnn1"]


def test_the_links_are_updated_whenever_a_stage_starts_or_ends(tmp_path):
    graph = graph_of(tmp_path)
    calls = []
    overview = Overview(graph, quiet=True, on_change=lambda: calls.append(len(update_links(graph))))
    overview.show({}, ["lstm1"], ["rnn1", "best", TABLE2])
    overview.show({}, ["lstm1"], ["rnn1", "best", TABLE2])  # nothing changed: no update
    finish(graph, "lstm1")
    overview.show({"lstm1": StageStatus("lstm1", "ran")}, ["rnn1"], ["best", TABLE2])
    assert calls == [0, 1] and (tmp_path / MODELS / "lstm1").is_symlink()


# --- a real reproduction ------------------------------------------------------------------------------------

WITH_BEST = TINY + """
[analyses.advantage]
models = ["best-lstm", "ngram-2"]
"""


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory, war_and_peace) -> tuple[Path, list[str]]:
    base = tmp_path_factory.mktemp("links")
    text, config, out = base / "text.txt", base / "tiny.toml", base / "run"
    text.write_text(war_and_peace[:20_000], encoding="utf-8")
    config.write_text(WITH_BEST, encoding="utf-8")
    args = ["reproduce", "--text", str(text), "--config", str(config), "--workers", "2", "--out", str(out), "--quiet"]
    assert main(args) == 0
    return out, args


def test_reproduce_links_every_model_and_says_where_and_a_rerun_that_reuses_every_stage_links_them_again(
        reproduction, capsys):
    out, args = reproduction
    capsys.readouterr()
    assert set(targets(out)) == {"lstm1-1.5k", "rnn1-1.5k", "best-lstm", "ngram-1", "ngram-2"}
    assert targets(out)["best-lstm"] == targets(out)["lstm1-1.5k"]
    for link in (out / MODELS).iterdir():
        link.unlink()
    assert main(args + ["--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["counts"]["ran"] == 0
    assert printed["models"] == {n.name: str(n) for n in sorted((out.resolve() / MODELS).iterdir())}
    assert set(printed["models"]) == {"lstm1-1.5k", "rnn1-1.5k", "best-lstm", "ngram-1", "ngram-2"}
    assert main(args) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("models in"))
    assert line.startswith(f"models in {out.resolve() / MODELS}: ") and all(n in line for n in printed["models"])
    assert line.endswith(f"rnnlens evaluate {out.resolve() / MODELS / 'best-lstm'})")


COMMANDS = {
    "evaluate": ["evaluate", "{best}", "--split", "val"],
    "sample": ["sample", "{best}", "--length", "20"],
    "trace": ["trace", "{best}", "--split", "val", "--out", "{tmp}/trace"],
    "cells": ["cells", "{best}", "--split", "val", "--out", "{tmp}/cells"],
    "saturation": ["saturation", "{best}", "--split", "val", "--out", "{tmp}/saturation"],
    "compare": ["compare", "{best}", "{ngram}", "--split", "val", "--out", "{tmp}/compare"],
    "advantage": ["advantage", "{best}", "{ngram}", "--split", "val", "--out", "{tmp}/advantage"],
    "overlap": ["overlap", "{best}", "{ngram}", "--split", "val", "--out", "{tmp}/overlap"],
    "brackets": ["brackets", "{best}", "{ngram}", "--split", "val", "--out", "{tmp}/brackets"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_that_takes_a_run_takes_a_model_link(reproduction, command, tmp_path, capsys):
    out, _ = reproduction
    values = {"best": out / MODELS / "best-lstm", "ngram": out / MODELS / "ngram-2", "tmp": tmp_path}
    argv = [arg.format(**values) for arg in COMMANDS[command]]
    assert main(argv + ["--quiet"]) == 0, capsys.readouterr().err


def test_the_explorer_takes_a_model_link_and_keeps_its_trace_in_the_run(reproduction):
    out, _ = reproduction
    from rnnlens.data.texts import text_for

    model = load_model(out / MODELS / "best-lstm", "best-lstm",
                       lambda p: text_for(p.vocab, p.corpus_spec, split="val"))
    run = (out / MODELS / "best-lstm").resolve()
    assert model.trace is not None and model.identity["run_dir"] == str(run)
    assert any((run / "traces").iterdir())
