"""Figure 2: cells that track line length, quotes, brackets, indentation."""

from __future__ import annotations

from rnnlens.report.readings.common import Context, Finding, Reading, Table


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
