"""The reproduction's report: one offline page with a section per analysis, and readings checked on known numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rnnlens.cli import main
from rnnlens.pipeline import plan as plan_module
from rnnlens.pipeline.analyses import ANALYSES, TABLE2
from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import (Context, read_brackets, read_compare, read_dynamics, read_onion,
                                     read_saturation, read_table2)

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
    for key, part in parts.items():
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


def row(family: str, n: int, nats: float) -> dict:
    return {"family": family, "context": n, "nats": nats, "std": 0.01}


def test_table2_reading_sets_our_20_gram_and_best_network_against_the_paper():
    table = {"split": "test", "rows": [row("n-gram", 1, 2.40), row("n-NN", 1, 2.43), row("n-gram", 2, 1.90),
                                       row("n-NN", 2, 2.10), row("n-gram", 20, 1.30)]}
    compare = {"models": [{"name": "lstm2", "nats": 1.25}, {"name": "rnn1", "nats": 1.40}]}
    findings = read_table2([table], context({"compare": [compare]})).findings
    twenty, small, best = findings
    assert twenty.verdict == "differs" and "1.300 against the paper's 1.195 (+0.105)" in twenty.ours
    assert small.verdict == "differs" and "n=1: n-NN +0.030" in small.ours and "n=2: n-NN +0.200" in small.ours
    assert best.verdict == "holds" and "lstm2 1.250 against the 20-gram's 1.300 (ahead by 0.050)" in best.ours
    assert best.paper == "paper: 1.077 against 1.195"
    table["rows"][1] = row("n-NN", 1, 2.3999)  # 0.0001 ahead: shown as +0.000, never -0.000
    assert "n=1: n-NN +0.000," in read_table2([table], context({"compare": [compare]})).findings[1].ours


def model(kind: str, layers: int, nats: float, column: str = "50K") -> dict:
    return {"name": f"{kind.lower()}{layers}", "type": kind, "layers": layers, "params": 50000, "column": column,
            "nats": nats, "std": 0.01}


def test_compare_reading_checks_depth_families_and_agreement():
    models = [model("LSTM", 1, 1.50), model("LSTM", 2, 1.40), model("GRU", 1, 1.52), model("GRU", 2, 1.53),
              model("RNN", 1, 1.80), model("RNN", 2, 1.70)]
    agreement = [[1.0, .9, .9, .9, .5, .5], [.9, 1.0, .9, .9, .5, .5], [.9, .9, 1.0, .9, .5, .5],
                 [.9, .9, .9, 1.0, .5, .5], [.5, .5, .5, .5, 1.0, .8], [.5, .5, .5, .5, .8, 1.0]]
    reading = read_compare([{"models": models, "agreement": agreement, "text": {"source": "t", "chars": 10}}],
                           context())
    depth, family, apart = reading.findings
    assert depth.verdict == "partly" and depth.ours.startswith("deeper is better in 2 of 3")
    assert family.verdict == "holds" and family.ours.startswith("both ahead of the RNN in 2 of 2 (closer to each "
                                                                 "other than to it in 2): 1 layer 50K: LSTM 1.500")
    assert apart.verdict == "holds" and "among LSTMs and GRUs 0.900, between them and the RNNs 0.500" in apart.ours
    assert reading.tables[0].rows[1] == ["LSTM 2", "1.400 ± 0.010"]


def onion(model_name: str, chars: int, removed: dict[str, int], unexplained: int) -> dict:
    errors = sum(removed.values()) + unexplained
    return {"model": model_name, "chars": chars, "errors": errors, "error_rate": errors / chars, "unexplained": unexplained,
            "slices": [{"oracle": k, "name": k, "removed": v, "share": v / errors} for k, v in removed.items()]}


def test_onion_reading_compares_error_rates_shares_and_scaling_with_the_paper():
    small = onion("small", 1000, {"n-gram": 200, "memory": 30, "rare words": 40, "word model": 200}, 90)  # 560
    big = onion("big", 1000, {"n-gram": 80, "memory": 25, "rare words": 38, "word model": 155}, 122)  # 420
    scaling = [{"oracle": "n-gram", "removed_by_big": 150}, {"oracle": "word model", "removed_by_big": 40}]
    findings = read_onion([{"models": [small, big], "scaling": scaling}], context()).findings
    rates = {f.claim: f for f in findings}
    assert rates["error rate of the small model (small)"].verdict == "holds"
    assert "56.0% against the paper's 56.0% (+0.0 points)" in rates["error rate of the small model (small)"].ours
    share = rates["share of big's errors explained by the n-gram oracle"]
    assert share.verdict == "holds" and "19.0% against the paper's 18.0% (+1.0 points)" in share.ours
    word = rates["share of big's errors explained by the word model oracle"]
    assert "36.9% against the paper's 37.0%" in word.ours
    scale = rates["scaling up removes mostly n-gram errors"]
    assert scale.verdict == "holds"
    assert "removes 190 of the small one's errors, 150 of them n-gram errors (of the small one's 200)" in scale.ours


def test_brackets_and_dynamics_readings_follow_distance_and_training():
    buckets = [{"lo": lo, "hi": lo + 19, "count": 50, "mean_prob": {"lstm": a, "20-gram": b}}
               for lo, a, b in ((1, .9, .85), (21, .8, .6), (41, .7, .4))]
    (grows,) = read_brackets([{"pair": "}", "matched": 150, "models": ["lstm", "20-gram"], "buckets": buckets}],
                             context()).findings
    assert grows.verdict == "holds" and "gain +0.050 in the first bin, +0.250 on average after it" in grows.ours
    snapshots = [{"batch": b, "epoch": b / 100, "loss": 2.0, "kl": {}, "closest": c}
                 for b, c in ((0, "n1"), (50, "n1"), (100, "n2"), (150, "n3"))]
    against = [{"name": "n1", "n": 1}, {"name": "n2", "n": 2}, {"name": "n3", "n": 3}]
    for s in snapshots:
        s["kl"] = {"n1": 0.1, "n2": 0.2, "n3": 0.3}
    (order,) = read_dynamics([{"snapshots": snapshots, "against": against, "run": "r"}], context()).findings
    assert order.verdict == "holds" and order.ours == "closest n-NN over training: 1 -> 2 -> 3"
    many = [{**snapshots[0], "batch": b} for b in range(0, 310, 10)]  # 31 snapshots: 16 shown, 0 and 300 among them
    (table,) = read_dynamics([{"snapshots": many, "against": against, "run": "r"}], context()).tables
    assert [row[0] for row in table.rows] == [str(b) for b in (0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 220,
                                                               240, 260, 280, 300)]
    assert "(16 of 31, evenly spaced; all in dynamics.csv)" in table.caption


def test_saturation_reading_compares_layers_and_counts_integrating_forget_gates_as_a_share():
    def gate(layer, name, units, left, right, mostly_right):
        return {"layer": layer, "gate": name, "units": units, "mean_left": left, "mean_right": right,
                "mostly_left": 0, "mostly_right": mostly_right}
    rows = [gate(1, "forget_gate", 10, .1, .1, 0), gate(1, "input_gate", 10, .1, .1, 0),
            gate(2, "forget_gate", 40, .1, .3, 8), gate(2, "input_gate", 40, .3, .2, 0)]
    result = {"summary": rows, "low": 0.1, "high": 0.9, "info": {"model": {"run_dir": "runs/lstm-l2"}}}
    diffuse, integrators = read_saturation([result], context()).findings
    assert diffuse.verdict == "holds" and "1: 0.200, 2: 0.450" in diffuse.ours  # (0.2 + 0.2) / 2, (0.4 + 0.5) / 2
    assert integrators.verdict == "holds"
    assert integrators.ours.startswith("8 of 40 forget-gate units of layers 2+ (20%)")
    assert "their mean fraction above it is 0.300" in integrators.ours
    rows[2] = gate(2, "forget_gate", 40, .1, .3, 0)
    assert read_saturation([result], context()).findings[1].verdict == "differs"


def test_a_result_missing_what_its_reading_needs_says_so_instead_of_failing():
    from rnnlens.report.readings import reading_for

    (finding,) = reading_for("compare", [{"models": []}], context()).findings
    assert finding.verdict == "cannot say" and "KeyError" in finding.ours
