"""Figure 1: depth, the three families, and where the RNNs lie in the map of agreement."""

from __future__ import annotations

from rnnlens.report.readings.common import Context, Finding, Reading, Table, signed


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
