"""Beyond the paper: does ablating a discovered cell cost more than ablating a random unit of its layer?

The analysis decides each unit on each set of positions
(``analyses/ablation.py``): it **stands out** when the lower end of its loss
change's 95% interval lies above the 95th percentile of the random units'
changes, is **within random** when the upper end lies below it, and
otherwise, or on fewer than ``MIN_COUNT`` positions, cannot say. A unit's
finding combines the sets of the features it was found tracking (all
positions when it was named by hand).
"""

from __future__ import annotations

from rnnlens.analyses.intervals import MIN_COUNT, Interval
from rnnlens.report.readings.common import Context, Finding, Reading, Table, combine, signed

OVERALL = "all positions"
AS_FINDING = {"stands out": "holds", "within random": "differs", "cannot say": "cannot say"}


def read_ablation(results: list[dict], ctx: Context) -> Reading:
    reading = Reading()
    for result in results:
        model = result["model"].get("run_dir", "").rsplit("/", 1)[-1]
        randoms = ", ".join(f"{len(units)} of {key}" for key, units in result["random"]["units"].items())
        reading.tables.append(Table(
            f"{model}: each unit {result['replacement']['words']} at every position; loss change (nats/char) "
            f"with its 95% interval, against the 95th percentile of random units ({randoms}), each replaced alike",
            ["unit", "positions", "count", "loss change", "95% CI", "random p95", "verdict"],
            [[unit["unit"], name, f"{effect['positions']:,}", signed(effect["delta"]["estimate"]),
              f"[{signed(effect['delta']['low'])}, {signed(effect['delta']['high'])}]",
              "-" if effect["random_p95"] is None else signed(effect["random_p95"]), effect["verdict"]]
             for unit in result["units"] for name, effect in unit["feature"].items()]))
        reading.findings += [unit_finding(unit, result, model) for unit in result["units"]]
    return reading


def why_not(effect: dict) -> str:
    """Why a unit does not stand out on one set of positions."""
    if effect["verdict"] == "within random":
        return "the interval lies below the random units' 95th percentile"
    if effect["positions"] < MIN_COUNT:
        return f"only {effect['positions']} positions, fewer than {MIN_COUNT}"
    return "the interval covers the random units' 95th percentile"


def unit_finding(unit: dict, result: dict, model: str) -> Finding:
    """One unit's finding over its feature sets: holds where it stands out on every one."""
    sets = {name: e for name, e in unit["feature"].items() if name != OVERALL} or \
        {OVERALL: unit["feature"][OVERALL]}
    verdict = combine([AS_FINDING[e["verdict"]] for e in sets.values()])
    words = [f"{name}: {Interval.from_dict(e['delta']).words(unit=' nats', cases='positions')} against random "
             f"p95 {'-' if e['random_p95'] is None else signed(e['random_p95'])}: {e['verdict']}"
             for name, e in sets.items()]
    why = [f"{name}: {why_not(e)}" for name, e in sets.items() if e["verdict"] != "stands out"]
    return Finding(
        f"{model}: ablating {unit['unit']} ({result['replacement']['words']}) raises the loss on "
        f"{', '.join(sets)} more than ablating a random unit of its layer", verdict, "; ".join(words),
        numbers={name: {"delta": e["delta"], "random_p95": e["random_p95"], "positions": e["positions"]}
                 for name, e in sets.items()},
        test=f"{result['random']['rule']}; a unit holds where it stands out on every set of its features",
        why="; ".join(why))
