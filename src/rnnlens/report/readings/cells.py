"""Figure 2: cells that track line length, quotes, brackets, indentation.

The analysis decides each feature (``interpretable_cells.cell_verdict``): its
best unit tracks it when the 95% interval of the unit's score lies above
chance and above the least strength of an interpretable cell. Here the
features the paper names are put together; a feature on at fewer than
``MIN_COUNT`` characters or stretches of this text is no test of the claim,
and is named apart.
"""

from __future__ import annotations

from rnnlens.analyses.intervals import MIN_COUNT, Interval
from rnnlens.report.readings.common import Context, Finding, Reading, Table, combine

WANTED = ("line_position", "in_double_quotes", "in_parentheses", "in_brackets", "in_braces", "indentation")
AS_FINDING = {"tracks": "holds", "does not track": "differs", "cannot say": "cannot say"}


def read_cells(results: list[dict], ctx: Context) -> Reading:
    reading = Reading()
    for result in results:
        model = result["info"].get("model", {}).get("run_dir", "").rsplit("/", 1)[-1]
        reading.tables.append(Table(
            f"best unit per feature ({result['quantity']}) of {model}: score with its 95% interval, chance (the "
            "best unit against the feature shifted along the text), where the feature is on",
            ["feature", "layer", "unit", "score", "95% CI", "chance", "characters", "stretches", "verdict"],
            [[m["feature"], str(m["layer"]), str(m["unit"]), f"{m['metric']} {m['score']:.3f}",
              f"[{m['interval']['low']:.3f}, {m['interval']['high']:.3f}]", f"{m['null_score']:.3f}",
              f"{m['support']:,}", f"{m['events']:,}", m["verdict"]] for m in result["best"]]))
        reading.findings.append(cells_finding(result, ctx))
    return reading


def feature_words(match: dict) -> str:
    """``line_position |r| 0.886, 95% CI [0.883, 0.889], 19,999 positions (chance 0.065; 19,584 characters in
    327 stretches): tracks``."""
    interval = Interval.from_dict(match["interval"])
    return (f"{match['feature']} {match['metric']} {interval.words(signed=False, cases='positions')} "
            f"(chance {match['null_score']:.3f}; {match['support']:,} characters in {match['events']:,} "
            f"stretches): {match['verdict']}")


def cells_finding(result: dict, ctx: Context) -> Finding:
    claim = "some cells track line length, quotes, brackets or indentation"
    present = [m for m in result["best"] if m["feature"] in WANTED and m["support"] > 0]
    decided = [m for m in present if min(m["support"], m["events"]) >= MIN_COUNT]
    scarce = [f"{m['feature']} ({m['support']:,} characters in {m['events']:,} stretches)"
              for m in present if m not in decided]
    aside = f"too rare in this text to decide: {', '.join(scarce)}" if scarce else ""
    test = (f"per feature, the best unit's score (|r| for a numeric feature, AUC for an on/off one) with its 95% "
            f"interval by bootstrap over positions in blocks; a unit tracks its feature when the interval lies above "
            f"chance (the best unit's score against the feature shifted along the text, the highest of "
            f"{len(result['chance']['shifts'])} shifts) and above the least strength of an interpretable cell "
            f"({', '.join(f'{k} {v}' for k, v in result['chance']['min_strength'].items())}); a feature on at "
            f"fewer than {MIN_COUNT} characters or stretches decides nothing; holds when every feature decided is "
            "tracked")
    if not decided:
        why = aside or "none of these features occurs in this text"
        return Finding(claim, "cannot say", why, test=test, why=why)
    verdict = combine([AS_FINDING[m["verdict"]] for m in decided])
    why = [f"{m['feature']}: {m['why']}" for m in decided if m["verdict"] != "tracks"]
    if verdict == "differs":
        why.append(ctx.why_differs())
    numbers = {m["feature"]: {"score": m["interval"], "chance": m["null_score"], "min_strength": m["min_strength"],
                              "characters": m["support"], "stretches": m["events"]} for m in decided}
    return Finding(claim, verdict, "; ".join(feature_words(m) for m in decided) + (f"; {aside}" if aside else ""),
                   numbers=numbers, test=test, why="; ".join(why))
