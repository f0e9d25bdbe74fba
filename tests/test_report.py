"""The reproduction's report: one offline page with a section per analysis, and readings checked on known numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rnnlens.cli import main
from rnnlens.pipeline import plan as plan_module
from rnnlens.pipeline.analyses import ANALYSES, BEYOND, TABLE2
from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import Context

EVERY_ANALYSIS = """
[grid]
types = ["lstm", "rnn"]
layers = [1, 2]
params = [1500]

[train]
epochs = 1
batch_size = 8
seq_length = 20

[baselines]
ngram = [1, 2, 3]
nnn = [1, 2]
hidden = [8]
epochs = 1
batch = 500

[text]
chars = 2000

[analyses.compare]
models = "grid"
[analyses.cells]
models = ["best-lstm"]
[analyses.saturation]
models = ["lstm2-1.5k"]
[analyses.overlap]
models = ["lstm2-1.5k", "rnn2-1.5k", "ngram-3"]
[analyses.advantage]
models = ["best-lstm", "ngram-3"]
[analyses.brackets]
models = ["best-lstm", "ngram-3"]
pair = '"'
[analyses.dynamics]
models = ["lstm2-1.5k"]
against = ["nnn-1", "nnn-2"]
snapshot_every = 40
[analyses.onion]
models = ["lstm1-1.5k", "best-lstm"]
orders = [2, 3, 4]
"""

OUTSIDE = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""", re.I)


@pytest.fixture(scope="module")
def run(tmp_path_factory, war_and_peace) -> tuple[Path, Path, Path]:
    """Every analysis on tiny models: the reproduction's directory, its text and its config."""
    base = tmp_path_factory.mktemp("report")
    text, config, out = base / "text.txt", base / "every.toml", base / "run"
    text.write_text(war_and_peace[:20_000], encoding="utf-8")
    config.write_text(EVERY_ANALYSIS, encoding="utf-8")
    assert main(["reproduce", "--text", str(text), "--config", str(config), "--workers", "2", "--out", str(out),
                 "--quiet"]) == 0
    return out, text, config


def sections(html: str) -> dict[str, str]:
    """Each analysis's part of the page, by its key."""
    parts = re.split(r'<section class="analysis" id="analysis-[\w-]+" data-analysis="', html)[1:]
    return {part.split('"', 1)[0]: part.split("</section>", 1)[0] for part in parts}


def test_the_report_opens_offline_with_a_section_and_a_figure_for_every_analysis(run):
    out, _, _ = run
    html = (out / "report.html").read_text(encoding="utf-8")
    assert not OUTSIDE.search(html), OUTSIDE.search(html).group(0)
    assert "//cdn" not in html and "http://" not in html.replace("http://www.w3.org", "")
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'src="([^"]*)"', html))
    assert all(href.startswith("#") for href in re.findall(r'href="([^"]*)"', html))
    parts = sections(html)
    assert list(parts) == [TABLE2, *(a.key for a in ANALYSES)]  # the paper's order: Table 2, Figures 1 to 6
    paper = [TABLE2, *(a.key for a in ANALYSES if a.section != BEYOND)]  # beyond the paper: test_reproduce_beyond
    for key, part in ((k, parts[k]) for k in paper):
        assert "data:image/png;base64," in part, f"{key} shows no figure"
        assert 'class="verdict' in part, f"{key} has no reading"
        assert "<code>rnnlens " in part, f"{key} does not say the command behind its numbers"
    headings = re.findall(r'<h2 id="[\w-]+">([^<]+)</h2>', html)
    assert headings[:7] == ["Table 2", "Figure 1", "Figure 2", "Figure 3", "Figure 4", "Figure 5", "Figure 6"]


def test_the_report_names_the_corpus_versions_and_every_stage(run):
    out, text, _ = run
    html = (out / "report.html").read_text(encoding="utf-8")
    import hashlib

    assert hashlib.sha256(text.read_bytes()).hexdigest() in html
    assert re.search(r"rnnlens \d+\.\d+\.\d+, torch \d", html)
    for stage in (out / "stages").iterdir():
        assert stage.name.rsplit("-", 1)[1] in html  # each stage's digest is listed
    presets = html.split('<ul class="presets">', 1)[1].split("</ul>", 1)[0]  # the first lines: each preset's use
    assert "<b>quick</b>: a smoke test" in presets and "about an hour and 20 minutes on 2 CPU cores" in presets
    assert "<b>paper</b>: the paper&#39;s grid and protocol" in presets


def test_findings_json_holds_every_finding_of_the_page_with_its_verdict_and_test(run):
    import json

    from markupsafe import escape

    out, _, _ = run
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    html = (out / "report.html").read_text(encoding="utf-8")
    glance = html.split('id="glance"', 1)[1].split("</table>", 1)[0]
    assert len(findings) == glance.count("<tr>") - 1 > 5  # one row per finding, under the header
    for f in findings:
        assert set(f) >= {"section", "analysis", "claim", "verdict", "ours", "paper", "numbers", "test", "why"}
        assert f["verdict"] in ("holds", "partly", "differs", "cannot say")
        assert str(escape(f["claim"])) in glance


def test_analyses_not_in_the_config_say_not_run_and_missing_commands_not_available(run, tmp_path, monkeypatch):
    out, text, _ = run
    fewer = tmp_path / "fewer.toml"
    fewer.write_text(EVERY_ANALYSIS.split("[analyses.onion]")[0], encoding="utf-8")
    real = plan_module.subcommands
    monkeypatch.setattr(plan_module, "subcommands",
                        lambda parser: {k: v for k, v in real(parser).items() if k != "dynamics"})
    assert main(["reproduce", "--text", str(text), "--config", str(fewer), "--workers", "1", "--out", str(out),
                 "--quiet"]) == 0  # every stage reused: only the report is written again
    parts = sections((out / "report.html").read_text(encoding="utf-8"))
    assert "not run: the config has no [analyses.onion] section" in parts["onion"]
    assert "not available in this rnnlens (it has no rnnlens dynamics)" in parts["dynamics"]
    assert "data:image/png" not in parts["onion"] + parts["dynamics"]


# --- readings on hand-made results ----------------------------------------------------------------------------

def context(results: dict | None = None) -> Context:
    return Context("war-and-peace", paper_numbers(), results or {})


def test_a_result_missing_what_its_reading_needs_says_so_instead_of_failing():
    from rnnlens.report.readings import reading_for

    (finding,) = reading_for("compare", [{"models": []}], context()).findings
    assert finding.verdict == "cannot say" and "KeyError" in finding.ours
