"""The report's "Beyond the paper" section: ablate, context, probe, sae and cka as stages of a tiny reproduction,
and their readings decided from intervals only (on hand-made results)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rnnlens.analyses.intervals import Interval
from rnnlens.pipeline.analyses import ANALYSES, BEYOND
from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import Context, read_ablation, read_cka, read_context, read_sae
from tests.in_process import rnnlens

BEYOND_CONFIG = """
[grid]                    # one LSTM of 4 units a layer, and the two fixed-context models context compares it with
types = ["lstm"]
layers = [2]
params = [1500]
train = { epochs = 1, batch_size = 16, seq_length = 25 }

[baselines]
ngram = [3]
nnn = [2]
hidden = [8]
epochs = 1
batch = 1000

[text]
chars = 3000

[analyses.ablate]
models = ["best-lstm"]
units = ["layer2.cell:0", "layer1.hidden:3"]
features = ["after_space"]
random = 6
limit = 1500

[analyses.context]
models = ["best-lstm", "ngram-3", "nnn-2"]
positions = 40
distances = [1, 2, 3, 5, 20]

[analyses.probe]
models = ["best-lstm"]
keys = ["hidden"]
features = ["after_space", "line_position"]
limit = 1500
train_limit = 1500

[analyses.sae]
models = ["best-lstm"]
key = "layer2.hidden"
latents = 16
topk = 4
steps = 30
limit = 1500
train_limit = 1500

[analyses.cka]
models = ["best-lstm"]
limit = 1000

[analyses.cka_snapshots]
models = ["lstm2-1.5k"]
snapshot_every = 300
limit = 1000
"""
KEYS = [a.key for a in ANALYSES if a.section == BEYOND]


@pytest.fixture(scope="module")
def run(tmp_path_factory, war_and_peace) -> Path:
    base = tmp_path_factory.mktemp("beyond")
    text, config, out = base / "text.txt", base / "beyond.toml", base / "run"
    text.write_text(war_and_peace[:15_000], encoding="utf-8")
    config.write_text(BEYOND_CONFIG, encoding="utf-8")
    ran = rnnlens("reproduce", "--text", text, "--config", config, "--workers", "2", "--out", out, "--quiet")
    assert ran.code == 0, ran.err
    return out


def part(html: str, key: str) -> str:
    return html.split(f'data-analysis="{key}">', 1)[1].split("</section>", 1)[0]


def result(out: Path, stage: str, name: str) -> dict:
    (path,) = (out / "stages").glob(f"{stage}-*/**/{name}")
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_beyond_section_follows_the_papers_figures_with_a_figure_and_command_per_analysis(run):
    html = (run / "report.html").read_text(encoding="utf-8")
    headings = re.findall(r'<h2 id="[\w-]+">([^<]+)</h2>', html)
    assert headings[headings.index("Figure 6") + 1] == BEYOND
    assert KEYS == ["ablate", "context", "probe", "sae", "cka", "cka_snapshots"]
    for key in KEYS:
        shown = part(html, key)
        assert "data:image/png;base64," in shown and "<code>rnnlens " in shown, key
    assert part(html, "cka_snapshots").count("--snapshots") == 1  # the stage compares the run's snapshots
    for key in ("probe", "sae", "cka", "cka_snapshots"):  # no interval, so a table and no verdict
        assert "no interval" in part(html, key).lower() and 'class="verdict' not in part(html, key), key
    assert 'class="verdict' in part(html, "ablate") and 'class="verdict' in part(html, "context")


def test_the_context_reading_checks_the_ngram_against_its_own_curve_and_reaches_findings_json(run):
    context = result(run, "context", "context.json")
    ngram = next(m for m in context["models"] if m["name"] == "ngram-3")
    by_distance = {p["distance"]: p["nats"] for p in ngram["curve"]}
    assert by_distance[3] == pytest.approx(ngram["full_nats"], abs=1e-9)  # 3 characters are all it reads
    assert by_distance[1] > ngram["full_nats"] + 0.1
    findings = json.loads((run / "findings.json").read_text(encoding="utf-8"))
    check = next(f for f in findings if f["claim"].startswith("ngram-3 uses at most its 3 characters"))
    assert check["section"] == BEYOND and check["verdict"] == "holds" and check["numbers"]["effective_context"] <= 3
    ablations = [f for f in findings if f["analysis"].startswith("Ablation")]
    assert len(ablations) == 2 and all(f["verdict"] in ("holds", "differs", "cannot say") for f in ablations)
    assert not [f for f in findings if f["section"] == BEYOND and f["analysis"].startswith(("Linear", "Sparse", "CKA"))]


def test_ablate_reads_only_its_limit_and_each_unit_is_measured_against_its_own_layer(run):
    ablation = result(run, "ablate-best-lstm", "ablation.json")
    assert ablation["text"]["chars"] == 1500  # of the 3,000 the config's [text] gives every analysis
    assert [u["unit"] for u in ablation["units"]] == ["layer2.cell:0", "layer1.hidden:3"]
    # random = 6, but a layer of this 1,500-parameter LSTM has 4 units: every other one is drawn
    assert ablation["random"]["units"] == {"layer2.cell": [1, 2, 3], "layer1.hidden": [0, 1, 2]}
    positions = ablation["units"][0]["feature"]["after_space"]["positions"]
    text = (run / "texts").glob("*.txt").__next__().read_text(encoding="utf-8")[:1500]
    assert positions == sum(c == " " for c in text[:1499])  # row t is text[t], predicting text[t + 1]


# --- readings on hand-made results ----------------------------------------------------------------------------

def ctx() -> Context:
    return Context("war-and-peace", paper_numbers(), {})


def effect(low: float, high: float, p95: float, verdict: str, positions: int = 500) -> dict:
    delta = Interval((low + high) / 2, low, high, positions, "bootstrap").to_dict()
    return {"positions": positions, "delta": delta, "random_p95": p95, "verdict": verdict}


def test_an_ablated_unit_holds_where_it_stands_out_on_every_feature_set_and_partly_on_some():
    units = [{"unit": "layer2.cell:142", "nats": 2.0, "delta_nats": 0.03,
              "feature": {"all positions": effect(0.02, 0.04, 0.01, "stands out"),
                          "in_double_quotes": effect(0.01, 0.02, 0.03, "within random"),
                          "in_double_quotes:end": effect(0.7, 0.9, 0.03, "stands out")}},
             {"unit": "layer1.hidden:3", "nats": 2.0, "delta_nats": 0.0,
              "feature": {"all positions": effect(-0.01, 0.02, 0.01, "cannot say")}}]
    made = {"baseline_nats": 1.97, "replacement": {"words": "set to 0"}, "units": units,
            "random": {"count": 10, "units": {"layer2.cell": [1, 2], "layer1.hidden": [4]}, "rule": "rule"},
            "model": {"run_dir": "x/best-lstm"}}
    reading = read_ablation([made], ctx())
    quote, other = reading.findings
    assert quote.verdict == "partly" and "in_double_quotes, in_double_quotes:end" in quote.claim
    assert "all positions" not in quote.numbers and quote.numbers["in_double_quotes:end"]["random_p95"] == 0.03
    assert quote.why == "in_double_quotes: the interval lies below the random units' 95th percentile"
    assert other.verdict == "cannot say" and list(other.numbers) == ["all positions"]
    assert other.why == "all positions: the interval covers the random units' 95th percentile"
    assert reading.tables[0].rows[2][3:6] == ["+0.800", "[+0.700, +0.900]", "+0.030"]


def curve(name: str, full: float, excesses: dict[int, tuple[float, float]], effective: int | None) -> dict:
    points = [{"distance": d, "nats": full + (lo + hi) / 2,
               "excess": Interval((lo + hi) / 2, lo, hi, 300, "bootstrap").to_dict()}
              for d, (lo, hi) in excesses.items()]
    return {"name": name, "full_nats": full, "effective_context": effective, "curve": points}


def test_context_findings_come_from_the_excess_interval_against_one_percent_of_the_full_loss():
    lstm = curve("best-lstm", 1.5, {1: (2.0, 2.2), 5: (0.3, 0.4), 20: (0.02, 0.04), 200: (-0.01, 0.01)}, 200)
    ngram = curve("ngram-20", 1.4, {1: (2.0, 2.2), 5: (0.3, 0.4), 20: (0.0, 0.0), 200: (0.0, 0.0)}, 20)
    nnn = curve("nnn-4", 1.6, {1: (2.0, 2.2), 5: (0.02, 0.03), 20: (0.0, 0.0), 200: (0.0, 0.0)}, 20)
    gru = curve("best-gru", 1.5, {1: (2.0, 2.2), 5: (0.3, 0.4), 20: (0.005, 0.03), 200: (0.01, 0.03)}, None)
    made = {"models": [lstm, ngram, nnn, gru], "positions": 300, "distances": [1, 5, 20, 200], "rule": "rule"}
    verdicts = {f.claim.split(" uses ")[0] + (" beyond" if "more than" in f.claim else ""): f.verdict
                for f in read_context([made], ctx()).findings}
    assert verdicts == {"best-lstm": "holds", "ngram-20": "holds", "nnn-4": "differs", "best-gru": "cannot say",
                        "best-lstm beyond": "holds",  # 0.02 > 1% of 1.5 = 0.015
                        "best-gru beyond": "cannot say"}  # 0.005 to 0.03 covers 0.015


def test_sae_and_cka_readings_show_their_numbers_and_say_why_loss_recovered_is_missing():
    note = "n/a: with the reconstruction spliced in at every step the state diverged"
    sae = {"key": "layer2.cell", "latents": 64, "l0": 16.0, "variance_explained": 0.79, "loss_recovered": None,
           "loss_recovered_note": note, "dead_fraction": 0.25,
           "features": [{"feature": "in_double_quotes", "metric": "AUC", "latent": 7, "score": 0.918,
                         "best_unit": {"unit": 142, "score": 0.993}}],
           "training": {"described": "64 latents"},
           "info": {"model": {"run_dir": "x/best-lstm"}, "train": {"source": "a"}, "test": {"source": "b"}}}
    metrics, latents = read_sae([sae], ctx()).tables
    assert metrics.rows == [["layer2.cell", "64", "16.0", "0.790", note, "25.0%"]]
    assert latents.rows == [["in_double_quotes", "AUC", "7", "0.918", "142", "0.993"]]
    cka = {"labels": ["layer1.hidden", "layer1.cell", "layer2.hidden"],
           "matrix": [[1.0, 0.9, 0.5], [0.9, 1.0, None], [0.5, None, 1.0]],
           "text": {"positions": 999, "source": "t"}, "sources": {"best-lstm": {"run_dir": "r"}}}
    (table,) = read_cka([cka], ctx()).tables
    assert table.rows == [["layer1.hidden", "layer1.cell", "0.900"], ["layer1.cell", "layer1.hidden", "0.900"],
                          ["layer2.hidden", "layer1.hidden", "0.500"]]
