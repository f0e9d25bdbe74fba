"""Figure 6: the error onion's rates and shares against the paper's, and what scaling up removes.

Error rates and the shares of the best model's errors per oracle get exact
binomial intervals (each position an independent draw) and are set against
the paper's War and Peace numbers within ``SHARE_TOLERANCE`` (``near``);
another corpus has no paper's number. "Scaling up removes mostly n-gram
errors" holds when the binomial interval of the n-gram share of the small
model's errors that the big model does not make lies above one half (more
than all other categories together), and differs when below. When the small
and the big model are the same run, nothing that sets them apart is read.
"""

from __future__ import annotations

from rnnlens.analyses.intervals import MIN_COUNT, binomial_interval
from rnnlens.report.readings.common import SHARE_TOLERANCE, Context, Finding, Reading, Table, against_paper, most, pct

SAME_RUN = "the small and the big model are the same run"
SHARE = " share"  # paper_numbers.toml's key of an oracle's share: "ORACLE share"


def oracle_totals(onion: dict) -> dict[str, int]:
    totals: dict[str, int] = {}
    for s in onion["slices"]:
        totals[s["oracle"]] = totals.get(s["oracle"], 0) + s["removed"]
    return totals


def same_run(small: dict, big: dict) -> bool:
    """Whether two onions are one model's: the same weights' digest, else the same name."""
    digests = small.get("identity", {}).get("sha256"), big.get("identity", {}).get("sha256")
    return digests[0] == digests[1] if digests[0] and digests[1] else small["model"] == big["model"]


def read_onion(results: list[dict], ctx: Context) -> Reading:
    result = results[0]
    onions = result.get("models", [result])
    totals = [oracle_totals(o) for o in onions]
    reading = Reading([onion_table(onions, totals)])
    same = len(onions) == 2 and same_run(*onions)
    roles = ["small", "best"] if len(onions) == 2 else ["best"]
    for role, onion in zip(roles, onions):
        claim = f"error rate of the {role} model ({onion['model']})"
        rate = binomial_interval(onion["errors"], onion["chars"])
        if same:
            reading.findings.append(Finding(claim, "cannot say", pct(rate.estimate), numbers={"ours": rate.to_dict()},
                                            why=SAME_RUN))
            continue
        paper = ctx.paper_value("onion", f"error_rate_{role}")
        reading.findings.append(binomial_words(against_paper(claim, rate, paper, SHARE_TOLERANCE, ctx, share=True,
                                                             cases="characters")))
    big, big_totals = onions[-1], totals[-1]
    for oracle in (key[:-len(SHARE)] for key in ctx.paper.get("onion", {}) if key.endswith(SHARE)):
        share = binomial_interval(big_totals.get(oracle, 0), big["errors"])
        reading.findings.append(binomial_words(against_paper(
            f"share of {big['model']}'s errors explained by the {oracle} oracle", share,
            ctx.paper_value("onion", oracle + SHARE), SHARE_TOLERANCE, ctx, share=True, cases="errors")))
    if "scaling" in result:
        reading.findings.append(scaling_finding(result["scaling"], totals[0], same, ctx))
    return reading


def onion_table(onions: list[dict], totals: list[dict[str, int]]) -> Table:
    """Each oracle's errors and share of the model's errors with its binomial interval, per model."""
    oracles = list(dict.fromkeys(k for t in totals for k in t))

    def cell(count: int, trials: int) -> str:
        share = binomial_interval(count, trials)
        return f"{count:,} ({pct(share.estimate)} [{pct(share.low)}, {pct(share.high)}])"

    return Table("errors explained by each oracle, in peeling order (share of the model's errors [95% binomial "
                 "interval])", ["oracle", *(o["model"] for o in onions)],
                 [[k, *(cell(t.get(k, 0), o["errors"]) for t, o in zip(totals, onions))] for k in oracles]
                 + [["unexplained", *(cell(o["unexplained"], o["errors"]) for o in onions)],
                    ["error rate", *(cell(o["errors"], o["chars"]) for o in onions)]])


def binomial_words(finding: Finding) -> Finding:
    """A finding on a binomial share, its test saying that the interval treats positions as independent."""
    finding.test = f"{finding.test}; the binomial interval treats positions as independent draws"
    return finding


def scaling_finding(scaling: list[dict], small_totals: dict[str, int], same: bool, ctx: Context) -> Finding:
    claim = "scaling up removes mostly n-gram errors"
    removed = {s["oracle"]: s["removed_by_big"] for s in scaling}
    total = sum(removed.values())
    removed_paper, ngram_paper = (ctx.paper_value("onion", k) for k in ("scaling_removed", "scaling_ngram_removed"))
    paper = (f"paper: {ngram_paper:,} of {removed_paper:,} ({pct(ngram_paper / removed_paper)})"
             if removed_paper and ngram_paper else "")
    share = binomial_interval(removed.get("n-gram", 0), total)
    ours = (f"the big model removes {total:,} of the small one's errors, {removed.get('n-gram', 0):,} of them n-gram "
            f"errors (of the small one's {small_totals.get('n-gram', 0):,}): {pct(share.estimate)} (95% interval "
            f"{pct(share.low)} to {pct(share.high)})")
    if same:  # nothing is removed: no share to show
        return Finding(claim, "cannot say", f"the big model is the small one ({small_totals.get('n-gram', 0):,} "
                                            "n-gram errors in both)", paper, {}, why=SAME_RUN)
    verdict, why = most(share, "removed errors")
    if verdict == "differs":
        top = max(removed, key=removed.get)
        why = f"{why} (the most removed category is {top}, {removed[top]:,}); {ctx.why_differs()}"
    return Finding(claim, verdict, ours, paper, {"ngram_share": share.to_dict()},
                   f"{round(100 * share.level)}% exact binomial interval of the n-gram share of the removed errors, "
                   f"treating them as independent draws; holds when it lies above one half (more than every other "
                   f"category together), at least {MIN_COUNT} removed errors", why)
