"""Figure 6: the error onion's rates and shares against the paper's, and what scaling up removes."""

from __future__ import annotations

from rnnlens.report.readings.common import Context, Finding, Reading, Table, pct, against, SHARE_TOLERANCE


def oracle_totals(onion: dict) -> dict[str, int]:
    totals: dict[str, int] = {}
    for s in onion["slices"]:
        totals[s["oracle"]] = totals.get(s["oracle"], 0) + s["removed"]
    return totals


def read_onion(results: list[dict], ctx: Context) -> Reading:
    result = results[0]
    onions = result.get("models", [result])
    reading = Reading()
    totals = [oracle_totals(o) for o in onions]
    oracles = list(dict.fromkeys(k for t in totals for k in t))
    reading.tables.append(Table("errors explained by each oracle, in peeling order (share of the model's errors)",
                                ["oracle", *(o["model"] for o in onions)],
                                [[k, *(f"{t.get(k, 0):,} ({pct(t.get(k, 0) / (o['errors'] or 1))})"
                                       for t, o in zip(totals, onions))] for k in oracles]
                                + [["unexplained", *(f"{o['unexplained']:,}" for o in onions)],
                                   ["error rate", *(pct(o["error_rate"]) for o in onions)]]))
    paper = ctx.paper.get("onion", {})
    roles = ["small", "best"] if len(onions) == 2 else ["best"]
    for role, onion in zip(roles, onions):
        verdict, words = against(onion["error_rate"], paper.get("error_rate", {}).get(role), SHARE_TOLERANCE, pct)
        reading.findings.append(Finding(f"error rate of the {role} model ({onion['model']})", verdict, words))
    big, big_totals = onions[-1], totals[-1]
    for oracle, share in paper.get("shares", {}).items():
        if isinstance(share, float) and oracle in big_totals:
            verdict, words = against(big_totals[oracle] / (big["errors"] or 1), share, SHARE_TOLERANCE, pct)
            reading.findings.append(Finding(f"share of {big['model']}'s errors explained by the {oracle} oracle",
                                            verdict, words))
    if "scaling" in result:
        removed = {s["oracle"]: s["removed_by_big"] for s in result["scaling"]}
        small_ngram = totals[0].get("n-gram", 0)
        top = max(removed, key=removed.get)
        scale = paper.get("scaling", {})
        same = onions[0]["error_rate"] == onions[1]["error_rate"] and not any(removed.values())
        verdict = "cannot say" if same else "holds" if top == "n-gram" and removed[top] else "differs"
        reading.findings.append(Finding(
            "scaling up removes mostly n-gram errors", verdict,
            f"the big model removes {sum(removed.values()):,} of the small one's errors, {removed.get('n-gram', 0):,} "
            f"of them n-gram errors (of the small one's {small_ngram:,}); the most removed category is {top} "
            f"({removed[top]:,})",
            f"paper: {scale.get('removed', 0):,} of {scale.get('of', 0):,}" if scale else ""))
    return reading
