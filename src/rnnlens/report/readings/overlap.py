"""Figure 4 (left): how many errors the models share.

"Most errors are shared" holds when the interval of the share of error
positions that are errors of two or more models (``error_overlap``: a
bootstrap over the error positions in blocks, since errors come in runs)
lies wholly above one half, differs when wholly below it.
"""

from __future__ import annotations

from rnnlens.analyses.intervals import MIN_COUNT, Interval
from rnnlens.report.readings.common import Context, Finding, Reading, Table, most, pct

CASES = "error positions"


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
    shared = Interval.from_dict(result["shared"])
    everyone = sum(r["count"] for r in regions if len(r["models"]) == len(names)) / any_error
    verdict, why = most(shared, CASES)
    if verdict == "differs":
        why = f"{why}; {ctx.why_differs()}"
    reading.findings.append(Finding(
        "most errors are shared by the models", verdict,
        f"{pct(shared.estimate)} of the {shared.count:,} positions where any model errs are errors of two or more "
        f"models (95% interval {pct(shared.low)} to {pct(shared.high)}), {pct(everyone)} of all {len(names)}", "",
        {"shared": shared.to_dict()},
        f"{round(100 * shared.level)}% interval of the shared share by {shared.method} (errors come in runs, so "
        f"not a binomial of independent positions); holds when it lies above one half, at least {MIN_COUNT} {CASES}",
        why))
    return reading
