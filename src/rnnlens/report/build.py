"""The report of a reproduction: ``DIR/report.html``, one self-contained page in the paper's order.

Every table and figure of the paper (Table 2, then Figures 1 to 6) gets a
section, and the analyses the paper did not make follow in "Beyond the
paper": our tables and figures (PNGs inlined as ``data:`` URIs, so the file
opens offline and alone), the paper's numbers and claims beside them
(``paper_numbers.toml``), a reading of each finding (``readings``), and the
provenance of every number: the stage, its directory, its command line and
the versions that ran it. Analyses the config does not name say "not run";
those this rnnlens lacks say so. Nothing on the page points outside it.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import re
import shlex
import time
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jinja2

from rnnlens.pipeline.analyses import ANALYSES, BEYOND, TABLE2, Analysis
from rnnlens.pipeline.config import preset_descriptions
from rnnlens.pipeline.model_links import MODELS, finished_models
from rnnlens.pipeline.stages import LOG, Graph, read_marker, rnnlens_version
from rnnlens.report.readings import Context, Reading, reading_for
from rnnlens.report.readings.common import VERDICTS
from rnnlens.store import atomic

BEYOND_WHERE = ("Not in the paper: what a discovered cell does when it is removed, how much context each model "
                "uses, and what the state holds beyond single cells (issues 19 and 20). Verdicts only where an "
                "interval decides; probes, SAE and CKA have none, so their tables are point estimates")
TABLE2_ENTRY = Analysis(TABLE2, "baselines", "Table 2", "n-gram and n-NN models that see n characters",
                        "table2/table2.json")


def paper_numbers() -> dict:
    return tomllib.loads(resources.files("rnnlens.report").joinpath("paper_numbers.toml").read_text(encoding="utf-8"))


@dataclass
class StageView:
    name: str
    digest: str
    status: str
    directory: str
    command: str = ""
    detail: str = ""
    seconds: float | None = None
    versions: str = ""
    figures: list[tuple[str, str]] = field(default_factory=list)  # (file name, data URI)


@dataclass
class AnalysisView:
    key: str
    title: str
    command: str
    state: str  # done, failed, not run, unavailable
    claim: str = ""  # the paper's, in words
    note: str = ""
    stages: list[StageView] = field(default_factory=list)
    reading: Reading = field(default_factory=Reading)


@dataclass
class SectionView:
    label: str  # "Figure 1"
    where: str  # the paper's section
    analyses: list[AnalysisView]


def shown(text: str, root: Path) -> str:
    """A path (or an argument holding one) relative to ``root``, so the page reads the same wherever it lies."""
    return str(text).replace(str(root.resolve()) + os.sep, "").replace(str(root.resolve()), ".")


def figures(output: Path, first: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """The PNGs a result wrote, as data URIs: ``first`` in its order, then the others by name."""
    paths = sorted(output.glob("*.png"), key=lambda p: (first.index(p.name) if p.name in first else len(first), p.name))
    return [(p.name, "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode("ascii")) for p in paths]


def stage_view(graph: Graph, name: str, status, root: Path, entry: Analysis | None = None) -> StageView:
    """A stage for the page; with its analysis ``entry``, the figures beside the result's JSON."""
    directory = graph.directory(name)
    marker = read_marker(directory) or {}
    view = StageView(name, graph.digests[name][:12], status.status if status else ("done" if marker else "not run"),
                     shown(directory, root), detail=status.detail if status else "")
    if graph.stages[name].select:
        view.command = f"select {marker.get('chosen', '?')} by {marker.get('by', 'validation loss')}" if marker else ""
        return view
    if marker:
        view.command = "rnnlens " + shlex.join(shown(a, root) for a in marker.get("argv", []))  # pastes into a shell
        view.seconds = marker.get("attempt_seconds")
        view.versions = f"rnnlens {marker.get('rnnlens')}, torch {marker.get('torch')}, Python {marker.get('python')}"
        view.figures = figures((graph.output(name) / entry.result).parent, entry.figures) if entry else []
    elif (directory / LOG).is_file():
        view.detail = view.detail or f"see {shown(directory / LOG, root)}"
    return view


def analysis_view(entry: Analysis, plan, statuses: dict, root: Path, results: dict[str, list[dict]]) -> AnalysisView:
    view = AnalysisView(entry.key, entry.title, entry.command, "done")
    if entry.key in plan.unavailable:
        view.state, view.note = "unavailable", f"not available in this rnnlens (it has no rnnlens {entry.command})"
        return view
    names = plan.sections.get(entry.key)
    if names is None:
        what = "[baselines]" if entry.key == TABLE2 else f"[analyses.{entry.key}]"
        view.state, view.note = "not run", f"not run: the config has no {what} section"
        return view
    view.stages = [stage_view(plan.graph, n, statuses.get(n), root, entry) for n in names]
    if any(s.status in ("failed", "blocked") for s in view.stages):
        view.state = "failed"
    for name in names:
        path = plan.graph.output(name) / entry.result if plan.graph.done(name) else None
        if path is not None and path.is_file():
            results.setdefault(entry.key, []).append(json.loads(path.read_text(encoding="utf-8")))
    if entry.key not in results and view.state == "done":
        view.state, view.note = "failed", "no result was written"
    return view


def sections(plan, statuses: dict, root: Path, paper: dict, dataset: str | None) -> list[SectionView]:
    """The page's sections in the paper's order, each analysis read against the paper."""
    entries = [TABLE2_ENTRY, *ANALYSES]
    results: dict[str, list[dict]] = {}
    views = [analysis_view(e, plan, statuses, root, results) for e in entries]
    context = Context(dataset, paper, results)
    out: list[SectionView] = []
    for entry, view in zip(entries, views):
        view.reading = reading_for(view.key, results.get(view.key, []), context)
        view.claim = paper.get(entry.key, {}).get("claim", "")
        if not out or out[-1].label != entry.section:
            where = BEYOND_WHERE if entry.section == BEYOND else paper.get(entry.key, {}).get("section", "")
            out.append(SectionView(entry.section, where, []))
        out[-1].analyses.append(view)
    return out


NUMBER = re.compile(r"[-+]?[\d,.]+(?:%| ± [\d.]+)?|-")


def render(context: dict) -> str:
    env = jinja2.Environment(loader=jinja2.PackageLoader("rnnlens.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.tests["number"] = lambda cell: bool(NUMBER.fullmatch(str(cell)))  # right-aligned in tables
    return env.get_template("report.html.j2").render(**context)


def build_report(root: str | os.PathLike, plan, statuses: dict, corpus, config_toml: str, config_source: str,
                 command: str) -> Path:
    """Write ``root/report.html`` from the plan's finished stages, and every finding of it, machine-readable,
    to ``root/findings.json`` (section, claim, verdict, our numbers with their intervals, the paper's, the
    test, why it does not hold); return the page's path."""
    import torch

    root = Path(root)
    paper = paper_numbers()
    dataset = corpus.source.get("dataset")
    page = sections(plan, statuses, root, paper, dataset)
    findings = [(s.label, a.title, f) for s in page for a in s.analyses for f in a.reading.findings]
    counts = {v: sum(f.verdict == v for _, _, f in findings) for v in VERDICTS}
    atomic.write_text(root / "findings.json", json.dumps(
        [{**f.to_dict(label), "analysis": title} for label, title, f in findings], indent=1) + "\n")
    stages = [stage_view(plan.graph, n, statuses.get(n), root) for n in plan.graph.order]
    models = [(f"{MODELS}/{name}", shown(run, root)) for name, run in finished_models(plan.graph).items()]
    html = render({
        "title": f"Visualizing and Understanding Recurrent Networks, reproduced on {corpus.name}",
        "corpus": corpus, "dataset": dataset, "sections": page, "findings": findings, "counts": counts,
        "stages": stages, "models": models, "config_toml": config_toml, "config_source": config_source,
        "command": command, "when": time.strftime("%Y-%m-%d %H:%M"), "presets": preset_descriptions(),
        "versions": f"rnnlens {rnnlens_version()}, torch {torch.__version__}, Python {platform.python_version()}",
        "host": platform.node(),
    })
    path = root / "report.html"
    atomic.write_text(path, html)
    return path
