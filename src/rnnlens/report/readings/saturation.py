"""Figure 3: how saturated the gates of each layer are.

Both findings are decided from the intervals the analysis saved
(``analyses/gate_saturation.py``): the first layer is diffuse when the deeper
layers' mean saturated fraction is surely above the first's *and* each gate
of the first layer is surely rarely saturated (under ``rare_bound`` of its
units mostly saturated); some forget gates of layers 2+ are integrators when
at least one unit passes its per-unit test.
"""

from __future__ import annotations

from rnnlens.analyses.intervals import Interval
from rnnlens.report.readings.common import Context, Finding, Reading, Table, combine, direction, pct


def read_saturation(results: list[dict], ctx: Context) -> Reading:
    reading = Reading()
    for result in results:
        model = result["info"].get("model", {}).get("run_dir", "").rsplit("/", 1)[-1]
        reading.tables.append(saturation_table(result, model))
        if result["first_layer"] is None:
            reading.findings.append(Finding("the first layer is less saturated than deeper ones", "cannot say",
                                            f"{model} has one layer", why="one layer: nothing to compare"))
            continue
        reading.findings.append(diffuse_finding(result["first_layer"], result["low"], result["high"], model, ctx))
        if result["integrators"] is not None:
            reading.findings.append(integrators_finding(result["integrators"], result["high"], model, ctx))
    return reading


def saturation_table(result: dict, model: str) -> Table:
    def mostly(count: int, mean: float | None) -> str:
        return str(count) if mean is None else f"{count} (mean {mean:.3f})"
    return Table(
        f"gate saturation of {model}: mean fraction of steps below {result['low']} / above {result['high']}; "
        "units mostly left / right: on over half the steps, with their own mean fraction",
        ["layer", "gate", "units", "mean left", "mean right", "units mostly left", "units mostly right"],
        [[str(r["layer"]), r["gate"], str(r["units"]), f"{r['mean_left']:.3f}", f"{r['mean_right']:.3f}",
          mostly(r["mostly_left"], r["mean_left_of_mostly_left"]),
          mostly(r["mostly_right"], r["mean_right_of_mostly_right"])] for r in result["summary"]])


def share_words(share: Interval) -> str:
    """``31 of 49 (63.3%, 95% CI 48.3% to 76.6%)``."""
    return (f"{round(share.estimate * share.count)} of {share.count} ({pct(share.estimate)}, "
            f"{round(100 * share.level)}% CI {pct(share.low)} to {pct(share.high)})")


def rare_verdict(share: Interval, bound: float) -> str:
    """Holds when the share's interval lies below ``bound``, differs when above it."""
    return "holds" if share.below(bound) else "differs" if share.above(bound) else "cannot say"


def diffuse_finding(first: dict, low: float, high: float, model: str, ctx: Context) -> Finding:
    difference = Interval.from_dict(first["difference"])
    shares = {gate: Interval.from_dict(share) for gate, share in first["mostly_saturated"].items()}
    bound, layer = first["rare_bound"], first["layer"]
    compared, compared_why = direction(difference, cases="units")
    rare = {gate: rare_verdict(share, bound) for gate, share in shares.items()}
    why = [] if compared == "holds" else [f"deeper layers less the first: {compared_why}"]
    why += [f"layer {layer} {gate.replace('_', ' ')}s: {share_words(shares[gate])} mostly saturated, "
            f"{'above' if verdict == 'differs' else 'not surely below'} {pct(bound)}"
            for gate, verdict in rare.items() if verdict != "holds"]
    verdict = combine([compared, combine(list(rare.values()))])  # two parts; the second holds gate by gate
    if verdict == "differs":
        why.append(ctx.why_differs())
    ours = (f"deeper layers' mean saturated fraction less layer {layer}'s: {difference.words(cases='units')}; "
            f"units of layer {layer} mostly saturated: "
            + "; ".join(f"{gate.replace('_', ' ')} {share_words(share)}" for gate, share in shares.items()))
    return Finding(
        f"{model}: the first layer's gates are diffuse: rarely saturated, and less saturated than deeper layers'",
        verdict, ours, numbers={"difference": first["difference"], "first_mean": first["first_mean"],
                                "deeper_mean": first["deeper_mean"], "mostly_saturated": first["mostly_saturated"],
                                "rare_bound": bound},
        test=(f"both parts must hold: the difference in mean saturated fraction (of steps below {low} or above "
              f"{high}) has a {round(100 * difference.level)}% interval by "
              f"{difference.method} above 0; and for each gate of layer {layer} the share of units saturated one "
              f"way on over half the steps has an exact binomial interval below {pct(bound)}"),
        why="; ".join(why))


def integrators_finding(found: dict, high: float, model: str, ctx: Context) -> Finding:
    share, clearest = Interval.from_dict(found["share"]), Interval.from_dict(found["clearest"])
    surely, units, unsure = found["surely_mostly_right"], found["units"], \
        found["units"] - found["surely_mostly_right"] - found["surely_not_mostly_right"]
    if surely:
        verdict, why = "holds", ""
    elif unsure:
        verdict, why = "cannot say", f"no unit's interval lies above 0.5, and {unsure} reach it"
    else:
        verdict, why = "differs", f"every unit's interval lies below 0.5; {ctx.why_differs()}"
    mean = found["mean_right_of_mostly_right"]
    point = (f"{found['mostly_right']} are by point estimate" +
             ("" if mean is None else f", their mean fraction above {high} is {mean:.3f}"))
    layers = f"layer{'s' * (len(found['layers']) > 1)} {', '.join(map(str, found['layers']))}"
    return Finding(
        f"{model}: some forget-gate units of layers 2+ are right-saturated on most steps (near-perfect "
        "integrators)", verdict,
        f"{share_words(share)} forget-gate units of {layers} are above {high} on most steps by a per-unit "
        f"test; {point}; the clearest unit: {clearest.words(signed=False, cases='steps')}",
        numbers={"share": found["share"], "clearest": found["clearest"], "units": units,
                 "mostly_right": found["mostly_right"], "mean_right_of_mostly_right": mean},
        test=f"{found['test']}; holds when at least one unit passes", why=why)
