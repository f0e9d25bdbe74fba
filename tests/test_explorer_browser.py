"""The explorer in a real browser: Playwright driving Debian's Chromium against ``rnnlens explore`` run as a process.

The model with a quote cell is really trained, not a constructed trace: a 16-unit LSTM, 10 epochs on 40K
characters whose words inside double quotes come from other letters than those outside
(``test_explorer_api.train_quote_model``, 2-5 s), beside a trigram model of the same text. Its quote cells are
found by rnnlens's own cells ranking (AUC 0.95-0.995 for four of its units); the LSTM's onion (orders 2-3) is
given with --onion. Set RNNLENS_SCREENSHOTS=DIR to keep a screenshot of each view.
"""

import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from rnnlens.analyses.interpretable_cells import find_interpretable_cells
from rnnlens.cli import main
from rnnlens.data.features import compute_features
from rnnlens.models.registry import load_predictor
from rnnlens.render.onion_page import slice_colours
from rnnlens.store.traces import open_trace
from test_explorer_api import first_quoted_word, train_quote_model

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                                reason=f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
SHOTS = os.environ.get("RNNLENS_SCREENSHOTS")
WHITE, RED, BLUE = (255, 255, 255), (214, 38, 41), (33, 102, 217)  # app.js's colours


def expected_colour(value: float) -> tuple[int, ...]:
    """app.js's diverging colour of a value: red at -1, white at 0, blue at +1."""
    c = max(-1.0, min(1.0, value))
    target, t = (RED, -c) if c < 0 else (BLUE, c)
    return tuple(math.floor(a + t * (b - a) + 0.5) for a, b in zip(WHITE, target))


def shown_colour(css: str) -> tuple[int, ...]:
    return tuple(int(x) for x in css[css.index("(") + 1:css.index(")")].split(","))


def close(a, b) -> bool:
    return all(abs(x - y) <= 1 for x, y in zip(a, b))


def url_from(process: subprocess.Popen, seconds: float = 120) -> str:
    """The URL ``rnnlens explore`` prints once it listens (the trace is computed first)."""
    ready, _, _ = select.select([process.stdout], [], [], seconds)
    line = process.stdout.readline() if ready else ""
    if "open http" not in line:
        process.kill()
        raise AssertionError(f"rnnlens explore printed no URL: {line!r} {process.stderr.read()}")
    return line.split("open ", 1)[1].strip()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    run, ngram = train_quote_model(base)
    onion = base / "onion"
    assert main(["onion", str(run), "--out", str(onion), "--orders", "2", "3", "--ngram-dir", str(base / "ngrams"),
                 "--quiet"]) == 0
    process = subprocess.Popen([sys.executable, "-m", "rnnlens", "explore", str(run), str(ngram), "--split", "test",
                                "--onion", str(onion), "--port", "0", "--quiet"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        url = url_from(process)
        trace = open_trace(next((run / "traces").iterdir()))
        yield {"url": url, "run": run, "ngram": ngram, "trace": trace, "onion": onion}
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 130 and "interrupted by SIGINT" in err, err  # Ctrl-C stops it cleanly


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, served):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(served["url"])
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    settle(page)
    yield page
    page.close()
    assert not errors, errors


def settle(page) -> None:
    """Wait until the page has done everything asked of it (app.js counts its actions in body[data-busy])."""
    page.wait_for_selector('body[data-busy="0"]', timeout=30_000)


def shot(page, name):
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def drag(page, start: int, last: int) -> None:
    """Brush from the character at ``start`` to the one at ``last`` (inclusive) with the mouse."""
    a = page.locator(f'#text span[data-p="{start}"]').bounding_box()
    b = page.locator(f'#text span[data-p="{last}"]').bounding_box()
    page.mouse.move(a["x"] + 2, a["y"] + 5)
    page.mouse.down()
    page.mouse.move(b["x"] + 2, b["y"] + 5, steps=4)
    page.mouse.up()


def test_the_text_is_coloured_by_the_trace_and_scrolls_a_window_at_a_time(page, served):
    trace = served["trace"]
    assert page.locator("#text span[data-p]").first.text_content() == trace.text[0]
    assert page.locator("#text span[data-p]").count() == 3000  # two windows of 1500 fill the view, not all 4000
    cell = np.tanh(trace["layer1.cell"][:, 0].astype(np.float64))
    for pos in (0, 7, 300, 1499):  # the background is unit 0 of tanh(c), as the API served it (4 decimals)
        css = page.locator(f'#text span[data-p="{pos}"]').evaluate("s => getComputedStyle(s).backgroundColor")
        assert close(shown_colour(css), expected_colour(round(float(cell[pos]), 4))), (pos, css)
    assert page.locator("canvas.strips").count() > 10  # a strip per row for the units shown
    shot(page, "1-text-view")
    page.locator("#text").evaluate("box => { box.scrollTop = box.scrollHeight; }")
    page.wait_for_selector('#text span[data-p="3500"]', timeout=10_000)  # the next window, loaded on scrolling
    settle(page)
    assert page.locator("#text span[data-p]").count() == 4000


def test_brushing_a_quotation_selects_the_quote_cell_and_matches_other_quotations(page, served):
    trace = served["trace"]
    page.click("#cells-load")
    settle(page)
    row = page.locator('#cells tr[data-feature="in_double_quotes"]')
    best = find_interpretable_cells(trace, features=["in_double_quotes"]).best[0]
    assert f"L1 #{best.unit}" in row.text_content() and best.score > 0.95
    row.click()
    settle(page)
    assert page.locator("#chosen .chip").first.text_content().startswith(f"L1 tanh_cell #{best.unit}")
    assert page.input_value("#sign") == ("-1" if best.direction == "lower inside" else "1")  # on where it is low
    shot(page, "2-cells-table")
    start, end = first_quoted_word(trace.text)
    page.fill("#goto", str(start))
    page.press("#goto", "Enter")  # back to the start of the text, where the brush goes
    settle(page)
    drag(page, start, end - 1)
    settle(page)
    selected = [int(u) for u in page.locator("#selected .selected-unit").evaluate_all("bs => bs.map(b => b.dataset.unit)")]
    assert best.unit in selected, selected  # the quote cell is among the selected units
    spans = page.locator("#matches li").evaluate_all("lis => lis.map(li => [+li.dataset.start, +li.dataset.end])")
    inside = compute_features(trace.text, ["in_double_quotes"])["in_double_quotes"]
    assert len(spans) >= 10 and min(inside[a:b].mean() for a, b in spans[:10]) > 0.9, spans  # in other quotations
    assert all(b <= start or a >= end for a, b in spans)  # the brush itself is not a match
    shot(page, "3-select-and-match")
    far = max(range(len(spans)), key=lambda i: spans[i][0])
    page.locator("#matches li").nth(far).click()
    settle(page)
    focus = page.locator(f'#text span[data-p="{spans[far][0]}"].focus')  # jumped there: on screen and marked
    assert focus.is_visible() and page.locator("#text span.focus").count() == spans[far][1] - spans[far][0] \
        or spans[far][0] // 1500 != (spans[far][1] - 1) // 1500  # (all of it, unless it runs onto the next page)
    shot(page, "4-jumped-to-a-match")


def test_predictions_of_both_models_side_by_side_and_their_difference_along_the_text(page, served):
    trace = served["trace"]
    trigram = load_predictor(served["ngram"])
    ids = trigram.vocab.encode(trace.text)
    p_lstm = trace["prob"].astype(np.float64)
    p_trigram = np.exp(trigram.predict_log_probs(ids))  # computed here, not read from the explorer
    pos = 210
    page.locator(f'#text span[data-p="{pos}"]').click()
    columns = page.locator("#predictions .model-predictions")
    assert columns.count() == 2
    assert [columns.nth(i).locator("h3").text_content() for i in range(2)] == ["lstm", "trigram"]
    for column, p in zip((columns.nth(0), columns.nth(1)), (p_lstm, p_trigram)):  # served to 5 decimals
        assert column.locator(".p-true").text_content() == f"p(true) = {round(float(p[pos]), 5):.4f}"
    top = columns.nth(1).locator("tr").first.locator("td").first.text_content()
    best = trigram.vocab.chars[int(np.argmax(trigram.predict_log_distributions(ids)[pos]))]
    assert top == {" ": "\u2423", "\n": "\u21b5"}.get(best, best)
    shot(page, "5-predictions")
    page.select_option("#colour-by", "diff")
    settle(page)
    assert "minus that of trigram" in page.text_content("#legend")
    for p in (5, 100, 211, 1000):
        css = page.locator(f'#text span[data-p="{p}"]').evaluate("s => getComputedStyle(s).backgroundColor")
        difference = round(float(p_lstm[p]), 5) - round(float(p_trigram[p]), 5)
        assert close(shown_colour(css), expected_colour(difference)), (p, css, difference)
    shot(page, "6-difference-of-two-models")


def test_the_onion_colours_each_error_by_its_category_as_the_onions_pie_does(page, served):
    result = json.loads((served["onion"] / "onion.json").read_text())
    category = np.load(served["onion"] / result["categories"])  # row i: the prediction of character i + 1
    colours = slice_colours([s["oracle"] for s in result["slices"]] + ["unexplained"])  # the pie's colours
    page.select_option("#colour-by", "onion")
    settle(page)
    swatches = page.locator("#legend .swatch")
    assert swatches.count() == len(result["slices"]) + 1 and swatches.last.text_content() == "unexplained"
    assert shown_colour(swatches.first.evaluate("s => getComputedStyle(s).backgroundColor")) == rgb(colours[0])
    shown = category[:2999]  # characters 1..2999: on the first two pages
    chosen = [1 + int(np.flatnonzero(shown == k)[0]) for k in np.unique(shown[shown >= 0])]
    assert len(chosen) >= 3, np.unique(shown)  # errors of several categories on screen
    for pos in chosen + [1 + int(np.flatnonzero(shown == -1)[0])]:
        span = page.locator(f'#text span[data-p="{pos}"]')
        css = span.evaluate("s => getComputedStyle(s).backgroundColor")
        k = int(category[pos - 1])
        if k < 0:
            assert css == "rgba(0, 0, 0, 0)", (pos, css)  # no error: plain
        else:
            assert shown_colour(css) == rgb(colours[k]), (pos, k, css)
            assert span.get_attribute("title") == swatches.nth(k).text_content()
    shot(page, "7-onion-categories")
    page.select_option("#model", "1")  # the trigram has no onion: nothing to colour by
    settle(page)
    assert page.locator('#colour-by option[value="onion"]').is_disabled()


def rgb(colour: str) -> tuple[int, ...]:
    return tuple(round(255 * x) for x in to_rgb(colour))
