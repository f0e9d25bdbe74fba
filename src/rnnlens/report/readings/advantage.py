"""Figure 4 (right): the characters on which one model surely leads another most, and whether those of the first
include the characters that need long context."""

from __future__ import annotations

from rnnlens.analyses.intervals import Interval
from rnnlens.report.readings.common import LONG_CONTEXT_CHARS, Context, Finding, Reading, Table, num

NEEDED = 2  # long-context characters among a model's top that make "include characters that need long context"


def lead_words(interval: Interval, sign: int) -> str:
    """The lead of the model a table is about (``sign`` -1 turns A's advantage into B's), with its interval."""
    if sign > 0:
        return interval.words(cases="occurrences")
    flipped = Interval(-interval.estimate, -interval.high, -interval.low, interval.count, interval.method,
                       interval.level)
    return flipped.words(cases="occurrences")


def listed(found: list[str], chars: dict, sign: int) -> str:
    """Each character of ``found`` with its lead and interval, or ``none``."""
    return "; ".join(f"{chars[c]['label']} {lead_words(Interval.from_dict(chars[c]['advantage']), sign)}"
                     for c in found) or "none"


def read_advantage(results: list[dict], ctx: Context) -> Reading:
    result = results[0]
    a, b = result["models"]
    chars = {c["char"]: c for c in result["characters"]}
    reading = Reading()
    for sign, (name, other) in ((1, (a, b)), (-1, (b, a))):
        reading.tables.append(Table(
            f"where {name} leads {other} most: mean p(true char); top: {result['top_rule']}",
            ["char", "count", name, other, f"{name} - {other}"],
            [[chars[c]["label"], f"{chars[c]['count']:,}", num(chars[c]["mean_prob"][name]),
              num(chars[c]["mean_prob"][other]), lead_words(Interval.from_dict(chars[c]["advantage"]), sign)]
             for c in result["top"][name]]))
    reading.findings.append(long_context_finding(result, chars, ctx))
    return reading


def long_context_finding(result: dict, chars: dict, ctx: Context) -> Finding:
    """Holds when at least ``NEEDED`` of A's top characters need long context; differs when as many of B's do
    and fewer of A's."""
    a, b = result["models"]
    claim = (f"{a}'s largest advantages over {b} include characters that need long context (newline, quotes, "
             "brackets, spaces)")
    mine, theirs = ([c for c in result["top"][name] if c in LONG_CONTEXT_CHARS] for name in (a, b))
    ours = (f"{len(mine)} of {a}'s top {len(result['top'][a])}: {listed(mine, chars, 1)}; "
            f"{len(theirs)} of {b}'s top {len(result['top'][b])}: {listed(theirs, chars, -1)}")
    numbers = {f"{name}: {chars[c]['label']}": chars[c]["advantage"]
               for name, found in ((a, mine), (b, theirs)) for c in found}
    test = (f"top of each model: {result['top_rule']}; holds when at least {NEEDED} of {a}'s top need long context, "
            f"differs when at least {NEEDED} of {b}'s top do and fewer of {a}'s")
    if len(mine) >= NEEDED and len(theirs) >= NEEDED:
        verdict, why = "partly", f"{b} also surely leads on {len(theirs)} characters that need long context"
    elif len(mine) >= NEEDED:
        verdict, why = "holds", ""
    elif len(theirs) >= NEEDED:
        verdict, why = "differs", f"{b} surely leads on them; {ctx.why_differs()}"
    else:
        verdict, why = "cannot say", (f"only {len(mine)} of {a}'s and {len(theirs)} of {b}'s top characters need "
                                      f"long context, fewer than {NEEDED} either way")
    return Finding(claim, verdict, ours, numbers=numbers, test=test, why=why)
