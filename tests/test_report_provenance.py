"""The command lines a reproduction shows (the report's provenance, a stage's log) paste into a shell as they are."""

from __future__ import annotations

import shlex
from pathlib import Path

from rnnlens.pipeline.execute import Job, run_job
from rnnlens.pipeline.stages import LOG, OUT, Graph, Stage, write_marker
from rnnlens.report.build import stage_view

PAIR = ["--pair", '"']  # the brackets analysis of straight double quotes


def test_the_report_shows_each_stage_s_command_shell_quoted_and_relative_to_the_reproduction(tmp_path):
    graph = Graph([Stage("brackets", ("brackets", "lstm", "--out", OUT, *PAIR))],
                  {"sha256": "0" * 64, "fractions": [0.9, 0.05, 0.05]}, tmp_path)
    ran = ["brackets", str(tmp_path / "stages" / "lstm-0" / "lstm"), "--text", str(tmp_path / "texts" / "it's.txt"),
           *PAIR, "--out", str(graph.output("brackets"))]
    write_marker(graph.directory("brackets"), {"name": "brackets", "argv": ran})
    view = stage_view(graph, "brackets", None, tmp_path)
    assert view.command == ("rnnlens brackets stages/lstm-0/lstm --text 'texts/it'\"'\"'s.txt' --pair '\"' --out "
                            f"stages/{graph.directory('brackets').name}/brackets")
    assert shlex.split(view.command)[1:] == [a.replace(str(tmp_path) + "/", "") for a in ran]


def test_a_stage_s_log_starts_with_its_command_shell_quoted(tmp_path):
    argv = ("evaluate", str(tmp_path / "no such run"), "--text", 'a "quoted" name.txt')
    outcome = run_job(Job("evaluate", "0" * 64, str(tmp_path / "stage"), str(tmp_path / "stage" / "evaluate"), argv))
    assert outcome.status == "failed"
    first = Path(tmp_path / "stage" / LOG).read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("$ rnnlens ") and shlex.split(first[2:]) == ["rnnlens", *argv]
