"""Figure 5 (left): the LSTM's lead over the 20-gram on closing characters, by distance to the opener."""

from __future__ import annotations

from rnnlens.report.readings.common import Context, Finding, Reading, Table, num, signed


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
