"""The explorer: LSTMVis's select-and-match rule on hand-made states, and the API on a tiny trained LSTM and an
n-gram model (windows equal the trace and the onion's saved categories, bounds hold, bad input is a 4xx with a
JSON error, fuzzing finds no 5xx)."""

import json
import random

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from rnnlens.analyses.interpretable_cells import find_interpretable_cells
from rnnlens.cli import main
from rnnlens.commands.explore import host_warning
from rnnlens.data.features import compute_features
from rnnlens.data.texts import text_for
from rnnlens.errors import RnnlensError
from rnnlens.explorer import matching
from rnnlens.explorer.app import LIMITS, create_app
from rnnlens.explorer.matching import Rule, match, select
from rnnlens.explorer.sources import TRACES, attach_cells, attach_onions, check_same_text, load_model
from rnnlens.models.registry import load_predictor
from rnnlens.render.onion_page import GROUP_COLOURS
from rnnlens.store.traces import open_trace


def quoted_text(chars: int, seed: int = 0) -> str:
    """Words of a-m outside double quotes and of n-z inside, so that predicting a letter needs to know which side
    of a quote the text is on: an LSTM grows a quote cell in seconds (AUC 0.98-1.00 over 4 seeds)."""
    rng = random.Random(seed)

    def words(letters, most):
        return " ".join("".join(rng.choice(letters) for _ in range(rng.randint(2, 6)))
                        for _ in range(rng.randint(1, most)))

    pieces, size = [], 0
    while size < chars:
        piece = f'{words("abcdefghijklm", 4)} "{words("nopqrstuvwxyz", 5)}" ' + ("\n" if rng.random() < 0.2 else "")
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces)[:chars]


def train_quote_model(tmp_path):
    """A 1-layer, 16-unit LSTM trained 10 epochs on 40K characters of ``quoted_text`` (2-3 s on one core)."""
    text = tmp_path / "quotes.txt"
    text.write_text(quoted_text(40_000), encoding="utf-8")
    run = tmp_path / "lstm"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as fast on one thread for a model this small, and the same weights on any machine
    try:
        assert main(["train", "--text", str(text), "--model", "lstm", "--layers", "1", "--hidden", "16", "--epochs",
                     "10", "--batch-size", "16", "--seq-length", "64", "--patience", "0", "--device", "cpu", "--out",
                     str(run), "--quiet"]) == 0
    finally:
        torch.set_num_threads(threads)
    ngram = tmp_path / "trigram"
    assert main(["ngram", "--text", str(text), "--order", "3", "--out", str(ngram), "--quiet"]) == 0
    return run, ngram


def first_quoted_word(text: str, after: int = 100) -> tuple[int, int]:
    """Rows ``[start, end)`` of the first word of the first quotation after ``after`` whose first word has 4+ letters
    (from the letter after the opening quote: the state after reading the quote has only begun to swing)."""
    for i in range(after, len(text) - 10):
        if text[i] == '"' and text[i - 1] == " ":
            end = i + 1
            while text[end].isalpha():
                end += 1
            if end - (i + 1) >= 4:
                return i + 1, end
    raise AssertionError("no quotation found")


# --- the rule, on hand-made states ------------------------------------------------------------------------

def states(rows: int, units: int, on: dict[int, list[tuple[int, int]]]) -> np.ndarray:
    """(rows, units) of -0.5 with 0.9 on each unit's listed [start, end) stretches."""
    values = np.full((rows, units), -0.5, np.float32)
    for unit, stretches in on.items():
        for start, end in stretches:
            values[start:end, unit] = 0.9
    return values


def test_selection_is_on_over_the_whole_brush_and_off_on_the_padding():
    values = states(12, 5, {0: [(3, 6)], 1: [(2, 6)], 2: [(3, 5)], 3: [(3, 8)], 4: [(3, 6), (7, 9)]})
    brush = (3, 6)
    assert select([values], *brush, Rule(0.3))[0].tolist() == [0, 3, 4]  # 1 is on before; 2 goes off inside
    assert select([values], *brush, Rule(0.3, left=0))[0].tolist() == [0, 1, 3, 4]
    assert select([values], *brush, Rule(0.3, right=1))[0].tolist() == [0, 4]  # 3 stays on after the brush
    assert select([values], *brush, Rule(0.3, left=2, right=2))[0].tolist() == [0]  # 4 is on again at 7
    assert select([values], 0, 2, Rule(0.3, sign=-1, left=5))[0].tolist() == [0, 1, 2, 3, 4]  # low values, padding off the text
    assert select([values, values[:, :2]], *brush, Rule(0.3))[1].tolist() == [0]  # one list per block (layer)


def test_matches_rank_by_overlap_then_union_then_length():
    # selected 0, 1, 2 (brushed at 2-5); on together at 10-14 (alone), at 30-40 (with unit 3 too), at 50-53
    # (unit 3 with them); 0 and 1 only at 20-23 and at 60-66 (the longer one ranks first)
    on = {0: [(2, 5), (10, 14), (20, 23), (30, 40), (50, 53), (60, 66)],
          1: [(2, 5), (10, 14), (20, 23), (30, 40), (50, 53), (60, 66)],
          2: [(2, 5), (10, 14), (30, 40), (50, 53)], 3: [(30, 40), (50, 53)], 4: [(70, 71)]}
    values = states(80, 5, on)
    rule = Rule(0.3)
    assert select([values], 2, 5, rule)[0].tolist() == [0, 1, 2]
    found = match([values], [np.array([0, 1, 2])], rule, exclude=(2, 5))
    got = [(m.start, m.start + m.length, m.overlap, m.union, m.active) for m in found.matches]
    assert got == [(10, 14, 3, 3, 3), (30, 40, 3, 4, 4), (50, 53, 3, 4, 4), (60, 66, 2, 3, 2), (20, 23, 2, 3, 2)]
    assert (found.candidates, found.scored, found.truncated) == (5, 5, False)
    with_brush = match([values], [np.array([0, 1, 2])], rule)  # the brush itself, unexcluded, after 10-14 (longer)
    assert [(m.start, m.length) for m in with_brush.matches[:2]] == [(10, 4), (2, 3)] and with_brush.candidates == 6
    assert match([values], [np.array([0, 1, 2])], Rule(0.3, min_length=4), exclude=(2, 5)).candidates == 3
    cut = match([values], [np.array([0, 1, 2])], rule, exclude=(2, 5), max_rows=8)
    assert cut.truncated and cut.scored == 2 and cut.candidates == 5


def brute_force(values: np.ndarray, selected: list[int], rule: Rule, exclude: tuple[int, int]) -> list[tuple]:
    """The module's rule in plain loops: runs of count >= k for k from |S| down, then each run's active units."""
    rows, units = values.shape
    on = [[rule.sign * float(values[t, u]) >= rule.threshold for u in range(units)] for t in range(rows)]
    count = [sum(on[t][u] for u in selected) for t in range(rows)]
    runs = []
    for k in range(len(selected), 0, -1):
        t = 0
        while t < rows:
            if count[t] >= k:
                start = t
                while t < rows and count[t] >= k:
                    t += 1
                if t - start >= rule.min_length and (t <= exclude[0] or start >= exclude[1]) and (start, t) not in runs:
                    runs.append((start, t))
            else:
                t += 1
    scored = []
    for start, end in runs:
        active = [u for u in range(units)
                  if all(on[t][u] for t in range(start, end))
                  and not any(on[t][u] for t in range(max(start - rule.left, 0), start))
                  and not any(on[t][u] for t in range(end, min(end + rule.right, rows)))]
        overlap = len(set(active) & set(selected))
        scored.append((start, end - start, overlap, len(set(active) | set(selected))))
    return sorted(scored, key=lambda s: (-s[2], s[3], -s[1], s[0]))


@pytest.mark.parametrize("seed", range(6))
def test_matching_equals_a_brute_force_reading_of_the_rule(seed, monkeypatch):
    monkeypatch.setattr(matching, "ROW_CHUNK", 7)  # runs and padding cross chunk boundaries
    rng = np.random.default_rng(seed)
    values = np.cumsum(rng.normal(size=(300, 6)), axis=0).astype(np.float32) / 4  # slow walks: runs of many lengths
    rule = Rule(float(rng.uniform(-0.5, 0.5)), sign=int(rng.choice([1, -1])), left=int(rng.integers(0, 3)),
                right=int(rng.integers(0, 3)), min_length=int(rng.integers(1, 4)))
    selected = sorted(rng.choice(6, size=int(rng.integers(1, 5)), replace=False).tolist())
    exclude = (100, 120)
    found = match([values[:, :3], values[:, 3:]], [np.array([u for u in selected if u < 3]),
                                                   np.array([u - 3 for u in selected if u >= 3])],
                  rule, exclude, limit=10_000)
    assert [(m.start, m.length, m.overlap, m.union) for m in found.matches] == brute_force(values, selected, rule, exclude)


# --- the API on a tiny trained LSTM and a trigram model -----------------------------------------------------

@pytest.fixture(scope="module")
def models(tmp_path_factory):
    base = tmp_path_factory.mktemp("explore")
    run, ngram = train_quote_model(base)

    def test_split_of(predictor):
        return text_for(predictor.vocab, predictor.corpus_spec, split="test")

    lstm = load_model(run, "lstm", test_split_of)
    trigram = load_model(ngram, "trigram", test_split_of)
    onion = base / "onion"
    assert main(["onion", str(run), "--out", str(onion), "--orders", "2", "3", "--ngram-dir", str(base / "ngrams"),
                 "--quiet"]) == 0
    attach_onions([lstm, trigram], [str(onion)])
    return {"base": base, "run": run, "ngram": ngram, "lstm": lstm, "trigram": trigram, "text_of": test_split_of,
            "onion": onion}


@pytest.fixture(scope="module")
def client(models):
    return TestClient(create_app([models["lstm"], models["trigram"]]), base_url="http://127.0.0.1",
                      raise_server_exceptions=False)


def get(client, path, **params):
    response = client.get(path, params=params)
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.status_code, response.json()


def test_a_run_directory_is_traced_once_and_kept_in_it(models):
    kept = list((models["run"] / TRACES).iterdir())
    assert len(kept) == 1 and (kept[0] / "distribution.npy").is_file()
    again = load_model(models["run"], "lstm", models["text_of"])
    assert again.trace.info == models["lstm"].trace.info  # reused: the same weights and text
    assert models["trigram"].trace is None and "no internal states" in models["trigram"].notes[0]


def test_info_text_and_states_are_windows_of_the_trace(client, models):
    trace = open_trace(next((models["run"] / TRACES).iterdir()))
    status, info = get(client, "/api/info")
    assert status == 200 and info["positions"] == trace.positions and info["chars"] == len(trace.text)
    lstm, trigram = info["models"]
    assert lstm["quantities"]["1"][:2] == ["tanh_cell", "hidden"] and lstm["units"] == {"1": 16}
    assert lstm["gates"] == ["input_gate", "forget_gate", "output_gate"] and lstm["topk"] and trigram["topk"]
    assert not trigram["has_trace"]
    assert get(client, "/api/text", start=1000, length=77)[1]["text"] == trace.text[1000:1077]
    status, body = get(client, "/api/states", layer=1, quantity="tanh_cell", units="3,0,15", start=2000, length=50)
    expected = np.tanh(trace["layer1.cell"][2000:2050][:, [3, 0, 15]].astype(np.float32)).T  # stored in float16
    assert status == 200 and np.allclose(body["values"], expected, atol=6e-5)
    _, gate = get(client, "/api/states", quantity="forget_gate", units="7", start=trace.positions - 3, length=500)
    assert gate["end"] == trace.positions and np.allclose(gate["values"][0], trace["layer1.forget_gate"][-3:, 7],
                                                          atol=6e-5)


def test_predictions_give_p_true_and_the_top_characters_of_both_models(client, models):
    trace = open_trace(next((models["run"] / TRACES).iterdir()))
    chars = load_predictor(models["run"]).vocab.chars
    _, body = get(client, "/api/predictions", model=0, start=500, length=40, k=3)
    assert np.allclose(body["p_true"], trace["prob"][500:540], atol=6e-6)
    distribution = trace["distribution"][500:540]
    for row, top in zip(distribution, body["top"]):
        order = np.argsort(-row, kind="stable")[:3]
        assert [c for c, _ in top] == [chars[i] for i in order] and np.allclose([p for _, p in top], row[order], atol=6e-6)
    _, other = get(client, "/api/predictions", model=1, start=500, length=40, k=20)
    trigram = load_predictor(models["ngram"])  # its predictions computed again here, not read from the cache
    ids = trigram.vocab.encode(trace.text)
    direct = np.exp(trigram.predict_log_distributions(ids))[500:540]
    assert [top[0][0] for top in other["top"]] == [trigram.vocab.chars[i] for i in direct.argmax(axis=1)]
    assert len(other["top"][0]) == 20 and np.allclose([p for _, p in other["top"][0]], np.sort(direct[0])[::-1][:20],
                                                      atol=6e-6)
    assert np.allclose(other["p_true"], direct[np.arange(40), ids[501:541]], atol=6e-6)
    assert not np.allclose(other["p_true"], body["p_true"])  # two models, two sets of predictions


def test_select_and_match_find_the_quote_cell_in_other_quotations(client, models):
    trace = models["lstm"].trace
    cells = find_interpretable_cells(trace, features=["in_double_quotes"])
    quote = cells.best[0]
    assert quote.score > 0.95 and quote.beyond_chance
    sign = 1 if quote.direction == "higher inside" else -1
    quote_cells = set(np.flatnonzero(np.maximum(cells.scores["in_double_quotes"][0],
                                                1 - cells.scores["in_double_quotes"][0]) > 0.95).tolist())
    start, end = first_quoted_word(trace.text)
    params = dict(quantity="tanh_cell", threshold=0.3, sign=sign, left=1, right=0)
    status, selected = get(client, "/api/select", start=start, end=end, **params)
    chosen = {u["unit"] for u in selected["units"]}
    assert status == 200 and chosen & quote_cells, (chosen, quote_cells)  # a quote cell among the selected
    values = np.tanh(trace["layer1.cell"][start - 1:end]).astype(np.float64) * sign  # the rule, read directly
    assert sorted(chosen) == np.flatnonzero((values[1:] >= 0.3).all(axis=0) & (values[0] < 0.3)).tolist()
    units = ",".join(f"1:{u}" for u in sorted(chosen))
    status, found = get(client, "/api/match", units=units, exclude_start=start, exclude_end=end, limit=20, **params)
    assert status == 200 and len(found["matches"]) == 20
    text = trace.text
    inside = compute_features(text, ["in_double_quotes"])["in_double_quotes"]
    shares = [inside[m["start"]:m["end"]].mean() for m in found["matches"][:10]]
    assert min(shares) > 0.9, shares  # the best matches lie inside other quotations
    first = found["matches"][0]
    assert first["text"] == text[first["start"]:first["end"]][:80] and first["before"] == text[first["start"] - 15:first["start"]]


def test_the_cells_table_is_computed_on_demand_or_read_from_a_cells_result(client, models, capsys):
    _, table = get(client, "/api/cells", model=0)
    quote = next(r for r in table["rows"] if r["feature"] == "in_double_quotes")
    expected = find_interpretable_cells(models["lstm"].trace).best
    assert quote["unit"] == next(m.unit for m in expected if m.feature == "in_double_quotes")
    assert table["source"].startswith("computed on the first") and table["quantity"] == "tanh_cell"
    out = models["base"] / "cells"
    trace_dir = next((models["run"] / TRACES).iterdir())
    assert main(["cells", str(trace_dir), "--features", "in_double_quotes", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    fresh = load_model(models["run"], "lstm", models["text_of"])
    attach_cells([fresh], [str(out)])
    status, given_table = get(TestClient(create_app([fresh]), base_url="http://127.0.0.1"), "/api/cells")
    assert status == 200 and given_table["source"] == f"read from {out}" and len(given_table["rows"]) == 1
    assert get(client, "/api/cells", model=1)[0] == 400  # the trigram has no trace
    with pytest.raises(RnnlensError, match="another model or text"):
        attach_cells([models["trigram"]], [str(out)])


def test_the_onion_window_is_the_saved_categories_and_the_legend_the_onions_colours(client, models):
    saved = np.load(models["onion"] / "categories.npy")
    result = json.loads((models["onion"] / "onion.json").read_text())
    status, body = get(client, "/api/onion", model=0, start=100, length=300)
    assert status == 200 and (body["start"], body["end"]) == (100, 400) and body["category"] == saved[100:400].tolist()
    assert 0 < sum(k >= 0 for k in body["category"]) < 300  # errors and correct characters both in the window
    _, tail = get(client, "/api/onion", start=len(saved) - 5, length=100)
    assert tail["end"] == len(saved) and tail["category"] == saved[-5:].tolist()
    _, info = get(client, "/api/info")
    lstm, trigram = info["models"]
    onion = lstm["onion"]
    assert onion["source"] == str(models["onion"]) and onion["errors"] == result["errors"] and trigram["onion"] is None
    labels = [f"{s['oracle']}: {s['name']}" if s["oracle"] != s["name"] else s["name"] for s in result["slices"]]
    assert [c["label"] for c in onion["legend"]] == labels + ["unexplained"]
    first = {}  # each oracle's first slice has its group's full colour, in peeling order
    for c, oracle in zip(onion["legend"], [s["oracle"] for s in result["slices"]] + ["unexplained"]):
        first.setdefault(oracle, c["colour"])
    assert list(first.values()) == list(GROUP_COLOURS[:len(first)])
    assert {c["ink"] for c in onion["legend"]} <= {"#000000", "#ffffff"}


def test_an_onion_of_another_model_or_text_is_refused_with_one_line(models, capsys):
    onion = str(models["onion"])
    with pytest.raises(RnnlensError, match="of a model not explored here"):
        attach_onions([load_model(models["ngram"], "trigram", models["text_of"])], [onion])
    val = load_model(models["run"], "val", lambda p: text_for(p.vocab, p.corpus_spec, split="val"))
    with pytest.raises(RnnlensError, match="not over the text explored"):
        attach_onions([val], [onion])
    with pytest.raises(RnnlensError, match="already has the onion"):
        attach_onions([load_model(models["run"], "lstm", models["text_of"])], [onion, onion])
    assert main(["explore", str(models["ngram"]), "--onion", str(models["base"]), "--port", "0", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "no onion.json" in err and "predictions only" not in err  # refused before any model is read
    assert main(["explore", str(models["ngram"]), "--onion", onion, "--port", "0", "--quiet"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("rnnlens explore: error: ") and "not explored here" in errors[0]


def test_models_over_different_texts_are_refused(models):
    other = load_model(models["run"], "val", lambda p: text_for(p.vocab, p.corpus_spec, split="val"))
    with pytest.raises(RnnlensError, match="another text"):
        check_same_text([models["lstm"], other])


BAD = [  # path, parameters, the parameter named
    ("/api/states", {"units": "99"}, "units"),
    ("/api/states", {"units": "1", "length": "0"}, "length"),
    ("/api/states", {"units": "1", "length": str(LIMITS["window"] + 1)}, "length"),
    ("/api/states", {"units": ",".join(["1"] * (LIMITS["units"] + 1))}, "units"),
    ("/api/states", {"units": "1,2,1"}, "units"),
    ("/api/states", {"units": "1", "start": "-1"}, "start"),
    ("/api/states", {"units": "1", "quantity": "bogus"}, "quantity"),
    ("/api/states", {"units": "1", "layer": "2"}, "layer"),
    ("/api/states", {"units": "1", "model": "2"}, "model"),
    ("/api/states", {"units": "1", "model": "1"}, "model"),  # the trigram has no states
    ("/api/states", {"units": "1e3"}, "units"),
    ("/api/select", {"start": "5", "end": "9", "threshold": "nan"}, "threshold"),
    ("/api/select", {"start": "5", "end": "9", "threshold": "inf"}, "threshold"),
    ("/api/select", {"start": "5", "end": str(5 + LIMITS["brush"] + 1), "threshold": "0.3"}, "end"),
    ("/api/select", {"start": "5", "end": "5", "threshold": "0.3"}, "end"),
    ("/api/select", {"start": "5", "end": "9", "threshold": "0.3", "sign": "2"}, "sign"),
    ("/api/select", {"start": "5", "end": "9", "threshold": "0.3", "left": "21"}, "left"),
    ("/api/select", {"start": "5", "end": "9", "threshold": "0.3", "layers": "1,1"}, "layers"),
    ("/api/select", {"start": "5", "end": "9"}, "threshold"),
    ("/api/match", {"units": "1:3,1:3", "threshold": "0.3"}, "units"),
    ("/api/match", {"units": "3", "threshold": "0.3"}, "units"),
    ("/api/match", {"units": "2:3", "threshold": "0.3"}, "units"),
    ("/api/match", {"units": "1:16", "threshold": "0.3"}, "units"),
    ("/api/match", {"units": "1:3", "threshold": "0.3", "exclude_start": "4"}, "exclude_end"),
    ("/api/match", {"units": "1:3", "threshold": "0.3", "limit": str(LIMITS["results"] + 1)}, "limit"),
    ("/api/predictions", {"length": str(LIMITS["predictions"] + 1)}, "length"),
    ("/api/predictions", {"k": "0"}, "k"),
    ("/api/histogram", {"bins": "1"}, "bins"),
    ("/api/onion", {"model": "1"}, "model"),  # the trigram has no onion
    ("/api/onion", {"length": str(LIMITS["window"] + 1)}, "length"),
    ("/api/onion", {"start": "-1"}, "start"),
]


@pytest.mark.parametrize("path, params, parameter", BAD)
def test_a_bad_parameter_is_a_400_naming_it(client, path, params, parameter):
    status, body = get(client, path, **params)
    assert status == 400 and body["parameter"] == parameter and body["error"], body


def test_nothing_but_the_api_and_the_page_is_served(client):
    assert get(client, "/api/nothing")[0] == 404
    assert get(client, "/static/../../../etc/passwd")[0] == 404
    assert client.get("/static/%2e%2e/%2e%2e/sources.py").status_code == 404
    assert client.post("/api/info").status_code == 405
    assert client.get("/api/info", headers={"host": "evil.example"}).status_code == 400  # DNS rebinding
    page = client.get("/")
    assert page.status_code == 200 and '<script src="/static/app.js">' in page.text
    assert "http" not in page.text  # nothing fetched from elsewhere
    script = client.get("/static/app.js").text
    assert "fetch(`/api/" in script and "http:" not in script and "https:" not in script


def test_the_server_warns_when_it_listens_beyond_loopback():
    assert host_warning("127.0.0.1") is None and host_warning("::1") is None and host_warning("localhost") is None
    assert "anyone who can reach this machine" in host_warning("0.0.0.0")


VALUES = st.one_of(st.integers(-10**13, 10**13).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
                   st.sampled_from(["", "0", "1", "-1", "1:3", "1:3,1:4", "0,1,2", "tanh_cell", "cell", "hidden",
                                    "forget_gate", "1,1", ",", "1:", ":3", "1e9", "0x10", "१२", "\x00", "9" * 40]),
                   st.text(max_size=30))
NAMES = ["model", "start", "length", "end", "layer", "layers", "quantity", "units", "threshold", "sign", "left",
         "right", "min_length", "exclude_start", "exclude_end", "limit", "k", "bins"]
PATHS = ["info", "text", "states", "histogram", "select", "match", "predictions", "cells", "onion"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), params=st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=8))
def test_fuzzed_requests_never_get_a_server_error(client, path, params):
    response = client.get(f"/api/{path}", params=params)
    assert response.status_code < 500, (path, params, response.text)
    body = response.json()
    assert ("error" in body) == (response.status_code >= 400)
    assert len(response.content) < 3_000_000  # bounded: no request returns a whole trace


def test_every_limit_bounds_the_largest_request(client, models):
    units = ",".join(map(str, range(16)))
    status, body = get(client, "/api/states", units=units, start=0, length=LIMITS["window"])
    assert status == 200 and len(body["values"]) == 16 and len(body["values"][0]) == min(LIMITS["window"],
                                                                                          models["lstm"].trace.positions)
    status, body = get(client, "/api/match", units=",".join(f"1:{u}" for u in range(16)), threshold=-2, left=0)
    assert status == 200 and body["candidates"] == 1  # every unit on everywhere: one run, the whole text
    assert body["matches"][0]["length"] == models["lstm"].trace.positions and body["matches"][0]["overlap"] == 16


def test_the_json_errors_say_what_is_wrong(client):
    status, body = get(client, "/api/states", units="1", start="ten")
    assert body == {"error": "start must be an integer, not 'ten'", "parameter": "start"}
    assert json.dumps(body)
