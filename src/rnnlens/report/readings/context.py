"""Beyond the paper: how much context each model uses (its effective context), from the excess-loss intervals.

``analyses/context_curve.py`` saves, per model and distance d, the excess of
the loss seeing only the last d characters over the full-context loss, with
its 95% interval (paired bootstrap over positions). A model's context is
bounded by d when that interval lies wholly below 1% of its full loss (the
analysis's effective context, the smallest such d); it surely uses more
than d characters when the interval lies wholly above 1%. A model with a
fixed context (``ngram-N``, ``nnn-N``: N characters) must be bounded by N: a
check of the method.
"""

from __future__ import annotations

import re

from rnnlens.analyses.intervals import MIN_COUNT, Interval
from rnnlens.report.readings.common import Context, Finding, Reading, Table, direction, num

WITHIN = 0.01  # of the full loss: the analysis's rule
FIXED = re.compile(r"(?:ngram|nnn)-(\d+)")
SHOWN_DISTANCES = (1, 5, 20, 128, 1000)


def read_context(results: list[dict], ctx: Context) -> Reading:
    result = results[0]
    models = result["models"]
    shown = [d for d in result["distances"] if d in SHOWN_DISTANCES]
    reading = Reading([Table(
        f"loss (nats/char) seeing only the last d characters, {result['positions']:,} positions drawn from the "
        "text; the earlier text replaced by a random span of it; effective context: the smallest d whose excess "
        "over full context is surely under 1% of it",
        ["model", "full", *(f"d={d}" for d in shown), "effective context"],
        [[m["name"], num(m["full_nats"]), *(num(p["nats"]) for p in m["curve"] if p["distance"] in shown),
          str(m["effective_context"] or f"beyond {result['distances'][-1]}")] for m in models])])
    reading.findings = [bounded_finding(m, result) for m in models]
    fixed = {m["name"]: int(FIXED.fullmatch(m["name"]).group(1)) for m in models if FIXED.fullmatch(m["name"])}
    if fixed:
        widest = max(fixed.values())
        reading.findings += [beyond_finding(m, widest, result) for m in models if m["name"] not in fixed]
    return reading


def excess_at(model: dict, distance: int) -> Interval:
    return Interval.from_dict(next(p["excess"] for p in model["curve"] if p["distance"] == distance))


def bounded_finding(model: dict, result: dict) -> Finding:
    """The model's loss is within 1% of full context from its effective context on (an n-gram's: by its n)."""
    name, effective, limit = model["name"], model["effective_context"], WITHIN * model["full_nats"]
    fixed = FIXED.fullmatch(name)
    bound = int(fixed.group(1)) if fixed else None
    claim = (f"{name} uses at most its {bound} characters of context (a check of the method)" if fixed else
             f"{name} uses a bounded context: its loss is within 1% of full context from some d up to "
             f"{result['distances'][-1]}")
    test = (f"{result['rule']}; at least {MIN_COUNT} positions" +
            (f"; holds when that d is at most the first distance tried from {bound} on" if fixed else ""))
    if effective is None:
        return Finding(claim, "differs" if fixed else "cannot say",
                       f"no distance up to {result['distances'][-1]} is surely within 1%", test=test,
                       why=f"the excess interval reaches {num(limit, 4)} nats/char at every distance")
    excess = excess_at(model, effective)
    ours = f"effective context {effective}: excess {excess.words(4, unit=' nats', cases='positions')}"
    if excess.count < MIN_COUNT:
        return Finding(claim, "cannot say", ours, test=test, why=f"fewer than {MIN_COUNT} positions")
    reach = None if bound is None else min((d for d in result["distances"] if d >= bound), default=None)
    verdict = "holds" if bound is None or (reach is not None and effective <= reach) else \
        "differs" if reach is not None else "cannot say"
    why = {"holds": "", "differs": f"its effective context {effective} exceeds {reach}, the first distance tried "
                                   f"from its {bound} on", "cannot say": f"no distance of {bound} or more was tried"}
    return Finding(claim, verdict, ours, numbers={"effective_context": effective, "excess": excess.to_dict(),
                                                  "limit_nats": limit}, test=test, why=why[verdict])


def beyond_finding(model: dict, widest: int, result: dict) -> Finding:
    """A model without a fixed context uses more than the widest fixed one: its excess at the largest distance
    up to that width lies above 1% of its full loss."""
    distance = max(d for d in result["distances"] if d <= widest)
    excess = excess_at(model, distance)
    limit = WITHIN * model["full_nats"]
    above = Interval(excess.estimate - limit, excess.low - limit, excess.high - limit, excess.count, excess.method,
                     excess.level)
    verdict, why = direction(above, cases="positions")
    return Finding(
        f"{model['name']} uses more than the {widest} characters a fixed-context model of this report sees",
        verdict, f"excess at d={distance}: {excess.words(4, unit=' nats', cases='positions')}; 1% of its full loss: "
                 f"{num(limit, 4)} nats", numbers={"distance": distance, "excess": excess.to_dict(),
                                                   "limit_nats": limit},
        test=f"holds when the excess's 95% interval at d={distance} lies above 1% of the full loss, at least "
             f"{MIN_COUNT} positions", why=why)
