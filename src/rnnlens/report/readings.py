"""A short reading of each result: its table for the page, and each finding of the paper checked against it.

One function per analysis key (``READINGS``), from the results' JSON (what
``--json`` prints), the paper's numbers and claims of that section
(``paper_numbers.toml``) and the other sections' results, to a ``Reading``.
A finding ``holds`` or ``differs`` (by how much), holds ``partly``, or
``cannot say`` when the results cannot decide it. Numbers are called equal
within ``LOSS_TOLERANCE`` nats/char or ``SHARE_TOLERANCE`` of a fraction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

LOSS_TOLERANCE = 0.05  # nats/char
SHARE_TOLERANCE = 0.05  # absolute, for fractions
LONG_CONTEXT_CHARS = set('\n"()[]{} \t')  # the characters the paper says need long context
SHOWN_ROWS = 16  # rows of a long table on the page (a printed page holds about that many with its figure)


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]]


@dataclass
class Finding:
    claim: str
    verdict: str  # holds, differs, partly, cannot say
    ours: str
    paper: str = ""


@dataclass
class Reading:
    tables: list[Table] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


@dataclass
class Context:
    """What every reading may look at: the dataset, the paper's numbers, every section's results by key."""

    dataset: str | None
    paper: dict
    results: dict[str, list[dict]]  # analysis key -> the JSON of each of its stages

    def paper_value(self, section: str, key: str) -> float | None:
        return self.paper.get(section, {}).get(key, {}).get(self.dataset) if self.dataset else None


def num(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def signed(x: float, digits: int = 3) -> str:
    """``x`` with its sign, ``+0.000`` for what rounds to zero (never ``-0.000``)."""
    return f"{round(x, digits) + 0.0:+.{digits}f}"


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def against(ours: float, paper: float | None, tolerance: float, show: Callable = num) -> tuple[str, str]:
    """The verdict of ``ours`` against the paper's value, and the words saying by how much."""
    if paper is None:
        return "cannot say", f"{show(ours)} (the paper gives no number for this corpus)"
    diff = ours - paper
    verdict = "holds" if abs(diff) <= tolerance else "differs"
    by = signed(diff) if show is num else f"{100 * diff:+.1f} points"
    return verdict, f"{show(ours)} against the paper's {show(paper)} ({by})"


# --- Table 2 -----------------------------------------------------------------------------------------------

def read_table2(results: list[dict], ctx: Context) -> Reading:
    table = results[0]
    by = {(r["family"], r["context"]): r for r in table["rows"]}
    contexts = sorted({r["context"] for r in table["rows"]})
    rows = [[str(n), *(f"{by[(f, n)]['nats']:.3f} ± {by[(f, n)]['std']:.3f}" if (f, n) in by else "-"
                       for f in ("n-gram", "n-NN"))] for n in contexts]
    reading = Reading([Table(f"{table['split']} loss, nats/char ± bootstrap std", ["n", "n-gram", "n-NN"], rows)])
    if ("n-gram", 20) in by:
        verdict, words = against(by[("n-gram", 20)]["nats"], ctx.paper_value("table2", "ngram20"), LOSS_TOLERANCE)
        reading.findings.append(Finding("the 20-gram's test loss", verdict, words))
    small = [n for n in contexts if n <= 3 and ("n-gram", n) in by and ("n-NN", n) in by]
    if small:
        gaps = {n: by[("n-NN", n)]["nats"] - by[("n-gram", n)]["nats"] for n in small}
        worst = max(gaps.values(), key=abs)
        reading.findings.append(Finding(
            "n-gram and n-NN models of the same small n (at most 3) are close", 
            "holds" if abs(worst) <= LOSS_TOLERANCE else "differs",
            ", ".join(f"n={n}: n-NN {signed(g)}" for n, g in gaps.items()) + f" against the n-gram (tolerance "
            f"{LOSS_TOLERANCE})"))
    best = best_model(ctx)
    if best is not None and ("n-gram", 20) in by:
        gain = by[("n-gram", 20)]["nats"] - best["nats"]
        paper_best = ctx.paper_value("table2", "best_rnn")
        paper = "" if paper_best is None else f"paper: {paper_best} against {ctx.paper_value('table2', 'ngram20')}"
        reading.findings.append(Finding(
            "the best recurrent network beats the 20-gram", "holds" if gain > 0 else "differs",
            f"{best['name']} {best['nats']:.3f} against the 20-gram's {by[('n-gram', 20)]['nats']:.3f} "
            f"({'ahead' if gain > 0 else 'behind'} by {abs(gain):.3f})", paper))
    return reading


def best_model(ctx: Context) -> dict | None:
    """The recurrent model of lowest loss in Figure 1's comparison, when it was run."""
    models = [m for r in ctx.results.get("compare", []) for m in r["models"]]
    return min(models, key=lambda m: m["nats"]) if models else None


# --- Figure 1 ----------------------------------------------------------------------------------------------

def read_compare(results: list[dict], ctx: Context) -> Reading:
    result = results[0]
    models = result["models"]
    columns = list(dict.fromkeys(m["column"] for m in sorted(models, key=lambda m: m["params"] or 0)))
    rows = []
    for kind in dict.fromkeys(m["type"] for m in models):
        for layers in sorted({m["layers"] for m in models if m["type"] == kind}):
            cells = {m["column"]: m for m in models if m["type"] == kind and m["layers"] == layers}
            rows.append([f"{kind} {layers}", *(f"{cells[c]['nats']:.3f} ± {cells[c]['std']:.3f}" if c in cells
                                                else "-" for c in columns)])
    reading = Reading([Table(f"loss on {result['text'].get('source')} ({result['text'].get('chars', 0):,} "
                             "characters), nats/char ± bootstrap std, columns by parameter budget",
                             ["model", *columns], rows)])
    reading.findings += [depth_finding(models), family_finding(models), agreement_finding(result)]
    return reading


def depth_finding(models: list[dict]) -> Finding:
    claim = "a depth of at least 2 helps"
    pairs = []
    for m in models:
        deeper = [d for d in models if d["type"] == m["type"] and d["column"] == m["column"] and (d["layers"] or 0) >= 2]
        if m["layers"] == 1 and deeper:
            pairs.append((m, min(deeper, key=lambda d: d["nats"])))
    if not pairs:
        return Finding(claim, "cannot say", "the grid has no 1-layer model with a deeper one of its type and budget")
    better = [(one, deep) for one, deep in pairs if deep["nats"] < one["nats"]]
    verdict = "holds" if len(better) == len(pairs) else "differs" if not better else "partly"
    words = "; ".join(f"{one['type']} {one['column']}: {one['nats']:.3f} -> {deep['nats']:.3f} "
                      f"({signed(deep['nats'] - one['nats'])})" for one, deep in pairs)
    return Finding(claim, verdict, f"deeper is better in {len(better)} of {len(pairs)}: {words}")


def family_finding(models: list[dict]) -> Finding:
    claim = "LSTM and GRU are close, and both clearly ahead of the RNN"
    cells: dict[tuple, dict[str, float]] = {}
    for m in models:
        cells.setdefault((m["layers"], m["column"]), {})[str(m["type"]).upper()] = m["nats"]
    full = {cell: loss for cell, loss in cells.items() if {"LSTM", "GRU", "RNN"} <= set(loss)}
    if not full:
        return Finding(claim, "cannot say", "no depth and budget has all three types")
    lead = {c: loss["RNN"] - max(loss["LSTM"], loss["GRU"]) for c, loss in full.items()}
    ahead = [c for c in full if lead[c] > 0]
    close = [c for c in ahead if abs(full[c]["LSTM"] - full[c]["GRU"]) < lead[c]]
    verdict = "holds" if len(close) == len(full) else "partly" if ahead else "differs"
    words = "; ".join(f"{layers} layer{'s' if layers != 1 else ''} {column}: LSTM {loss['LSTM']:.3f}, "
                      f"GRU {loss['GRU']:.3f}, RNN {loss['RNN']:.3f}" for (layers, column), loss in full.items())
    return Finding(claim, verdict, f"both ahead of the RNN in {len(ahead)} of {len(full)} (closer to each other "
                                   f"than to it in {len(close)}): {words}")


def agreement_finding(result: dict) -> Finding:
    claim = "the RNNs' predictions lie apart from the LSTMs' and GRUs' (t-SNE of agreement)"
    types = [str(m["type"]).upper() for m in result["models"]]
    agreement = result["agreement"]
    gated = [i for i, t in enumerate(types) if t in ("LSTM", "GRU")]
    plain = [i for i, t in enumerate(types) if t == "RNN"]
    within = [agreement[i][j] for i in gated for j in gated if i < j]
    across = [agreement[i][j] for i in gated for j in plain]
    if not within or not across:
        return Finding(claim, "cannot say", "needs two gated models and one RNN")
    a, b = sum(within) / len(within), sum(across) / len(across)
    return Finding(claim, "holds" if a > b else "differs",
                   f"mean agreement among LSTMs and GRUs {a:.3f}, between them and the RNNs {b:.3f}")


# --- Figure 2 ----------------------------------------------------------------------------------------------

def read_cells(results: list[dict], ctx: Context) -> Reading:
    reading = Reading()
    wanted = ("line_position", "in_double_quotes", "in_parentheses", "in_brackets", "in_braces", "indentation")
    for result in results:
        best = result["best"]
        model = result["info"].get("model", {}).get("run_dir", "")
        reading.tables.append(Table(
            f"best unit per feature ({result['quantity']}) of {model.rsplit('/', 1)[-1]}",
            ["feature", "layer", "unit", "score", "chance", "beyond chance", "characters"],
            [[m["feature"], str(m["layer"]), str(m["unit"]), f"{m['metric']} {m['score']:.3f}",
              f"{m['null_score']:.3f}", "yes" if m["beyond_chance"] else "no", f"{m['support']:,}"] for m in best]))
        found = [m["feature"] for m in best if m["beyond_chance"] and m["feature"] in wanted and m["support"] > 0]
        tested = [m["feature"] for m in best if m["feature"] in wanted and m["support"] > 0]
        verdict = "cannot say" if not tested else "holds" if found == tested else "partly" if found else "differs"
        reading.findings.append(Finding(
            "some cells track line length, quotes, brackets or indentation", verdict,
            f"beyond chance: {', '.join(found) or 'none'} (of {', '.join(tested) or 'no such feature in this text'})"))
    return reading


# --- Figure 3 ----------------------------------------------------------------------------------------------

def read_saturation(results: list[dict], ctx: Context) -> Reading:
    reading = Reading()
    for result in results:
        rows = result["summary"]
        model = result["info"].get("model", {}).get("run_dir", "").rsplit("/", 1)[-1]
        reading.tables.append(Table(
            f"gate saturation of {model}: mean fraction of steps below {result['low']} / above {result['high']}",
            ["layer", "gate", "units", "mean left", "mean right", "units mostly left", "units mostly right"],
            [[str(r["layer"]), r["gate"], str(r["units"]), f"{r['mean_left']:.3f}", f"{r['mean_right']:.3f}",
              str(r["mostly_left"]), str(r["mostly_right"])] for r in rows]))
        layers = sorted({r["layer"] for r in rows})
        if len(layers) < 2:
            reading.findings.append(Finding("the first layer is less saturated than deeper ones", "cannot say",
                                            f"{model} has one layer"))
            continue
        saturated = {layer: sum(r["mean_left"] + r["mean_right"] for r in rows if r["layer"] == layer)
                     / sum(1 for r in rows if r["layer"] == layer) for layer in layers}
        first, deeper = saturated[layers[0]], max(saturated[layer] for layer in layers[1:])
        reading.findings.append(Finding(
            f"{model}: the first layer's gates are more diffuse (less saturated) than deeper layers'",
            "holds" if first < deeper else "differs",
            "mean saturated fraction per layer: " + ", ".join(f"{k}: {v:.3f}" for k, v in saturated.items())))
        forget = [r for r in rows if r["gate"] == "forget_gate" and r["layer"] != layers[0]]
        if forget:
            # the paper's claim is about some units (near-perfect integrators), not most: any such unit bears it out
            count, units = sum(r["mostly_right"] for r in forget), sum(r["units"] for r in forget)
            mean_right = sum(r["mean_right"] * r["units"] for r in forget) / units
            reading.findings.append(Finding(
                f"{model}: some forget-gate units of layers 2+ are right-saturated on most steps (near-perfect "
                "integrators)", "holds" if count else "differs",
                f"{count} of {units} forget-gate units of layers 2+ ({count / units:.0%}) are above {result['high']} "
                f"on over half the steps; their mean fraction above it is {mean_right:.3f}"))
    return reading


# --- Figure 4 ----------------------------------------------------------------------------------------------

def read_overlap(results: list[dict], ctx: Context) -> Reading:
    result = results[0]
    names = result["models"]
    regions = sorted(result["regions"], key=lambda r: -r["count"])
    any_error = result["any_error"] or 1
    reading = Reading([Table(
        f"errors (p(true char) < {result['threshold']}) over {result['chars']:,} characters, by who makes them",
        ["models that err", "count", "share of errors"],
        [[" & ".join(r["models"]) if len(r["models"]) < len(names) else "all", f"{r['count']:,}",
          pct(r["count"] / any_error)] for r in regions])])
    shared = sum(r["count"] for r in regions if len(r["models"]) >= 2) / any_error
    everyone = sum(r["count"] for r in regions if len(r["models"]) == len(names)) / any_error
    reading.findings.append(Finding("most errors are shared by the models", "holds" if shared > 0.5 else "differs",
                                    f"{pct(shared)} of the positions where any model errs are errors of two or more "
                                    f"models, {pct(everyone)} of all {len(names)}"))
    return reading


def read_advantage(results: list[dict], ctx: Context) -> Reading:
    result = results[0]
    a, b = result["models"]
    chars = {c["char"]: c for c in result["characters"]}
    reading = Reading()
    for name, other in ((a, b), (b, a)):
        top = result["top"][name]
        reading.tables.append(Table(f"where {name} leads {other} most: mean p(true char)",
                                    ["char", "count", name, other, "advantage"],
                                    [[chars[c]["label"], f"{chars[c]['count']:,}", num(chars[c]["mean_prob"][name]),
                                      num(chars[c]["mean_prob"][other]),
                                      signed(chars[c]['mean_prob'][name] - chars[c]['mean_prob'][other])]
                                     for c in top]))
    lead = [chars[c]["label"] for c in result["top"][a] if c in LONG_CONTEXT_CHARS]
    reading.findings.append(Finding(
        f"{a}'s largest advantages over {b} include characters that need long context (newline, quotes, "
        "brackets, spaces)", "holds" if len(lead) >= 2 else "partly" if lead else "differs",
        f"{len(lead)} of its top {len(result['top'][a])}: {', '.join(lead) or 'none'}"))
    return reading


# --- Figure 5 ----------------------------------------------------------------------------------------------

def read_brackets(results: list[dict], ctx: Context) -> Reading:
    result = results[0]
    first, *others = result["models"]
    buckets = [b for b in result["buckets"] if b["count"]]
    rows = [[f"{b['lo']}-{b['hi']}" if b["hi"] is not None else f">{b['lo'] - 1}", f"{b['count']:,}",
             *(num(b["mean_prob"][m]) for m in result["models"]),
             *(signed(b['mean_prob'][first] - b['mean_prob'][m]) if b["mean_prob"][m] is not None
               and b["mean_prob"][first] is not None else "-" for m in others)] for b in buckets]
    reading = Reading([Table(f"mean probability of the closing {result['pair']!r} by distance to its opener "
                             f"({result['matched']:,} matched)", ["distance", "count", *result["models"],
                                                                   *(f"{first} - {m}" for m in others)], rows)])
    for other in others:
        gains = [b["mean_prob"][first] - b["mean_prob"][other] for b in buckets
                 if b["mean_prob"][first] is not None and b["mean_prob"][other] is not None]
        claim = f"{first}'s gain over {other} grows with the distance, beyond the first bin"
        if len(gains) < 3:
            reading.findings.append(Finding(claim, "cannot say", f"{len(gains)} distance bins hold matches"))
            continue
        later = sum(gains[1:]) / len(gains[1:])
        reading.findings.append(Finding(claim, "holds" if later > gains[0] else "differs",
                                        f"gain {signed(gains[0])} in the first bin, {signed(later)} on average "
                                        "after it"))
    return reading


def evenly(rows: list, most: int) -> list:
    """At most ``most`` of ``rows``, evenly spaced, the first and the last among them."""
    if len(rows) <= most:
        return rows
    return [rows[round(k * (len(rows) - 1) / (most - 1))] for k in range(most)]


def read_dynamics(results: list[dict], ctx: Context) -> Reading:
    reading = Reading()
    for result in results:
        n_of = {a["name"]: a["n"] for a in result["against"]}
        snapshots = result["snapshots"]
        shown = evenly(snapshots, SHOWN_ROWS)
        note = "" if len(shown) == len(snapshots) else \
            f" ({len(shown)} of {len(snapshots)}, evenly spaced; all in dynamics.csv)"
        reading.tables.append(Table(
            f"{str(result['run']).rsplit('/', 1)[-1]}: symmetric KL (nats) to each n-NN, by snapshot{note}",
            ["batch", "epoch", "loss", *n_of, "closest"],
            [[str(s["batch"]), f"{s['epoch']:.2f}", f"{s['loss']:.3f}", *(f"{s['kl'][n]:.3f}" for n in n_of),
              s["closest"]] for s in shown]))
        order = [n_of[s["closest"]] for s in snapshots if n_of.get(s["closest"]) is not None]
        steps = [n for k, n in enumerate(order) if k == 0 or n != order[k - 1]]
        rising = all(b >= a for a, b in zip(order, order[1:]))
        verdict = "cannot say" if len(steps) < 2 else "holds" if rising else "partly" if order[-1] > order[0] else "differs"
        reading.findings.append(Finding(
            "the run resembles the 1-NN first, then n-NNs of growing n", verdict,
            "closest n-NN over training: " + " -> ".join(str(n) for n in steps)))
    return reading


# --- Figure 6 ----------------------------------------------------------------------------------------------

def oracle_totals(onion: dict) -> dict[str, int]:
    totals: dict[str, int] = {}
    for s in onion["slices"]:
        totals[s["oracle"]] = totals.get(s["oracle"], 0) + s["removed"]
    return totals


def read_onion(results: list[dict], ctx: Context) -> Reading:
    result = results[0]
    onions = result.get("models", [result])
    reading = Reading()
    totals = [oracle_totals(o) for o in onions]
    oracles = list(dict.fromkeys(k for t in totals for k in t))
    reading.tables.append(Table("errors explained by each oracle, in peeling order (share of the model's errors)",
                                ["oracle", *(o["model"] for o in onions)],
                                [[k, *(f"{t.get(k, 0):,} ({pct(t.get(k, 0) / (o['errors'] or 1))})"
                                       for t, o in zip(totals, onions))] for k in oracles]
                                + [["unexplained", *(f"{o['unexplained']:,}" for o in onions)],
                                   ["error rate", *(pct(o["error_rate"]) for o in onions)]]))
    paper = ctx.paper.get("onion", {})
    roles = ["small", "best"] if len(onions) == 2 else ["best"]
    for role, onion in zip(roles, onions):
        verdict, words = against(onion["error_rate"], paper.get("error_rate", {}).get(role), SHARE_TOLERANCE, pct)
        reading.findings.append(Finding(f"error rate of the {role} model ({onion['model']})", verdict, words))
    big, big_totals = onions[-1], totals[-1]
    for oracle, share in paper.get("shares", {}).items():
        if isinstance(share, float) and oracle in big_totals:
            verdict, words = against(big_totals[oracle] / (big["errors"] or 1), share, SHARE_TOLERANCE, pct)
            reading.findings.append(Finding(f"share of {big['model']}'s errors explained by the {oracle} oracle",
                                            verdict, words))
    if "scaling" in result:
        removed = {s["oracle"]: s["removed_by_big"] for s in result["scaling"]}
        small_ngram = totals[0].get("n-gram", 0)
        top = max(removed, key=removed.get)
        scale = paper.get("scaling", {})
        same = onions[0]["error_rate"] == onions[1]["error_rate"] and not any(removed.values())
        verdict = "cannot say" if same else "holds" if top == "n-gram" and removed[top] else "differs"
        reading.findings.append(Finding(
            "scaling up removes mostly n-gram errors", verdict,
            f"the big model removes {sum(removed.values()):,} of the small one's errors, {removed.get('n-gram', 0):,} "
            f"of them n-gram errors (of the small one's {small_ngram:,}); the most removed category is {top} "
            f"({removed[top]:,})",
            f"paper: {scale.get('removed', 0):,} of {scale.get('of', 0):,}" if scale else ""))
    return reading


READINGS: dict[str, Callable[[list[dict], Context], Reading]] = {
    "table2": read_table2, "compare": read_compare, "cells": read_cells, "saturation": read_saturation,
    "overlap": read_overlap, "advantage": read_advantage, "brackets": read_brackets, "dynamics": read_dynamics,
    "onion": read_onion,
}


def reading_for(key: str, results: list[dict], ctx: Context) -> Reading:
    """The reading of ``results``; a result without the keys a reading expects gets one finding saying so."""
    reader = READINGS.get(key)
    if reader is None or not results:
        return Reading()
    try:
        return reader(results, ctx)
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as err:
        return Reading(findings=[Finding("reading this result", "cannot say",
                                         f"its JSON lacks what the reading expects ({type(err).__name__}: {err})")])
