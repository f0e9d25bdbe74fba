"""Figure 4 (right): the characters on which one model leads another most."""

from __future__ import annotations

from rnnlens.report.readings.common import Context, Finding, Reading, Table, num, signed, LONG_CONTEXT_CHARS


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
