"""How fast is the explorer on a long trace? Match queries and the first page view, over HTTP.

Traces the first 300,000 characters of War and Peace through a 2-layer,
256-unit LSTM with random weights (uniform in +-``--init-scale``: speed
depends on how many units are on, not on training, and the share of on
values is printed), keeping ``prob``, ``distribution`` and both layers'
``cell`` and ``hidden`` (1.3 GB, reused from ``--work`` on later runs). Then
it serves the trace with ``rnnlens.explorer`` on a real uvicorn server and
times, from a client:

- select + match: ``--queries`` brushes of 4-20 characters at random places,
  tanh(c) of both layers, threshold 0.3, LSTMVis's padding (1, 0); each
  brush's selected units (at most 128) are matched over all 300K rows;
- the first page view: headless Chromium (Playwright) from navigation to the
  page showing the text, its heat map and the predictions (``data-ready``),
  and to everything done, the threshold histogram too (``data-busy="0"``),
  a fresh page each time (the server's histogram is cached after the first);
  skipped, saying so, where there is no Chromium.

    RNNLENS_DATA=../shared/data .venv/bin/python benchmarks/explorer_speed.py
    RNNLENS_DATA=../shared/data .venv/bin/python benchmarks/explorer_speed.py --smoke   # tiny trace, seconds

The machine's load (``/proc/loadavg``) is printed before and after. With
``--smoke`` the run and trace go to a temporary directory, removed after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import torch
import uvicorn

from rnnlens.data.corpus import load_corpus
from rnnlens.data.texts import Text
from rnnlens.explorer.app import bind, create_app, url_of
from rnnlens.explorer.sources import load_model
from rnnlens.models.registry import load_predictor
from rnnlens.models.rnn.network import CharRNN, ModelConfig
from rnnlens.store.runs import save_tensors, write_config
from rnnlens.store.traces import ensure_trace

from _common import parse_args, scratch_or

KEYS = {"prob", "distribution", "layer1.cell", "layer2.cell", "layer1.hidden", "layer2.hidden"}
MATCH_UNITS = 128  # the most units a match may use
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SMOKE = {"work": None, "chars": 3_000, "hidden": 16, "init_scale": 1.0, "queries": 5, "pages": 1}


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def make_trace(work: Path, chars: int, layers: int, hidden: int, scale: float, data_dir: str | None) -> Path:
    """The trace directory (written once, then reused while the run and the text are the same)."""
    corpus = load_corpus(dataset="war-and-peace", data_dir=data_dir)
    name = f"lstm-{layers}x{hidden}-init{scale:g}-{chars}"
    run = work / name
    if not (run / "best.safetensors").is_file():
        torch.manual_seed(0)
        model = CharRNN(ModelConfig("lstm", len(corpus.vocab), hidden, layers))
        model.init_uniform(scale)
        write_config(run, "rnn", {"model": model.config.to_dict(), "vocabulary": corpus.vocab.chars,
                                  "corpus": corpus.spec()})
        save_tensors(run / "best.safetensors", {f"model.{k}": v for k, v in model.state_dict().items()})
    predictor = load_predictor(run)
    text = Text(corpus.ids[:chars], f"the first {chars:,} characters of War and Peace")
    start = time.perf_counter()
    trace, status = ensure_trace(work / f"{name}-trace", predictor, text, keys=KEYS)
    print(f"trace {status} in {time.perf_counter() - start:.1f} s: {trace.description}, "
          f"{sum(a.nbytes for a in trace.values()) / 1e9:.2f} GB")
    return work / f"{name}-trace"


def get(url: str, path: str, **params) -> tuple[float, dict]:
    start = time.perf_counter()
    with urllib.request.urlopen(f"{url}api/{path}?{urllib.parse.urlencode(params)}") as response:
        body = json.loads(response.read())
    return time.perf_counter() - start, body


def time_matches(url: str, positions: int, layers: int, hidden: int, queries: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(queries):
        start = int(rng.integers(1, positions - 30))
        end = start + int(rng.integers(4, 21))
        rule = {"quantity": "tanh_cell", "layers": ",".join(map(str, range(1, layers + 1))), "threshold": 0.3,
                "sign": 1, "left": 1, "right": 0}
        select_s, selected = get(url, "select", start=start, end=end, **rule)
        units = selected["units"][:MATCH_UNITS]
        if not units:
            rows.append((select_s, 0.0, 0, 0, 0))
            continue
        rule.pop("layers")
        match_s, found = get(url, "match", units=",".join(f"{u['layer']}:{u['unit']}" for u in units),
                             exclude_start=start, exclude_end=end, limit=50, **rule)
        rows.append((select_s, match_s, len(units), found["candidates"], found["scored"]))
    for name, column in (("select", 0), ("match", 1)):
        values = [r[column] for r in rows if r[2] or column == 0]
        print(f"{name}: median {statistics.median(values):.3f} s, max {max(values):.3f} s over {len(values)} queries"
              if values else f"{name}: no brush selected a unit")
    both = [r[0] + r[1] for r in rows]
    print(f"select + match: median {statistics.median(both):.3f} s, max {max(both):.3f} s")
    print(f"selected units per brush: median {statistics.median(r[2] for r in rows):.0f}, "
          f"max {max(r[2] for r in rows)}; candidates: median {statistics.median(r[3] for r in rows):.0f}, "
          f"max {max(r[3] for r in rows)}")
    per_layer = min(hidden, MATCH_UNITS // layers)  # the most a match may use, from every layer alike
    heaviest = ",".join(f"{layer}:{unit}" for layer in range(1, layers + 1) for unit in range(per_layer))
    seconds, found = get(url, "match", units=heaviest, quantity="tanh_cell", threshold=0.3, limit=200)
    print(f"heaviest match allowed ({per_layer * layers} units, 200 results): {seconds:.3f} s, "
          f"{found['candidates']} candidates, {found['scored']} scored")


def time_first_page(url: str, repeats: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        times = []
        for _ in range(repeats):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]", timeout=60_000)
            shown = time.perf_counter() - start
            page.wait_for_selector('body[data-busy="0"]', timeout=60_000)
            times.append((shown, time.perf_counter() - start))
            spans = page.locator("#text span[data-p]").count()
            page.close()
        browser.close()
    for name, column in (("first page view (text, heat map, predictions)", 0), ("all done (with the histogram)", 1)):
        values = [t[column] for t in times]
        print(f"{name}: median {statistics.median(values):.2f} s, max {max(values):.2f} s over {repeats} loads")
    print(f"({spans:,} characters on screen)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/rnnlens-explorer-speed"),
                        help="where the run and trace are kept (1.3 GB; reused when present)")
    parser.add_argument("--chars", type=int, default=300_000)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--init-scale", type=float, default=0.4,
                        help="random weights uniform in +-this (0.4: a third of the tanh(c) values >= 0.3)")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--pages", type=int, default=5, help="first page views timed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=os.environ.get("RNNLENS_DATA"))
    args = parse_args(parser, SMOKE)
    with scratch_or(args.work) as work:
        measure(args, work)


def measure(args: argparse.Namespace, work: Path) -> None:
    """Trace into ``work`` (or reuse the trace there), serve it and time the client's requests."""
    print(f"load before: {load()}")
    trace_dir = make_trace(work, args.chars, args.layers, args.hidden, args.init_scale, args.data_dir)
    model = load_model(trace_dir, "lstm", text_of=None)
    sample = np.tanh(np.asarray(model.trace["layer1.cell"][::97], np.float64))
    print(f"tanh(c) >= 0.3 in {np.mean(sample >= 0.3):.1%} of layer 1's values (every 97th row)")
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app([model]), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = url_of(sock)
    try:
        time_matches(url, model.trace.positions, args.layers, args.hidden, args.queries, args.seed)
        if Path(CHROMIUM).is_file():
            time_first_page(url, args.pages)
        else:
            print(f"first page view: no Chromium at {CHROMIUM}; skipped")
    finally:
        server.should_exit = True
        thread.join(10)
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
