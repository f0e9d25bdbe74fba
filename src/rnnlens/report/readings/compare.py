"""Figure 1: depth, the three families, and whether the RNNs' predictions lie apart, each decided from paired
intervals over positions.

- **Depth** holds when every deeper model's loss difference to the 1-layer
  model of its type and budget lies wholly on the side of the deeper one.
- **Families**, in each depth and budget with all three: LSTM and GRU are
  each ahead of the RNN (their difference's interval above 0), and *close*:
  the LSTM-GRU difference's interval lies within plus or minus the smaller
  lead's lower end. It differs where the RNN is ahead of either, or where the
  LSTM-GRU interval lies wholly beyond the smaller lead's upper end.
- **Apart**: the interval the comparison saved (``model_comparison.apart``).
"""

from __future__ import annotations

from rnnlens.analyses.intervals import MIN_COUNT, Interval
from rnnlens.report.readings.common import Context, Finding, Reading, Table, combine, direction, signed

CASES = "positions"


def read_compare(results: list[dict], ctx: Context) -> Reading:
    result = results[0]
    models = result["models"]
    columns = list(dict.fromkeys(m["column"] for m in sorted(models, key=lambda m: m["params"] or 0)))
    rows = []
    for kind in dict.fromkeys(m["type"] for m in models):
        for layers in sorted({m["layers"] for m in models if m["type"] == kind}, key=lambda n: n or 0):
            cells = {m["column"]: m for m in models if m["type"] == kind and m["layers"] == layers}
            rows.append([f"{kind} {layers}" if layers else str(kind),
                         *(loss_words(cells[c]) if c in cells else "-" for c in columns)])
    reading = Reading([Table(f"loss on {result['text'].get('source')} ({result['text'].get('chars', 0):,} "
                             "characters), nats/char [95% interval], columns by parameter budget",
                             ["model", *columns], rows)])
    differences = Differences(result["differences"])
    reading.findings += [depth_finding(models, differences, ctx), family_finding(models, differences, ctx),
                         apart_finding(result, ctx)]
    return reading


def loss_words(model: dict) -> str:
    loss = Interval.from_dict(model["interval"])
    return f"{loss.estimate:.3f} [{loss.low:.3f}, {loss.high:.3f}]"


def span(interval: Interval) -> str:
    """``+0.012 [+0.004, +0.020]``."""
    return f"{signed(interval.estimate)} [{signed(interval.low)}, {signed(interval.high)}]"


class Differences:
    """The paired loss differences the comparison saved, looked up in either order."""

    def __init__(self, entries: list[dict]):
        self.by_pair = {tuple(e["models"]): Interval.from_dict(e["loss_difference"]) for e in entries}

    def get(self, a: str, b: str) -> Interval:
        """The interval of ``loss_a - loss_b`` in nats/char (positive: ``b`` better)."""
        if (a, b) in self.by_pair:
            return self.by_pair[(a, b)]
        d = self.by_pair[(b, a)]
        return Interval(-d.estimate, -d.high, -d.low, d.count, d.method, d.level)


def test_words(what: str, example: Interval) -> str:
    return (f"{round(100 * example.level)}% interval of {what} by {example.method}, "
            f"over {example.count:,} {CASES} (at least {MIN_COUNT})")


def depth_finding(models: list[dict], differences: Differences, ctx: Context) -> Finding:
    claim = "a depth of at least 2 helps"
    pairs = [(one, deep) for one in models if one["layers"] == 1 for deep in models
             if deep["type"] == one["type"] and deep["column"] == one["column"] and (deep["layers"] or 0) >= 2]
    if not pairs:
        return Finding(claim, "cannot say", "the grid has no 1-layer model with a deeper one of its type and budget",
                       why="no 1-layer model has a deeper one of its type and budget")
    gains = {(one["name"], deep["name"]): differences.get(one["name"], deep["name"]) for one, deep in pairs}
    verdicts = {pair: direction(gain, cases=CASES) for pair, gain in gains.items()}
    verdict = combine([v for v, _ in verdicts.values()])
    words = "; ".join(f"{one['type']} {one['column']}: {one['nats']:.3f} (1 layer) -> {deep['nats']:.3f} "
                      f"({deep['layers']} layers), gain {span(gains[(one['name'], deep['name'])])}"
                      for one, deep in pairs)
    held = sum(v == "holds" for v, _ in verdicts.values())
    why = "; ".join(f"{a} -> {b}: {'the 1-layer model is ahead' if v == 'differs' else reason}"
                    for (a, b), (v, reason) in verdicts.items() if v != "holds")
    if verdict == "differs":
        why = f"{why}; {ctx.why_differs()}"
    return Finding(claim, verdict, f"deeper is better in {held} of {len(pairs)}: {words}", "",
                   {f"{a} - {b}": gain.to_dict() for (a, b), gain in gains.items()},
                   test_words("the 1-layer model's loss less the deeper one's", next(iter(gains.values())))
                   + "; holds when every such interval lies above 0", why)


def family_finding(models: list[dict], differences: Differences, ctx: Context) -> Finding:
    claim = "LSTM and GRU are close, and both clearly ahead of the RNN"
    cells: dict[tuple, dict[str, dict]] = {}
    for m in models:
        cells.setdefault((m["layers"], m["column"]), {}).setdefault(str(m["type"]).upper(), m)
    full = {cell: kinds for cell, kinds in cells.items() if {"LSTM", "GRU", "RNN"} <= set(kinds)}
    if not full:
        return Finding(claim, "cannot say", "no depth and budget has all three types",
                       why="no depth and budget has an LSTM, a GRU and an RNN")
    verdicts, words, numbers, example = [], [], {}, None
    for (layers, column), kinds in full.items():
        lstm, gru, rnn = (kinds[k]["name"] for k in ("LSTM", "GRU", "RNN"))
        leads = {"LSTM": differences.get(rnn, lstm), "GRU": differences.get(rnn, gru)}
        gap = differences.get(lstm, gru)
        verdict, why = family_verdict(leads, gap)
        where = f"{layers} layer{'s' if layers != 1 else ''} {column}"
        verdicts.append((where, verdict, why))
        words.append(f"{where}: LSTM {kinds['LSTM']['nats']:.3f}, GRU {kinds['GRU']['nats']:.3f}, RNN "
                     f"{kinds['RNN']['nats']:.3f}; lead over the RNN LSTM {span(leads['LSTM'])}, GRU {span(leads['GRU'])}; "
                     f"LSTM - GRU {span(gap)}")
        numbers.update({f"{rnn} - {lstm}": leads["LSTM"].to_dict(), f"{rnn} - {gru}": leads["GRU"].to_dict(),
                        f"{lstm} - {gru}": gap.to_dict()})
        example = gap
    verdict = combine([v for _, v, _ in verdicts])
    why = "; ".join(f"{where}: {reason}" for where, v, reason in verdicts if v != "holds")
    if verdict == "differs":
        why = f"{why}; {ctx.why_differs()}"
    ahead = sum(v == "holds" for _, v, _ in verdicts)
    return Finding(claim, verdict, f"holds in {ahead} of {len(full)} depths and budgets: " + "; ".join(words), "",
                   numbers, test_words("each paired loss difference", example)
                   + "; holds where both leads over the RNN lie above 0 and the LSTM - GRU interval lies within "
                     "plus or minus the smaller lead's lower end", why)


def family_verdict(leads: dict[str, Interval], gap: Interval) -> tuple[str, str]:
    """The verdict of one depth and budget on the LSTM's and GRU's ``leads`` over the RNN (RNN loss less theirs)
    and the ``gap`` between them (LSTM loss less the GRU's)."""
    if gap.count < MIN_COUNT:
        return "cannot say", f"only {gap.count:,} {CASES}, fewer than {MIN_COUNT}"
    behind = [kind for kind, lead in leads.items() if lead.below(0)]
    if behind:
        return "differs", f"the RNN is ahead of the {' and the '.join(behind)}"
    smaller_low, smaller_high = min(lead.low for lead in leads.values()), min(lead.high for lead in leads.values())
    if gap.low > smaller_high or gap.high < -smaller_high:
        return "differs", "LSTM and GRU lie further apart than the smaller lead over the RNN"
    if not all(lead.above(0) for lead in leads.values()):
        return "cannot say", "a lead's interval covers 0"
    if -smaller_low < gap.low and gap.high < smaller_low:
        return "holds", ""
    return "cannot say", "the LSTM - GRU interval reaches beyond the smaller lead's lower end"


def apart_finding(result: dict, ctx: Context) -> Finding:
    claim = "the RNNs' predictions lie apart from the LSTMs' and GRUs' (t-SNE of agreement)"
    apart = result.get("apart")
    if not apart:
        return Finding(claim, "cannot say", "needs two gated models (LSTM, GRU) and one RNN",
                       why="the comparison has fewer than two LSTMs and GRUs or no RNN")
    excess = Interval.from_dict(apart["excess"])
    ratio, near, far = apart["ratio"], 1 - apart["within"], 1 - apart["across"]
    verdict, why = direction(excess, cases=CASES)
    times = far / near if near > 0 else float("inf")
    if verdict == "differs":
        why = (f"the RNNs lie {times:.2f} times as far from the LSTMs and GRUs as these from each other, under the "
               f"{ratio:g} the test asks; {ctx.why_differs()}")
    ours = (f"mean agreement among LSTMs and GRUs {apart['within']:.3f}, between them and the RNNs "
            f"{apart['across']:.3f}: distance (1 - agreement) {far:.3f} against {near:.3f}, {times:.2f} times; "
            f"distance less {ratio:g} times theirs {excess.words(cases=CASES)}")
    return Finding(claim, verdict, ours, "", {"excess": excess.to_dict(), "within": apart["within"],
                                              "across": apart["across"], "ratio": ratio},
                   f"the RNNs lie apart when their distance (1 - agreement) to the LSTMs and GRUs is at least "
                   f"{ratio:g} times the LSTMs' and GRUs' distance to each other: "
                   + test_words(f"(1 - across) - {ratio:g} (1 - within) per position", excess) + ", above 0", why)
