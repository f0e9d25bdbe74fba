"""Figure 5 (left): the LSTM's lead over the 20-gram on closing characters, by distance to the opener.

The paper's finding needs two things of our numbers: the lead grows with
distance (a positive slope over the closers of buckets of at least
``MIN_COUNT``, each bucket weighing as its count), and the first model is
ahead where the other cannot see the opener at all (beyond its context).
"""

from __future__ import annotations

import math

from rnnlens.analyses.intervals import MIN_COUNT, Interval
from rnnlens.report.readings.common import Context, Finding, Reading, Table, direction, num, signed


def span(bucket: dict) -> str:
    return f"{bucket['lo']}-{bucket['hi']}" if bucket["hi"] is not None else f">{bucket['lo'] - 1}"


def lead_cell(interval: dict | None) -> str:
    """``+0.050 [+0.020, +0.080]``; ``-`` for an empty bucket, the bare lead for one closer."""
    if interval is None:
        return "-"
    if not math.isfinite(interval["low"]):
        return signed(interval["estimate"])
    return f"{signed(interval['estimate'])} [{signed(interval['low'])}, {signed(interval['high'])}]"


def finite(interval: Interval) -> dict | None:
    """The interval's dict, None for one that could not be made (no cases): findings.json stays plain JSON."""
    return interval.to_dict() if math.isfinite(interval.estimate) else None


def read_brackets(results: list[dict], ctx: Context) -> Reading:
    result = results[0]
    first, *others = result["models"]
    buckets = [b for b in result["buckets"] if b["count"]]
    rows = [[span(b), f"{b['count']:,}", *(num(b["mean_prob"][m]) for m in result["models"]),
             *(lead_cell(b["lead"][m]) for m in others)] for b in buckets]
    reading = Reading([Table(f"mean probability of the closing {result['pair']!r} by distance to its opener "
                             f"({result['matched']:,} matched); lead: {first} minus each, with its 95% interval; "
                             f"buckets of fewer than {MIN_COUNT} closers do not enter the slope",
                             ["distance", "closers", *result["models"], *(f"{first} - {m}" for m in others)], rows)])
    reading.findings += [trend_finding(result, other, ctx) for other in others]
    return reading


def trend_finding(result: dict, other: str, ctx: Context) -> Finding:
    """Holds when both the slope and the lead beyond ``other``'s context lie above 0; differs when either lies
    below; otherwise cannot say, with why."""
    first, trend = result["models"][0], result["trend"][other]
    slope, beyond = Interval.from_dict(trend["slope"]), Interval.from_dict(trend["beyond"])
    reach = f"{trend['reach']} characters"
    claim = (f"{first}'s lead over {other} on closing {result['pair']!r} grows with the distance to the opener, "
             f"and {first} is ahead beyond {other}'s context ({reach})")
    if math.isfinite(slope.estimate):
        slope_verdict, slope_why = direction(slope, cases="closers")
        slope_words = slope.words(digits=4, unit=" per character", cases="closers")
    else:
        slope_verdict = "cannot say"
        slope_why = f"fewer than two distance buckets hold {MIN_COUNT} closers ({slope.count:,} closers in them)"
        slope_words = "none"
    beyond_verdict, beyond_why = direction(beyond, cases="closers")
    verdicts = {"the slope": (slope_verdict, slope_why), f"the lead beyond {reach}": (beyond_verdict, beyond_why)}
    if all(v == "holds" for v, _ in verdicts.values()):
        verdict, why = "holds", ""
    elif any(v == "differs" for v, _ in verdicts.values()):
        verdict = "differs"
        why = "; ".join(f"{name} lies wholly below 0" for name, (v, _) in verdicts.items() if v == "differs")
        why += f"; {ctx.why_differs()}"
    else:
        verdict = "cannot say"
        why = "; ".join(f"{name}: {w}" for name, (v, w) in verdicts.items() if v != "holds")
    test = (f"least-squares slope of each closer's lead on its distance bucket's centre, over the closers of buckets "
            f"of at least {MIN_COUNT}, and the mean lead over the closers more than {reach} from their opener "
            f"({other}'s context, {trend['reach_from']}); 95% intervals by bootstrap over closers; holds when both "
            "lie above 0, differs when either lies below")
    beyond_words = beyond.words(cases="closers") if math.isfinite(beyond.estimate) else "none (no closer that far)"
    return Finding(claim, verdict, f"slope {slope_words}; lead beyond {reach} {beyond_words}",
                   numbers={"slope": finite(slope), "beyond": finite(beyond), "reach": trend["reach"]},
                   test=test, why=why)
