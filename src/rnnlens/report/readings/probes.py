"""Beyond the paper: what each layer holds of quote, line and bracket features, beyond the character just read.

The probes' scores, control tasks and selectivity (``analyses/probes.py``)
come without an interval, so this reading makes no finding of them: it shows
the table and says so.
"""

from __future__ import annotations

from rnnlens.report.readings.common import Context, Reading, Table, num, signed


def read_probes(results: list[dict], ctx: Context) -> Reading:
    reading = Reading()
    for result in results:
        model = result["info"]["model"].get("run_dir", "").rsplit("/", 1)[-1]
        reading.tables.append(Table(
            f"{model}: linear probes fitted on {result['train']['source']}, scored on {result['test']['source']}; "
            "selectivity = score - control (labels drawn per character type); best unit: the one most correlated "
            "with the feature, probed alone, and its share of the layer's lead over chance. No interval: point "
            "estimates, not findings",
            ["feature", "key", "metric", "score", "control", "selectivity", "best unit", "its score", "share"],
            [[p["feature"], p["key"], p["metric"], num(p["score"]), num(p["control"]), signed(p["selectivity"]),
              str(p["best_unit"]["unit"]), num(p["best_unit"]["score"]), num(p["best_unit"].get("share"))]
             for p in sorted(result["probes"], key=lambda p: (p["feature"], p["key"]))]))
    return reading
