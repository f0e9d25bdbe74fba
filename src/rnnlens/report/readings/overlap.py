"""Figure 4 (left): how many errors the models share."""

from __future__ import annotations

from rnnlens.report.readings.common import Context, Finding, Reading, Table, pct


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
